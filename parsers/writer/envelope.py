"""The interchange around the transaction sets: ISA (fixed width), one GS/GE per group, IEA,
each set closed with SE and its real segment count, and the sets' control numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from parsers.writer.segments import Segments, X12WriteError, d8, render_segment
from schemas.envelope import Delimiters

#: ``*`` ``:`` ``^`` ``~``, what most trading partners expect
STANDARD_DELIMITERS = Delimiters()


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends to whom, and the control numbers of the interchange and its first group.

    Further functional groups of the same interchange take ``group_control_number + 1`` and so
    on. ``date``/``time`` default to the current UTC time when left empty.
    """

    sender_id: str = "SENDER"
    receiver_id: str = "RECEIVER"
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    #: GS02/GS03 application codes; empty means the ISA sender/receiver id
    application_sender: str = ""
    application_receiver: str = ""
    interchange_control_number: int = 1
    group_control_number: int = 1
    date: dt.date | None = None
    time: str = ""
    usage_indicator: str = "P"
    ack_requested: bool = False


def _check_delimiters(d: Delimiters, line_break: str) -> None:
    chars = [d.element, d.component, d.repetition, d.segment]
    for ch in chars:
        if len(ch) != 1 or ch.isalnum() or ch == " ":
            raise X12WriteError("delimiters must be single non-alphanumeric, non-space characters")
    if len(set(chars)) != 4:
        raise X12WriteError("element, component, repetition and segment delimiters must differ")
    if line_break not in ("", "\n", "\r\n"):
        raise X12WriteError("line_break must be '', '\\n' or '\\r\\n'")
    if line_break and d.segment in "\r\n":
        raise X12WriteError("a line break after a line-break terminator would add empty segments")
    if d.element in "\r\n" or d.component in "\r\n" or d.repetition in "\r\n":
        raise X12WriteError("only the segment terminator may be a line break")


def _isa(env: Envelope, d: Delimiters, day: dt.date, time: str, control: int) -> str:
    def fixed(value: str, width: int, what: str) -> str:
        if len(value) > width:
            raise X12WriteError(f"{what} is longer than {width} characters")
        return value.ljust(width)

    if not 0 < control <= 999_999_999:
        raise X12WriteError("interchange control number must be 1..999999999")
    elements = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        fixed(env.sender_qualifier, 2, "ISA05"),
        fixed(env.sender_id, 15, "ISA06"),
        fixed(env.receiver_qualifier, 2, "ISA07"),
        fixed(env.receiver_id, 15, "ISA08"),
        f"{day.year % 100:02d}{day.month:02d}{day.day:02d}",
        fixed(time, 4, "ISA10"),
        d.repetition,
        "00501",
        f"{control:09d}",
        "1" if env.ack_requested else "0",
        fixed(env.usage_indicator, 1, "ISA15"),
        d.component,
    ]
    for i, value in enumerate(elements[1:16], start=1):
        if any(ch in value for ch in (d.element, d.component, d.segment, d.repetition)) and i != 11:
            raise X12WriteError(f"ISA{i:02d} holds a delimiter of this interchange")
    text = d.element.join(elements)
    assert len(text) == 105
    return text


def interchange(
    groups: list[tuple[str, str, list[list[str]]]],
    env: Envelope,
    d: Delimiters,
    line_break: str,
) -> bytes:
    """Wrap transaction sets (already rendered, ST..SE) as (functional id, GS08, sets) groups."""
    _check_delimiters(d, line_break)
    now = dt.datetime.now(dt.UTC)
    day = env.date if env.date is not None else now.date()
    time = env.time or now.strftime("%H%M")
    if len(time) not in (4, 6, 7, 8) or not time.isdigit():
        raise X12WriteError("envelope time must be HHMM (or HHMMSS[d[d]])")
    segs = [_isa(env, d, day, time[:4], env.interchange_control_number)]
    gs_sender = env.application_sender or env.sender_id
    gs_receiver = env.application_receiver or env.receiver_id
    for gi, (functional_id, guide, sets) in enumerate(groups):
        gcn = str(env.group_control_number + gi)
        segs.append(
            render_segment(
                ["GS", functional_id, gs_sender, gs_receiver, d8(day), time, gcn, "X", guide], d
            )
        )
        for tx in sets:
            segs.extend(tx)
        segs.append(render_segment(["GE", str(len(sets)), gcn], d))
    segs.append(
        render_segment(["IEA", str(len(groups)), f"{env.interchange_control_number:09d}"], d)
    )
    joiner = d.segment + line_break
    return (joiner.join(segs) + joiner).encode("utf-8")


def close_set(st: Segments, control: str) -> list[str]:
    st.add("SE", str(len(st.items) + 1), control)
    return st.render()


def control_numbers(given: Iterable[str]) -> list[str]:
    """ST02 per set: the model's own if present and unique, else its 1-based position."""
    out: list[str] = []
    for i, cn in enumerate(given, start=1):
        out.append(cn if cn and cn not in out else f"{i:04d}")
    return out


__all__ = ["STANDARD_DELIMITERS", "Envelope", "close_set", "control_numbers", "interchange"]
