"""Whose file an upload is, read from its bytes as they arrive (issue 17, item 1).

``scan`` follows the X12 segments of an upload one at a time (only a partial segment in
memory) and notes, per transaction, the providers it names exactly as the parsers and the
loader would key them: the 835 payee (N1*PE, REF*TJ), the 837 billing provider (NM1*85,
REF*EI). The upload endpoint refuses a foreign file with it before anything is stored; the
binding rules that use its answer are in ``gateway.ingest.binding``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from gateway.ingest.rows import provider_identity
from parsers.errors import X12Error
from parsers.x12.isa import read_isa
from parsers.x12.lexer import DEFAULT_LIMITS
from schemas import Entity
from schemas.common import Reference

_WS = b" \t\r\n\x00\x1a\x0b\x0c"
_INDENT = b" \t\x00\x0b\x0c"
#: bytes kept to read an ISA (fixed width is 106; a variable-width one is a little longer)
_ISA_WINDOW = 1024
_BOM = b"\xef\xbb\xbf"


def provider_key(entity: Entity | None) -> str | None:
    """The ``providers.key`` the loader files ``entity`` under (None: no NPI and no TIN)."""
    npi, tin, _ = provider_identity(entity)
    if npi:
        return f"npi:{npi}"
    return f"tin:{tin}" if tin else None


@dataclass
class Transaction:
    """The providers one transaction set names, with where it names them."""

    kind: str
    control_number: str
    #: file-level segment number of its ST (the parser's numbering: ISA is 1)
    st_segment: int
    #: provider key (None: an entity with neither NPI nor TIN) → first segment naming it
    named: dict[str | None, int] = field(default_factory=dict)
    #: the segment id naming them (N1 for an 835 payee, NM1 for an 837 billing provider)
    segment_id: str = ""


@dataclass
class Scan:
    """What ``scan`` found; ``readable`` is False when it could not follow the segments."""

    transactions: list[Transaction] = field(default_factory=list)
    readable: bool = True
    reason: str = ""

    def verdict(self, own: str) -> str | None:
        """Why a key of provider ``own`` may not upload this (None: it may)."""
        if not self.readable:
            return f"its segments cannot be read to find whose file it is ({self.reason})"
        if not self.transactions:
            return f"it holds no 835 or 837 transaction naming provider {own}"
        foreign = {k for t in self.transactions for k in t.named if k != own}
        bad = [t for t in self.transactions if not t.named or set(t.named) != {own}]
        if not bad:
            return None
        others = len(foreign - {None})
        parts = []
        if others:
            parts.append(f"{others} other provider{'s' if others != 1 else ''}")
        if None in foreign or any(not t.named for t in bad):
            parts.append("no identifiable provider")
        first = bad[0]
        where = (
            f"first in transaction {first.control_number} (ST segment {first.st_segment}"
            + (f", {first.segment_id} segment {min(first.named.values())}" if first.named else "")
            + ")"
        )
        return (
            f"{len(bad)} of {len(self.transactions)} transaction(s) name "
            f"{' and '.join(parts)} instead of provider {own}, {where}"
        )


class _Scanner:
    """Segment-at-a-time state machine mirroring what the 835/837 parsers take as provider."""

    def __init__(self) -> None:
        self.result = Scan()
        self.count = 0
        self.tx: Transaction | None = None
        self.entity: Entity | None = None
        self.payee: tuple[Entity, int] | None = None
        self.billing: tuple[Entity, int] | None = None
        self.in_claim = False

    def segment(self, els: list[str]) -> None:
        self.count += 1
        tag = els[0]
        if tag == "ST":
            kind = els[1] if len(els) > 1 else ""
            self.tx = Transaction(
                kind,
                els[2] if len(els) > 2 else "",
                self.count,
                segment_id="N1" if kind == "835" else "NM1",
            )
            self.entity = self.payee = self.billing = None
            self.in_claim = False
            return
        tx = self.tx
        if tx is None:
            return
        if tag == "SE":
            if tx.kind == "835" and self.payee is not None:
                self._name(self.payee)
            self.result.transactions.append(tx)
            self.tx = None
        elif tx.kind == "835":
            self._segment_835(tag, els)
        elif tx.kind == "837":
            self._segment_837(tag, els)

    def _name(self, found: tuple[Entity, int]) -> None:
        assert self.tx is not None
        self.tx.named.setdefault(provider_key(found[0]), found[1])

    def _ref(self, els: list[str]) -> None:
        if self.entity is not None:
            self.entity.references.append(
                Reference(els[1] if len(els) > 1 else "", els[2] if len(els) > 2 else "")
            )

    def _segment_835(self, tag: str, els: list[str]) -> None:
        if tag == "N1":
            els += [""] * (5 - len(els))
            self.entity = Entity(entity_code=els[1], name="", id_qualifier=els[3], id=els[4])
            if els[1] == "PE":
                self.payee = (self.entity, self.count)
        elif tag == "REF":
            if not self.in_claim:
                self._ref(els)
        elif tag == "CLP":
            self.in_claim = True
        elif tag == "PLB":
            self.in_claim = False

    def _segment_837(self, tag: str, els: list[str]) -> None:
        if tag == "NM1":
            els += [""] * (10 - len(els))
            self.entity = Entity(els[1], "", "", "", els[8], els[9])
            if not self.in_claim and els[1] == "85":
                self.billing = (self.entity, self.count)
        elif tag == "REF":
            if not self.in_claim:
                self._ref(els)
        elif tag == "HL":
            self.in_claim = False
            self.entity = None
            if len(els) > 3 and els[3] == "20":
                self.billing = None
        elif tag == "CLM":
            self.in_claim = True
            self.entity = None
            if self.billing is None:
                assert self.tx is not None
                self.tx.named.setdefault(None, self.count)
            else:
                self._name(self.billing)


def _isa_window(buf: bytes, it: Iterator[bytes], eof: bool, first: bool) -> tuple[bytes, bool]:
    """``buf`` filled to an ISA's length (or the stream's end), leading space and a first BOM
    dropped; and whether the stream has ended."""

    def tidy(b: bytes) -> bytes:
        if first and b.startswith(_BOM):
            b = b[len(_BOM) :]
        return b.lstrip(_WS)

    buf = tidy(buf)
    while len(buf) < _ISA_WINDOW and not eof:
        nxt = next(it, None)
        if nxt is None:
            eof = True
        else:
            buf = tidy(buf + nxt)
    return buf, eof


def _strip(raw: bytes, drop: tuple[bytes, ...]) -> bytes:
    for ch in drop:
        raw = raw.replace(ch, b"")
    return raw


def scan(chunks: Iterable[bytes], *, max_segment: int = DEFAULT_LIMITS.max_segment_length) -> Scan:
    """The providers an X12 stream names, per transaction, holding one segment at a time.

    Delimiters come from each ISA through the lexer's own ``read_isa``; CR/LF and indentation
    are dropped as the lexer drops them. Anything it cannot follow (a segment longer than the
    parser allows, a non-ASCII delimiter, a broken ISA) makes the scan unreadable: the caller
    refuses rather than guesses.
    """
    sc = _Scanner()
    buf = b""
    isa = True  # expecting an ISA (at the start and after each IEA)
    term = elem = b""
    drop: tuple[bytes, ...] = ()
    first = True
    it = iter(chunks)
    eof = False
    while True:
        if isa:
            buf, eof = _isa_window(buf, it, eof, first)
            if not buf:
                break
            try:
                delims, elements, after, _fixed = read_isa(buf, 0, first=first)
            except X12Error as exc:
                return Scan(sc.result.transactions, False, exc.reason)
            first = False
            if any(
                len(d) != 1 or not d.isascii()
                for d in (delims.element, delims.segment, delims.component)
            ):
                return Scan(sc.result.transactions, False, "non-ASCII delimiters")
            term, elem = delims.segment.encode(), delims.element.encode()
            drop = (b"\n",) if term == b"\r" else (b"\r",) if term == b"\n" else (b"\r", b"\n")
            sc.segment(elements)
            buf = buf[after:]
            isa = False
            continue
        cut = buf.find(term)
        if cut < 0:
            if eof:
                rest = _strip(buf, drop)
                if rest.strip(_WS):  # an unterminated last segment: the parser reads it too
                    sc.segment(rest.lstrip(_INDENT).decode("latin-1").split(elem.decode()))
                break
            if len(buf) > max_segment:
                return Scan(
                    sc.result.transactions, False, f"a segment is longer than {max_segment} bytes"
                )
            nxt = next(it, None)
            if nxt is None:
                eof = True
            else:
                buf += nxt
            continue
        raw, buf = buf[:cut], buf[cut + 1 :]
        raw = _strip(raw, drop).lstrip(_INDENT)
        els = raw.decode("latin-1").split(elem.decode())
        sc.segment(els)
        if els[0] == "IEA":
            isa = True
    return sc.result


__all__ = ["Scan", "Transaction", "provider_key", "scan"]
