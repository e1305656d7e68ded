"""``gateway parse --json`` and ``--ndjson``: the parse written out as it is produced.

The ``--json`` document has the shape it always had: the whole-file parse result,
``{"interchanges": [{"interchange": ..., "groups": [{"group": ..., "transactions": [...]}]}],
"findings": [...]}``, each model in ``to_jsonable``'s view (``schemas/json`` has their JSON
Schemas). It is written from the event stream, never held whole: envelope headers when they
open, a transaction's fields when its header loops are read, every claim as soon as it is
complete, the fields after ``claims`` (an 835's provider adjustments) when the transaction
ends, and the findings last (they are complete only then). Memory stays flat however many claims
the file holds.

A transaction's header fields are written when its first claim arrives. A file that repeats a
header segment (N1, BPR, TRN, BHT) after its claims changes the header afterwards; the whole-file
parse would show the later value. ``Document.late_changes`` counts such transactions so the
caller can say so.

``--ndjson`` writes one line per claim: ``{"interchange", "group", "transaction" (its fields
without ``claims``), "claim"}``. Provider adjustments and findings are not claims and are left
out; ``--json`` has them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import parsers
from parsers.result import Transaction
from schemas import Claim, ClaimPayment, ClaimSubmission, Remittance
from schemas.envelope import FunctionalGroup, Interchange
from schemas.fast_serialize import dumps, jsonable

#: flush the output after this many bytes are pending
CHUNK = 1 << 20


def _split_fields(txn: Transaction) -> tuple[dict[str, Any], dict[str, Any]]:
    """A transaction's fields before ``claims`` and after it, without the claims."""
    view = jsonable(txn)
    items = (
        view.items()
        if isinstance(view, dict)
        else ((f.name, getattr(txn, f.name)) for f in dataclasses.fields(txn))
    )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    target = before
    for name, value in items:
        if name == "claims":
            target = after
            continue
        target[name] = value
    return before, after


class _List:
    """One JSON array being written, item by item, in today's layout (``json.dumps`` indent 2)."""

    def __init__(self, emit: Callable[[bytes], None], depth: int, pretty: bool) -> None:
        self.emit = emit
        self.count = 0
        self.pretty = pretty
        self.inner = b"\n" + b"  " * (depth + 1) if pretty else b""
        self.outer = b"\n" + b"  " * depth if pretty else b""
        emit(b"[")

    def item(self) -> bytes:
        """What goes before the next item (write it together with the item)."""
        self.count += 1
        return self.inner if self.count == 1 else b"," + self.inner

    def close(self) -> None:
        self.emit(self.outer + b"]" if self.count else b"]")


class Document:
    """Writes the ``--json`` document through ``emit`` while the events of one file stream by."""

    def __init__(self, emit: Callable[[bytes], None], pretty: bool = False) -> None:
        self.emit = emit
        self.pretty = pretty
        self.late_changes = 0
        self._claims: _List | None = None
        self._txn: Transaction | None = None
        self._written: bytes = b""
        self._stack: list[_List] = []

    def _key(self, name: str, depth: int, first: bool) -> bytes:
        sep = b"" if first else b","
        if self.pretty:
            return sep + b"\n" + b"  " * depth + b'"' + name.encode() + b'": '
        return sep + b'"' + name.encode() + b'":'

    def _dump(self, obj: Any, depth: int) -> bytes:
        return dumps(obj, indent=depth if self.pretty else -1)

    def _open_object(self, first_key: str, value: Any, list_key: str, depth: int) -> None:
        """``{"first_key": value, "list_key": [`` at ``depth`` (the object's own level)."""
        self.emit(
            b"{"
            + self._key(first_key, depth + 1, True)
            + self._dump(value, depth + 1)
            + self._key(list_key, depth + 1, False)
        )
        self._stack.append(_List(self.emit, depth + 1, self.pretty))

    def _close_object(self, depth: int) -> None:
        self._stack.pop().close()
        self.emit(b"\n" + b"  " * depth + b"}" if self.pretty else b"}")

    def start(self) -> None:
        self.emit(b"{" + self._key("interchanges", 1, True))
        self._stack.append(_List(self.emit, 1, self.pretty))

    def interchange(self, ic: Interchange) -> None:
        self.emit(self._stack[-1].item())
        self._open_object("interchange", ic, "groups", 2)

    def group(self, grp: FunctionalGroup) -> None:
        self.emit(self._stack[-1].item())
        self._open_object("group", grp, "transactions", 4)

    def transaction(self, txn: Transaction) -> None:
        self.emit(self._stack[-1].item())
        before, _ = _split_fields(txn)
        self._written = dumps(before)
        body = self._dump(before, 6)
        # the fields' object without its closing brace, then the claims array
        body = body[: body.rindex(b"}")].rstrip() if before else b"{"
        self.emit(body + self._key("claims", 7, not before))
        self._claims = _List(self.emit, 7, self.pretty)
        self._txn = txn

    def claim(self, claim: Claim | ClaimPayment) -> None:
        assert self._claims is not None
        self.emit(self._claims.item() + self._dump(claim, 8))

    def transaction_end(self) -> None:
        if self._txn is None or self._claims is None:
            return  # a set this gateway does not handle: it is not in the document
        self._claims.close()
        before, after = _split_fields(self._txn)
        if dumps(before) != self._written:
            self.late_changes += 1
        for name, value in after.items():
            self.emit(self._key(name, 7, False) + self._dump(value, 7))
        self.emit(b"\n" + b"  " * 6 + b"}" if self.pretty else b"}")
        self._txn = self._claims = None

    def group_end(self) -> None:
        self._close_object(4)

    def interchange_end(self) -> None:
        self._close_object(2)

    def finish(self, findings: list[parsers.Finding]) -> None:
        self._stack.pop().close()
        self.emit(
            self._key("findings", 1, False)
            + self._dump([f.as_dict() for f in findings], 1)
            + (b"\n}\n" if self.pretty else b"}\n")
        )

    def feed(self, events: Iterable[parsers.Event]) -> None:
        """Write the document of one file's events (``start`` and ``finish`` not included)."""
        for ev in events:
            if isinstance(ev, ClaimPayment | Claim):
                self.claim(ev)
            elif isinstance(ev, Remittance | ClaimSubmission):
                self.transaction(ev)
            elif isinstance(ev, parsers.TransactionEnd):
                self.transaction_end()
            elif isinstance(ev, Interchange):
                self.interchange(ev)
            elif isinstance(ev, FunctionalGroup):
                self.group(ev)
            elif isinstance(ev, parsers.GroupEnd):
                self.group_end()
            elif isinstance(ev, parsers.InterchangeEnd):
                self.interchange_end()


def write_document(
    reader: parsers.X12Reader, emit: Callable[[bytes], None], pretty: bool = False
) -> Document:
    """Stream the whole ``--json`` document of ``reader``'s file through ``emit``."""
    doc = Document(emit, pretty)
    doc.start()
    doc.feed(reader)
    doc.finish(reader.findings.items)
    return doc


def ndjson_lines(events: Iterable[parsers.Event]) -> Iterator[bytes]:
    """One JSON line per claim, with its interchange, group and transaction (without claims)."""
    prefix = b""
    ic = grp = b"null"
    for ev in events:
        if isinstance(ev, ClaimPayment | Claim):
            yield prefix + dumps(ev) + b"}\n"
        elif isinstance(ev, Remittance | ClaimSubmission):
            before, after = _split_fields(ev)
            after.pop("provider_adjustments", None)  # known only at the end of the transaction
            txn = dumps({**before, **after})
            prefix = (
                b'{"interchange":'
                + ic
                + b',"group":'
                + grp
                + b',"transaction":'
                + txn
                + b',"claim":'
            )
        elif isinstance(ev, Interchange):
            ic = dumps(ev)
        elif isinstance(ev, FunctionalGroup):
            grp = dumps(ev)


class Output:
    """Batches small writes into ``CHUNK``-sized ones for a binary stream."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self._parts: list[bytes] = []
        self._size = 0

    def __call__(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._write(b"".join(self._parts))
            self._parts = []
            self._size = 0
