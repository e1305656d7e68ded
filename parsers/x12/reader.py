"""The envelope layer: ISA/GS/ST framing, control-number and count checks, dispatch.

``X12Reader`` turns bytes into a flat event stream::

    Interchange, FunctionalGroup, (Remittance|ClaimSubmission), ClaimPayment|ProviderAdjustment|
    Claim ..., TransactionEnd, ..., GroupEnd, ..., InterchangeEnd, ...

Envelope problems become findings carrying the TA1 / 999 code that reports them; structural
damage that makes the rest unreadable raises a typed ``X12Error``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from parsers.claim_837 import parse_837
from parsers.errors import ERROR, WARNING, Finding, Location, StructureError, TruncatedError
from parsers.remittance_835 import parse_835
from parsers.x12.context import Findings, TxContext
from parsers.x12.envelopes import (
    EnvelopeScan,
    InboundGroup,
    InboundInterchange,
    InboundTransaction,
)
from parsers.x12.events import GroupEnd, InterchangeEnd, TransactionEnd
from parsers.x12.guides import GUIDES, transaction_kind
from parsers.x12.lexer import DEFAULT_LIMITS, Lexer, Limits
from parsers.x12.stream_lexer import StreamLexer
from parsers.x12.values import date6, date8
from schemas.claim import Claim, ClaimSubmission
from schemas.envelope import FunctionalGroup, Interchange, TransactionHeader
from schemas.remittance import ClaimPayment, ProviderAdjustment, Remittance

Event = (
    Interchange
    | FunctionalGroup
    | Remittance
    | ClaimSubmission
    | ClaimPayment
    | ProviderAdjustment
    | Claim
    | TransactionEnd
    | GroupEnd
    | InterchangeEnd
)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small objects.

    Millions of short-lived containers make the collector rescan a growing heap again and again
    (measured: 7x slower splitting on a 43 MB file). Our objects hold no reference cycles, so
    reference counting frees them; the collector is restored however the parse ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class X12Reader:
    """Stream the events of an X12 file; ``findings`` fills as the stream is consumed.

    ``data`` is the whole file as bytes, or a binary stream read in bounded windows (memory
    flat whatever the size; the caller opens and closes it). ``envelopes`` fills too: every
    ISA/GS/ST it read and the text of the segments of element-level (IK4) findings, which is
    what the acknowledgments need, so they never read the file again.
    """

    def __init__(self, data: bytes | BinaryIO, limits: Limits = DEFAULT_LIMITS) -> None:
        self.lexer: Lexer | StreamLexer
        self.findings = Findings()
        self.envelopes = EnvelopeScan([], {})
        if isinstance(data, bytes | bytearray | memoryview):
            self.lexer = Lexer(bytes(data), limits)
        else:
            lexer = self.lexer = StreamLexer(data, limits)
            # a stream's old windows are gone by the end: locate findings while theirs is held
            self.findings.on_add = lambda f: self._pin(lexer, f)
        self.segment_count = 0

    def _pin(self, lexer: StreamLexer, f: Finding) -> None:
        number = f.location.segment_number
        if number:
            texts = self.envelopes.segments if f.ack_level == "IK4" else None
            hit = lexer.locate((number,), recent_only=True, texts=texts).get(number)
            if hit is not None:
                f.location.byte_offset, f.location.line = hit

    def __iter__(self) -> Iterator[Event]:
        with _gc_paused():
            yield from self._events()
        self._resolve_offsets()

    def _finding(
        self, code: str, message: str, loc: Location, level: str, ack: str, severity: str = ERROR
    ) -> None:
        self.findings.add(Finding(code, message, severity, loc, level, ack))

    def _events(self) -> Iterator[Event]:  # noqa: C901 - the reader hot loop (bench)
        lexer = self.lexer
        it = iter(lexer)
        number = 0
        ic: Interchange | None = None
        grp: FunctionalGroup | None = None
        groups_in_ic = 0
        sets_in_group = 0
        seen_st: set[str] = set()
        for seg in it:
            number += 1
            d = lexer.delimiters
            els = seg.split(d.element)
            tag = els[0]
            # at most 3 characters, like the lexer's: a junk "tag" can be a whole line of PHI
            loc = Location(segment_number=number, segment_id=tag[:3])
            if tag == "ST":
                if grp is None or ic is None:
                    raise StructureError("ST outside a functional group (no GS)", loc)
                els += [""] * (4 - len(els))
                sets_in_group += 1
                guide = els[3] or grp.version
                kind = transaction_kind(els[1], guide)
                header = TransactionHeader(
                    transaction_set=els[1],
                    control_number=els[2],
                    implementation_reference=els[3],
                    kind=kind or els[1],
                    interchange_control_number=ic.control_number,
                    group_control_number=grp.control_number,
                    segment_index=number,
                )
                loc.interchange_control_number = ic.control_number
                loc.group_control_number = grp.control_number
                loc.transaction_control_number = els[2]
                loc.transaction_segment_number = 1
                if not els[2]:
                    self._finding("missing_control_number", "ST02 is required", loc, "IK5", "7")
                elif els[2] in seen_st:
                    self._finding(
                        "duplicate_st_control_number",
                        f"ST02 {els[2]} repeats within the functional group",
                        loc,
                        "IK5",
                        "23",
                    )
                seen_st.add(els[2])
                if els[3] and els[3] != grp.version:
                    self._finding(
                        "version_mismatch",
                        f"ST03 {els[3]} differs from GS08 {grp.version}",
                        loc,
                        "IK5",
                        "I6",
                        WARNING,
                    )
                ctx = TxContext(d, header, self.findings, number)
                tx = InboundTransaction(els[1], els[2], els[3], number)
                self.envelopes.interchanges[-1].groups[-1].transactions.append(tx)
                if kind == "835":
                    count, se = yield from parse_835(it, ctx)
                elif kind:
                    count, se = yield from parse_837(it, ctx, kind)
                else:
                    self._finding(
                        "unsupported_transaction",
                        f"transaction set {els[1]!r} is not handled by this gateway "
                        "(835 and 837 are)",
                        loc,
                        "IK5",
                        "1",
                    )
                    count, se = self._skip_transaction(it, ctx)
                number += count - 1
                tx.end = number
                self._check_se(ctx, count, se)
                yield TransactionEnd(header, count, 0)
            elif tag == "GS":
                if ic is None:
                    raise StructureError("GS outside an interchange (no ISA)", loc)
                if grp is not None:
                    raise StructureError(f"GS before the GE of group {grp.control_number}", loc)
                els += [""] * (9 - len(els))
                day = None
                try:
                    day = date8(els[4]) if els[4] else None
                except ValueError as exc:
                    self._finding("bad_date", f"GS04 {exc}", loc, "AK9", "", WARNING)
                grp = FunctionalGroup(els[1], els[2], els[3], day, els[5], els[6], els[8], number)
                self.envelopes.interchanges[-1].groups.append(InboundGroup(els[:9], number))
                groups_in_ic += 1
                sets_in_group = 0
                seen_st = set()
                if els[8] not in GUIDES:
                    self._finding(
                        "unsupported_version",
                        f"GS08 {els[8]!r} is not a supported 5010 implementation guide "
                        f"(supported: {', '.join(GUIDES)})",
                        loc,
                        "AK9",
                        "2",
                    )
                yield grp
            elif tag == "GE":
                if grp is None:
                    raise StructureError("GE without a GS", loc)
                els += [""] * (3 - len(els))
                if els[1] != str(sets_in_group):
                    self._finding(
                        "group_count_mismatch",
                        f"GE01 says {els[1] or 'nothing'} transaction sets, "
                        f"the group has {sets_in_group}",
                        loc,
                        "AK9",
                        "5",
                    )
                if els[2] != grp.control_number:
                    self._finding(
                        "group_control_mismatch",
                        f"GE02 {els[2]!r} does not match GS06 {grp.control_number!r}",
                        loc,
                        "AK9",
                        "4",
                    )
                envelope = self.envelopes.interchanges[-1].groups[-1]
                envelope.end, envelope.ge01 = number, els[1]
                yield GroupEnd(grp, sets_in_group)
                grp = None
            elif tag == "ISA":
                if ic is not None:
                    raise StructureError(
                        f"ISA before the IEA of interchange {ic.control_number}", loc
                    )
                ic = self._interchange(number, loc)
                self.envelopes.interchanges.append(
                    InboundInterchange(list(lexer.isa_elements), d, number)
                )
                groups_in_ic = 0
                yield ic
            elif tag == "IEA":
                if ic is None:
                    raise StructureError("IEA without an ISA", loc)
                if grp is not None:
                    raise TruncatedError(
                        f"functional group {grp.control_number} is not closed by GE before IEA", loc
                    )
                els += [""] * (3 - len(els))
                if els[1] != str(groups_in_ic):
                    self._finding(
                        "interchange_count_mismatch",
                        f"IEA01 says {els[1] or 'nothing'} functional groups, "
                        f"the interchange has {groups_in_ic}",
                        loc,
                        "TA1",
                        "021",
                    )
                if els[2] != ic.control_number:
                    self._finding(
                        "interchange_control_mismatch",
                        f"IEA02 {els[2]!r} does not match ISA13 {ic.control_number!r}",
                        loc,
                        "TA1",
                        "001",
                    )
                self.envelopes.interchanges[-1].end = number
                yield InterchangeEnd(ic, groups_in_ic)
                ic = None
            else:
                where = "outside a transaction set" if ic is not None else "outside an interchange"
                raise StructureError(f"segment {tag[:10]!r} {where}", loc)
        self.segment_count = number
        if ic is not None:
            what = f"group {grp.control_number} (no GE)" if grp else "the interchange (no IEA)"
            raise TruncatedError(
                f"file ends inside {what}",
                Location(segment_number=number, interchange_control_number=ic.control_number),
            )

    def _interchange(self, number: int, loc: Location) -> Interchange:
        e = self.lexer.isa_elements
        loc.interchange_control_number = e[13]
        day = None
        try:
            day = date6(e[9])
        except ValueError as exc:
            self._finding("bad_isa_date", f"ISA09 {exc}", loc, "TA1", "014")
        if not (len(e[13]) == 9 and e[13].isdigit()):
            self._finding(
                "bad_isa_control_number", f"ISA13 {e[13]!r} must be 9 digits", loc, "TA1", "018"
            )
        if e[14] not in ("0", "1"):
            self._finding("bad_ack_requested", f"ISA14 {e[14]!r} must be 0 or 1", loc, "TA1", "019")
        if e[15] not in ("P", "T", "I"):
            self._finding(
                "bad_usage_indicator", f"ISA15 {e[15]!r} must be P or T", loc, "TA1", "020"
            )
        if e[12] != "00501":
            self._finding(
                "unsupported_isa_version", f"ISA12 {e[12]!r} is not 00501", loc, "TA1", "017"
            )
        if not self.lexer.isa_fixed_width:
            self._finding(
                "isa_not_fixed_width",
                "ISA is not the fixed 106 characters the standard requires",
                loc,
                "TA1",
                "",
                WARNING,
            )
        return Interchange(
            sender_qualifier=e[5],
            sender_id=e[6].strip(),
            receiver_qualifier=e[7],
            receiver_id=e[8].strip(),
            date=day,
            time=e[10],
            control_number=e[13],
            version=e[12],
            ack_requested=e[14] == "1",
            usage_indicator=e[15],
            delimiters=self.lexer.delimiters,
            segment_index=number,
        )

    def _skip_transaction(self, it: Iterator[str], ctx: TxContext) -> tuple[int, list[str]]:
        sep = ctx.delimiters.element
        n = 1
        for seg in it:
            n += 1
            els = seg.split(sep)
            if els[0] == "SE":
                return n, els
            if els[0] in ("ST", "GE", "GS", "IEA", "ISA"):
                raise StructureError(
                    f"transaction {ctx.header.control_number} is not closed by SE before {els[0]}",
                    ctx.location(n, els[0]),
                )
        raise TruncatedError(
            f"file ends inside transaction {ctx.header.control_number} (no SE)",
            ctx.location(n, "SE"),
        )

    def _check_se(self, ctx: TxContext, count: int, se: list[str]) -> None:
        se += [""] * (3 - len(se))
        loc = ctx.location(count, "SE")
        if se[1] != str(count):
            self.findings.add(
                Finding(
                    "segment_count_mismatch",
                    f"SE01 says {se[1] or 'nothing'} segments, transaction "
                    f"{ctx.header.control_number} has {count}",
                    ERROR,
                    loc,
                    "IK5",
                    "4",
                )
            )
        if se[2] != ctx.header.control_number:
            self.findings.add(
                Finding(
                    "transaction_control_mismatch",
                    f"SE02 {se[2]!r} does not match ST02 {ctx.header.control_number!r}",
                    ERROR,
                    loc,
                    "IK5",
                    "3",
                )
            )

    def _resolve_offsets(self) -> None:
        """Fill byte offsets and line numbers of findings in one pass over the input."""
        items = [f for f in self.findings.items if f.location.segment_number]
        if not items:
            return
        texts: dict[int, str] = {}
        where = self.lexer.locate((f.location.segment_number for f in items), texts=texts)
        segments = self.envelopes.segments
        for f in items:
            number = f.location.segment_number
            hit = where.get(number)
            if hit is not None:
                f.location.byte_offset, f.location.line = hit
            if f.ack_level == "IK4" and number not in segments and number in texts:
                segments[number] = texts[number]
