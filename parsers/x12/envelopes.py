"""What a file's envelopes hold (ISA/GS/ST..SE/GE/IEA by file-level segment number).

The acknowledgments must describe every interchange, group and transaction set received, so
the reader records these as it streams (they are a handful of segments per set, off the hot
loop), and ``parsers.ack.envelope.scan`` builds the same from bytes when no parse ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parsers.errors import X12Error
from schemas.envelope import Delimiters


@dataclass(slots=True)
class InboundTransaction:
    """ST..SE of one received transaction set, by file-level segment number."""

    st01: str
    st02: str
    st03: str
    start: int
    end: int = 0


@dataclass(slots=True)
class InboundGroup:
    """GS..GE of one received functional group."""

    elements: list[str]
    start: int
    end: int = 0
    ge01: str = ""
    transactions: list[InboundTransaction] = field(default_factory=list)

    @property
    def functional_id(self) -> str:
        return self.elements[1]

    @property
    def control_number(self) -> str:
        return self.elements[6]

    @property
    def version(self) -> str:
        return self.elements[8]


@dataclass(slots=True)
class InboundInterchange:
    """ISA..IEA of one received interchange; ``isa`` holds ISA00..ISA16 (ISA00 = 'ISA')."""

    isa: list[str]
    delimiters: Delimiters
    start: int
    end: int = 0
    groups: list[InboundGroup] = field(default_factory=list)

    @property
    def control_number(self) -> str:
        return self.isa[13]


@dataclass(slots=True)
class EnvelopeScan:
    """The envelopes read (by the reader, or a tolerant scan), and the raw text of the
    segments a 999 copies from; ``error`` is set when a scan's lexer stopped early."""

    interchanges: list[InboundInterchange]
    segments: dict[int, str]
    error: X12Error | None = None
