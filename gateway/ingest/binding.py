"""Files bound to the provider of the key that uploaded them (issue 17, item 1).

An uploader key acts for one provider (``npi:…``/``tin:…``). Everything it uploads must belong
to that provider: every 835 transaction's payee (N1*PE, REF*TJ) and every 837 claim's billing
provider (NM1*85, REF*EI) must resolve to the key's provider *exactly as the loader keys it*
(NPI first, else TIN; see ``gateway.ingest.rows.provider_identity``), and a ledger it uploads is
the key's provider's ledger.

Two checks enforce this:

- ``scan`` reads the upload's segments as a stream (one partial segment in memory) before
  anything is stored, so a foreign file is refused with 403 ``provider_mismatch``;
- the loader, in the worker, compares each transaction's parsed provider with the providers of
  the scoped keys that uploaded the file (``bound_providers``) and quarantines on a mismatch
  (defence in depth: the scan is a second, simpler reader of the same bytes).

Keys without a provider (ops, auditor) and the other channels (SFTP, inbox, CLI) are unbound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.errors import PermanentError
from gateway.ingest.provider_scan import provider_key, scan
from schemas import Entity, TransactionHeader

CODE = "provider_mismatch"


class ProviderMismatchError(PermanentError):
    """A file names a provider other than the one of the key that uploaded it."""

    code = CODE


def check_transaction(
    bound: frozenset[str],
    entity: Entity | None,
    header: TransactionHeader | None,
    segment_id: str,
    claim_segment: int | None,
) -> None:
    """Refuse (before the provider row is even created) a transaction of another provider
    than the ``bound`` ones (the providers of the scoped keys that uploaded the file).

    ``claim_segment`` is the CLM's segment number within its transaction (837 claims).
    """
    key = provider_key(entity)
    if not mismatch(bound, key):
        return
    if header is None:  # a claim outside any transaction: the parser raised before
        raise ProviderMismatchError("a claim outside a transaction set")
    if claim_segment is not None:
        claim_segment += header.segment_index - 1
    what = "payee (N1*PE)" if segment_id == "N1" else "billing provider (NM1*85)"
    own = " or ".join(sorted(bound))
    raise ProviderMismatchError(
        f"transaction {header.control_number} (ST segment {header.segment_index}): its "
        f"{what} {'is not identified' if key is None else 'is another provider'}; this file "
        f"was uploaded by a key of provider {own}, so nothing of it was loaded",
        location={
            "segment_number": claim_segment or header.segment_index,
            "segment_id": "CLM" if claim_segment else "ST",
            "transaction_control_number": header.control_number,
            "st_segment_number": header.segment_index,
        },
    )


def provider_for_key(session: Session, key: str) -> int:
    """The id of the provider keyed ``key`` (``npi:…``/``tin:…``), created on first sight."""
    p = tbl(Provider)
    kind, _, value = key.partition(":")
    values = {
        "key": key,
        "npi": value if kind == "npi" else None,
        "tin": value if kind == "tin" else None,
        "name": "",
    }
    insert = (
        postgresql.insert(p)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(p)
    )
    session.execute(insert.values(values).on_conflict_do_nothing(index_elements=["key"]))
    return int(session.execute(select(p.c.id).where(p.c.key == key)).scalar_one())


def bound_providers(session: Session, file_id: int) -> frozenset[str]:
    """Providers of the provider-scoped keys that uploaded ``file_id`` (empty: unbound)."""
    from gateway.api.tables import ApiKey, ApiUpload  # the registry's table, no FastAPI

    rows = session.execute(
        select(ApiKey.provider_key)
        .join(ApiUpload, ApiUpload.api_key_id == ApiKey.id)
        .where(ApiUpload.file_id == file_id, ApiKey.provider_key.is_not(None))
    ).scalars()
    return frozenset(k for k in rows if k)


def key_of_provider(session: Session, provider_id: int) -> str | None:
    p = tbl(Provider)
    key: str | None = session.execute(
        select(p.c.key).where(p.c.id == provider_id)
    ).scalar_one_or_none()
    return key


def mismatch(bound: frozenset[str], key: str | None) -> bool:
    """True when a transaction of provider ``key`` may not load for keys of ``bound``."""
    return bool(bound) and (key is None or bound != {key})


def locate(
    data: bytes | Callable[[], BinaryIO], error: ProviderMismatchError, bound: frozenset[str]
) -> tuple[str, dict[str, Any] | None]:
    """The loader's verdict made precise by a scan: the N1/NM1 segment, and how many.

    ``data`` is the file, or an opener of a stream of it (scanned in pieces).
    """
    where: dict[str, Any] | None = dict(error.location) or None
    if where is None or len(bound) != 1:
        return error.message, where
    if isinstance(data, bytes):
        found = scan([data])
    else:
        with data() as stream:
            found = scan(iter(lambda: stream.read(1 << 20), b""))
    st = where.get("st_segment_number")
    for tx in found.transactions:
        if tx.st_segment != st:
            continue
        (own,) = bound
        segs = [n for k, n in tx.named.items() if k != own]
        if segs:
            where = {**where, "segment_number": min(segs), "segment_id": tx.segment_id}
        break
    verdict = found.verdict(next(iter(bound)))
    return (f"{error.message} ({verdict})" if verdict else error.message), where


__all__ = [
    "CODE",
    "ProviderMismatchError",
    "bound_providers",
    "check_transaction",
    "key_of_provider",
    "locate",
    "mismatch",
    "provider_for_key",
]
