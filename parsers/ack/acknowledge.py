"""Build every acknowledgment owed for one received file: TA1s and 999s, as bytes.

Deterministic: the output depends only on the input bytes, the parse outcome, the first control
number and ``now``. Acknowledgments take consecutive control numbers (ISA13 = GS06 of a 999)
starting at ``control_number``, in file order, TA1 before the 999s of its interchange;
``Acknowledgments.next_control_number`` is the one to persist for the next file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import BinaryIO

from parsers.ack.envelope import (
    check_control_number,
    fixed_isa,
    next_control_number,
    safe_delimiters,
    scan,
)
from parsers.ack.ta1 import INVALID_CONTENT, error_note, findings_note, render_ta1
from parsers.ack.x999 import answerable, render_999
from parsers.errors import DelimiterError, EmptyInputError, Finding, NotX12Error, X12Error
from parsers.result import ParseResult
from parsers.x12.envelopes import InboundInterchange
from parsers.x12.isa import bom_length, prepare


@dataclass(frozen=True, slots=True)
class Acknowledgment:
    """One outbound acknowledgment interchange."""

    kind: str  # "TA1" or "999"
    #: ISA13 of the interchange acknowledged, and GS06 of the group (999 only)
    interchange_control_number: str
    group_control_number: str
    #: our own ISA13 (and GS06) of this acknowledgment
    control_number: int
    #: TA104 or AK901
    status: str
    #: TA105 note code (TA1 only)
    note: str
    content: bytes


@dataclass(slots=True)
class Acknowledgments:
    """Everything owed for one file, in the order the control numbers were taken."""

    all: list[Acknowledgment] = field(default_factory=list)
    next_control_number: int = 1

    @property
    def ta1(self) -> list[Acknowledgment]:
        return [a for a in self.all if a.kind == "TA1"]

    @property
    def x999(self) -> list[Acknowledgment]:
        return [a for a in self.all if a.kind == "999"]


def acknowledge(
    data: bytes | BinaryIO | None,
    result_or_error: ParseResult | X12Error,
    *,
    control_number: int,
    now: dt.datetime,
) -> Acknowledgments:
    """TA1s (when ISA14=1 or the envelope is bad) and one 999 per functional group.

    ``result_or_error`` is what ``parsers.parse(data)`` (or ``check``) returned or raised. Its
    envelopes, recorded by that parse, are used when it has them, so the file is not read
    again; ``data`` may then be ``None``. Otherwise (a fatal error, or a result built without
    envelopes) ``data`` is scanned. A fatal error yields
    at most a TA1 (R) for the interchange it happened in, and only when its ISA can be read;
    interchanges before it are not acknowledged (their findings were lost with the parse), so
    the caller should treat the whole file as rejected. Groups of acknowledgments (GS01 FA)
    are never acknowledged; a group a 999 cannot name (non-HIPAA GS01, GS06 not numeric) gets
    no 999 and makes the TA1 report 024 when nothing else is wrong with the envelope.
    """
    check_control_number(control_number)
    out = Acknowledgments(next_control_number=control_number)
    if isinstance(result_or_error, X12Error):
        if data is None:
            raise ValueError("a fatal parse error is acknowledged from the file's bytes")
        # a rejected file: its header is sliced by offset, so it is read whole here
        _fatal(out, data if isinstance(data, bytes) else data.read(), result_or_error, now)
        return out
    findings = result_or_error.findings
    envelopes = result_or_error.envelopes
    if envelopes is None:
        if data is None:
            raise ValueError("a parse result without envelopes is acknowledged from the bytes")
        want = frozenset(
            f.location.segment_number
            for f in findings
            if f.ack_level == "IK4" and f.location.segment_number
        )
        envelopes = scan(data, want)
    starts = [(ic.start, ic.end or 1 << 62) for ic in envelopes.interchanges]
    per_ic: list[list[Finding]] = [[] for _ in envelopes.interchanges]
    for f in findings:
        n = f.location.segment_number
        for i, (start, end) in enumerate(starts):
            if start <= n <= end:
                per_ic[i].append(f)
                break
    for ic, ic_findings in zip(envelopes.interchanges, per_ic, strict=True):
        _interchange(out, ic, ic_findings, envelopes.segments, now)
    return out


def _take(out: Acknowledgments) -> int:
    number = out.next_control_number
    out.next_control_number = next_control_number(number)
    return number


def _interchange(
    out: Acknowledgments,
    ic: InboundInterchange,
    findings: list[Finding],
    segments: dict[int, str],
    now: dt.datetime,
) -> None:
    delimiters = safe_delimiters(ic.delimiters)
    status, note = findings_note(findings)
    groups = [g for g in ic.groups if g.functional_id != "FA"]
    unanswerable = [g for g in groups if not answerable(g)]
    if unanswerable and status == "A":
        status, note = "E", INVALID_CONTENT
    if ic.isa[14] == "1" or status != "A":
        number = _take(out)
        out.all.append(
            Acknowledgment(
                "TA1",
                ic.control_number,
                "",
                number,
                status,
                note,
                render_ta1(
                    ic.isa, delimiters, status=status, note=note, control_number=number, now=now
                ),
            )
        )
    for group in groups:
        if group in unanswerable:
            continue
        end = group.end or 1 << 62
        mine = [f for f in findings if group.start <= f.location.segment_number <= end]
        number = _take(out)
        content, ak901 = render_999(
            ic, group, mine, segments, delimiters, control_number=number, now=now
        )
        out.all.append(
            Acknowledgment(
                "999", ic.control_number, group.control_number, number, ak901, "", content
            )
        )


def _fatal(out: Acknowledgments, data: bytes, exc: X12Error, now: dt.datetime) -> None:
    if isinstance(exc, EmptyInputError | NotX12Error):
        return  # no ISA to answer
    envelopes = scan(data)
    isa: list[str] | None = None
    delimiters = None
    head = b""
    if envelopes.error is None and envelopes.interchanges:
        n = exc.location.segment_number
        hit = [ic for ic in envelopes.interchanges if ic.start <= n] or envelopes.interchanges
        target = hit[-1] if n else envelopes.interchanges[-1]
        isa, delimiters = target.isa, target.delimiters
    elif isinstance(exc, DelimiterError) or not envelopes.interchanges:
        # the failing ISA is the first one, or a later one whose delimiters are unusable
        # locations count from the original input; ``prepared`` has the BOM stripped
        offset = max((exc.location.byte_offset or 0) - bom_length(data), 0)
        try:
            prepared = prepare(data)
        except X12Error:
            return
        head = prepared[offset : offset + 110]
        isa = fixed_isa(head)
    else:
        # the lexer stopped inside a later interchange: answer the last one it started
        target = envelopes.interchanges[-1]
        isa, delimiters = target.isa, target.delimiters
    if isa is None:
        return
    note = error_note(exc, head)
    number = _take(out)
    out.all.append(
        Acknowledgment(
            "TA1",
            isa[13].strip(),
            "",
            number,
            "R",
            note,
            render_ta1(
                isa,
                safe_delimiters(delimiters),
                status="R",
                note=note,
                control_number=number,
                now=now,
            ),
        )
    )
