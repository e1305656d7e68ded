"""Inbound envelope scan and outbound envelope rendering shared by the TA1 and 999 writers.

The acknowledgments must describe *every* interchange, group and transaction set received,
including sets the gateway does not parse (a 270, a stray 999), so they are built from the
envelope segments (``parsers.x12.envelopes``: recorded by the reader as it parses, or found by
``scan`` here when no parse ran) rather than from the parsed models. Findings are attached by
file-level segment number, which is robust against repeated control numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import BinaryIO

from parsers.errors import X12Error
from parsers.x12.envelopes import (
    EnvelopeScan,
    InboundGroup,
    InboundInterchange,
    InboundTransaction,
)
from parsers.x12.isa import prepare
from parsers.x12.lexer import DEFAULT_LIMITS, Lexer, Limits
from parsers.x12.stream_lexer import StreamLexer
from schemas.envelope import Delimiters

#: fixed ISA layout: (start, end) of the elements a TA1 needs, in a standard 106-byte ISA
_FIXED_ISA = {
    5: (32, 34),
    6: (35, 50),
    7: (51, 53),
    8: (54, 69),
    9: (70, 76),
    10: (77, 81),
    13: (90, 99),
    14: (100, 101),
    15: (102, 103),
}
MAX_CONTROL_NUMBER = 999_999_999
_WHITESPACE = b" \t\r\n\x00\x1a\x0b\x0c"


def scan(
    data: bytes | BinaryIO, want: frozenset[int] = frozenset(), limits: Limits = DEFAULT_LIMITS
) -> EnvelopeScan:
    """Envelope structure of ``data``; also returns the raw text of the ``want`` segments.

    Never raises ``X12Error``: a lexer failure ends the scan and is returned in ``error``, with
    whatever was read before it.
    """
    out = EnvelopeScan([], {})
    try:
        lexer = Lexer(data, limits) if isinstance(data, bytes) else StreamLexer(data, limits)
        ic: InboundInterchange | None = None
        grp: InboundGroup | None = None
        tx: InboundTransaction | None = None
        for number, seg in enumerate(lexer, start=1):
            if number in want:
                out.segments[number] = seg
            sep = lexer.delimiters.element
            tag = seg.partition(sep)[0]
            if tag == "ISA":
                ic = InboundInterchange(list(lexer.isa_elements), lexer.delimiters, number)
                out.interchanges.append(ic)
                grp = tx = None
            elif tag == "GS" and ic is not None:
                grp = InboundGroup((seg.split(sep) + [""] * 9)[:9], number)
                ic.groups.append(grp)
                tx = None
            elif tag == "ST" and grp is not None:
                els = seg.split(sep) + [""] * 4
                tx = InboundTransaction(els[1], els[2], els[3], number)
                grp.transactions.append(tx)
            elif tag == "SE" and tx is not None:
                tx.end = number
                tx = None
            elif tag == "GE" and grp is not None:
                grp.end = number
                grp.ge01 = [*seg.split(sep), ""][1]
                grp = tx = None
            elif tag == "IEA" and ic is not None:
                ic.end = number
                ic = grp = tx = None
    except X12Error as exc:
        out.error = exc
    return out


def fixed_isa(data: bytes) -> list[str] | None:
    """ISA elements read by fixed position, for a TA1 when the delimiters are unusable.

    Returns ``None`` when there is no ISA at the start or the fixed fields are not plain ASCII.
    """
    try:
        data = prepare(data)
    except X12Error:
        return None
    head = data.lstrip(_WHITESPACE)[:106]
    if not head.startswith(b"ISA") or len(head) < 103:
        return None
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    isa = ["ISA"] + [""] * 16
    for index, (start, end) in _FIXED_ISA.items():
        isa[index] = text[start:end]
    return isa


def next_control_number(number: int) -> int:
    """The control number after ``number``; wraps from 999999999 to 1."""
    return 1 if number >= MAX_CONTROL_NUMBER else number + 1


def check_control_number(number: int) -> None:
    if not 1 <= number <= MAX_CONTROL_NUMBER:
        raise ValueError(f"control number {number} is outside 1..{MAX_CONTROL_NUMBER}")


def safe_delimiters(d: Delimiters | None) -> Delimiters:
    """The inbound delimiters (the lexer has already vetted them), or ``* : ^ ~`` without.

    A 4010-style ISA11 ('U') leaves no repetition separator; ours is then '^' unless the
    inbound file uses '^' for something else, in which case it is '{'.
    """
    if d is None:
        return Delimiters()
    if d.repetition:
        return d
    used = {d.element, d.component, d.segment}
    return Delimiters(d.element, d.component, "^" if "^" not in used else "{", d.segment)


def _pad(value: str, width: int) -> str:
    return value.strip()[:width].ljust(width)


class Writer:
    """Accumulates segments with one set of delimiters; counts segments for SE01."""

    def __init__(self, d: Delimiters) -> None:
        self.d = d
        self.segments: list[str] = []

    def add(self, *elements: str) -> None:
        els = list(elements)
        while len(els) > 1 and els[-1] == "":
            els.pop()  # no trailing empty elements (pyx12 flags them)
        self.segments.append(self.d.element.join(els))

    def render(self) -> bytes:
        term = self.d.segment
        # one segment per line for people reading the file (X12 readers skip the break)
        joiner = term if term == "\n" else term + "\n"
        return (joiner.join(self.segments) + joiner).encode("ascii", "replace")


def open_interchange(
    w: Writer, inbound_isa: list[str], control_number: int, now: dt.datetime
) -> None:
    """ISA answering ``inbound_isa``: sender and receiver swapped, our control number."""
    usage = inbound_isa[15] if inbound_isa[15] in ("P", "T") else "P"
    w.add(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        _pad(inbound_isa[7], 2),
        _pad(inbound_isa[8], 15),
        _pad(inbound_isa[5], 2),
        _pad(inbound_isa[6], 15),
        now.strftime("%y%m%d"),
        now.strftime("%H%M"),
        w.d.repetition or "^",
        "00501",
        f"{control_number:09d}",
        "0",
        usage,
        w.d.component,
    )


def close_interchange(w: Writer, control_number: int, groups: int) -> None:
    w.add("IEA", str(groups), f"{control_number:09d}")
