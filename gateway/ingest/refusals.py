"""Why a file is refused: each way processing can fail, turned into its located quarantine reason.

The ingest service (``gateway.ingest.service``) runs the load; what the store, the parser, the
loader and the database raise while it does is classified here as a ``QuarantineError`` with a
specific code, message and X12 location. Where the parser has its own verdict on the whole file
(a fatal error or an error finding further on), that verdict is preferred.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

import parsers
from gateway.errors import GatewayError
from gateway.ingest import acks as file_acks
from gateway.ingest import binding
from gateway.ingest.load_stats import LoadStats
from gateway.ingest.loader import DuplicateInterchangeError, Loader
from gateway.ingest.resend_check import RemittanceConflictError
from gateway.ingest.store_stream import StoreReadError, drain
from gateway.store.base import RawStore


class QuarantineError(Exception):
    """A file refused: its quarantine code, message and X12 location (None: not located)."""

    def __init__(
        self,
        code: str,
        message: str,
        location: dict[str, Any] | None,
        kind: str | None = None,
        *,
        parser_first: bool = False,
        parse_error: parsers.X12Error | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.location = code, message, location
        self.kind = kind
        #: the parser's own verdict on the whole file, if it has one, replaces this one
        self.parser_first = parser_first
        #: the fatal parse error, when it is one: the acks (TA1/999) are rendered from it
        self.parse_error = parse_error


def head_and_ledger(store: RawStore, sha256: str) -> tuple[bytes, bytes | None]:
    """The stored file's first bytes, and its whole bytes when it is not X12: X12 is parsed
    from the store's stream (memory flat at any size), a ledger is a CSV of ordinary size."""
    try:
        head = file_acks.head(lambda: store.open(sha256))
        return head, None if file_acks.is_x12(head) else store.read(sha256)
    except GatewayError as exc:
        raise QuarantineError(exc.code, exc.message, None) from exc


def refuse_on_errors(findings: list[parsers.Finding]) -> None:
    """A file whose parse found errors is quarantined with the first, located."""
    errors = [f for f in findings if f.severity == parsers.ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise QuarantineError(first.code, first.message + more, first.location.as_dict())


def refused(
    exc: IntegrityError | DataError, store: RawStore, sha256: str
) -> tuple[QuarantineError | None, bool]:
    """Why the database refused the file's rows (None: our bug, not the file's), and whether
    that is the parser's verdict on the whole file."""
    if isinstance(exc, IntegrityError):
        if any(
            name in str(exc.orig)
            for name in ("uq_interchanges_identity", "interchanges.control_number")
        ):
            # another worker committed the same interchange between our check and our insert
            dup = QuarantineError(
                "duplicate_interchange",
                "TA1 note 025 (duplicate interchange control number): the "
                "interchange was loaded concurrently from another file",
                None,
            )
            return dup, False
        return None, False
    # a value too long or too large: prefer the parser's own (located) verdict when it has one
    verdict = parser_verdict(store, sha256)
    if verdict is not None:
        return verdict, True
    bad = QuarantineError(
        "value_out_of_range",
        f"a value does not fit its column (too long or too large): {type(exc.orig).__name__}",
        None,
    )
    return bad, False


def run_loader(loader: Loader, opened: file_acks.Source, bound: frozenset[str]) -> LoadStats:
    """Stream the stored X12 through ``loader``; each way a file can fail becomes its located
    quarantine reason."""
    try:
        with file_acks.opened(opened) as src:
            try:
                return loader.run(src)
            except parsers.X12Error:
                drain(src)  # stored bytes that fail their sha256 say so first
                raise
    except StoreReadError as exc:
        raise QuarantineError(exc.error.code, exc.error.message, None) from exc
    except parsers.X12Error as exc:
        raise QuarantineError(
            exc.code, exc.reason, exc.location.as_dict(), parse_error=exc
        ) from exc
    except DuplicateInterchangeError as exc:
        raise QuarantineError(exc.code, exc.message, exc.location) from exc
    except binding.ProviderMismatchError as exc:
        message, where = binding.locate(opened, exc, bound)
        raise QuarantineError(exc.code, message, where) from exc
    except RemittanceConflictError as exc:
        # found while streaming: a fatal X12 error further on still comes first
        raise QuarantineError(exc.code, exc.message, exc.location, parser_first=True) from exc


def parser_verdict(store: RawStore, sha256: str) -> QuarantineError | None:
    """Parse without loading: the first fatal error or error finding, if any."""
    with store.open(sha256) as stream:
        reader = parsers.stream(stream)
        try:
            for _ in reader:
                pass
        except parsers.X12Error as exc:
            return QuarantineError(exc.code, exc.reason, exc.location.as_dict())
    errors = [f for f in reader.findings.items if f.severity == parsers.ERROR]
    if errors:
        return QuarantineError(errors[0].code, errors[0].message, errors[0].location.as_dict())
    return None
