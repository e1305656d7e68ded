"""ISA/GS/ST envelope headers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Delimiters:
    """Delimiters of one interchange, read from its ISA segment."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


@dataclass(slots=True)
class Interchange:
    """ISA header (and IEA trailer control figures)."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: dt.date | None
    time: str
    control_number: str
    version: str
    ack_requested: bool
    usage_indicator: str
    delimiters: Delimiters
    segment_index: int = 0


@dataclass(slots=True)
class FunctionalGroup:
    """GS header."""

    functional_id: str
    sender_id: str
    receiver_id: str
    date: dt.date | None
    time: str
    control_number: str
    version: str
    segment_index: int = 0


@dataclass(slots=True)
class TransactionHeader:
    """ST header with its place in the file; ``kind`` is 835, 837P, 837I or 837D."""

    transaction_set: str
    control_number: str
    implementation_reference: str
    kind: str
    interchange_control_number: str
    group_control_number: str
    segment_index: int = 0
