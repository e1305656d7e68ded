"""Typed, located errors and findings of the X12 parsers.

Hierarchy::

    X12Error                      fatal: the file cannot be read further
    ├── EmptyInputError           0 bytes or only whitespace
    ├── NotX12Error               no ISA where the interchange must start
    ├── InterchangeHeaderError    ISA malformed (length, element count, fields)
    ├── DelimiterError            delimiters missing, repeated or alphanumeric
    ├── EncodingError             bytes that are not text (binary, UTF-16 without BOM)
    ├── TruncatedError            the file ends inside an envelope (no IEA/GE/SE)
    ├── StructureError            a segment where it cannot stand (CLP before ST, ...)
    └── LimitExceededError        an input limit (segment length, envelope count) was exceeded

Non-fatal problems (counts, control numbers, balancing) are ``Finding`` records collected while
parsing, so one bad claim never hides the rest and acknowledgments can list all of them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Location:
    """Where something is: 1-based segment number in the file, and within its transaction set.

    ``byte_offset`` is 0-based from the start of the input; ``line`` is 1-based.
    """

    segment_number: int = 0
    segment_id: str = ""
    byte_offset: int | None = None
    line: int | None = None
    element: int | None = None
    transaction_segment_number: int | None = None
    interchange_control_number: str = ""
    group_control_number: str = ""
    transaction_control_number: str = ""

    def describe(self) -> str:
        parts = []
        if self.segment_number:
            seg = f"segment {self.segment_number}"
            if self.segment_id:
                seg += f" ({self.segment_id}"
                if self.element is not None:
                    seg += f"{self.element:02d}"
                seg += ")"
            parts.append(seg)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.byte_offset is not None:
            parts.append(f"byte {self.byte_offset}")
        if self.transaction_control_number:
            parts.append(f"ST02 {self.transaction_control_number}")
        return ", ".join(parts) or "start of file"

    def as_dict(self) -> dict[str, object]:
        return {
            "segment_number": self.segment_number,
            "segment_id": self.segment_id,
            "byte_offset": self.byte_offset,
            "line": self.line,
            "element": self.element,
            "transaction_segment_number": self.transaction_segment_number,
            "interchange_control_number": self.interchange_control_number,
            "group_control_number": self.group_control_number,
            "transaction_control_number": self.transaction_control_number,
        }


class X12Error(Exception):
    """The X12 input cannot be parsed."""

    code = "x12_error"

    def __init__(self, reason: str | None = None, location: Location | None = None) -> None:
        self.reason = reason or (self.__doc__ or self.code).strip().splitlines()[0]
        self.location = location or Location()
        super().__init__(f"{self.reason} at {self.location.describe()}")


class EmptyInputError(X12Error):
    """The file is empty."""

    code = "empty_file"


class NotX12Error(X12Error):
    """The file does not start with an ISA interchange header."""

    code = "not_x12"


class InterchangeHeaderError(X12Error):
    """The ISA interchange header is malformed."""

    code = "bad_isa"


class DelimiterError(X12Error):
    """The delimiters declared in ISA are unusable."""

    code = "bad_delimiters"


class EncodingError(X12Error):
    """The file is not text in an encoding X12 allows."""

    code = "bad_encoding"


class TruncatedError(X12Error):
    """The file ends before its envelope is closed."""

    code = "truncated"


class StructureError(X12Error):
    """A segment appears where the structure does not allow it."""

    code = "bad_structure"


class LimitExceededError(X12Error):
    """An input limit was exceeded."""

    code = "limit_exceeded"


ERROR = "error"
WARNING = "warning"


@dataclass(slots=True)
class Finding:
    """A located, non-fatal problem.

    ``code`` is ours (stable, snake_case); ``ack_code`` is the X12 code for the acknowledgment
    (IK3/IK4/IK5/AK9 or TA1 note code) when one applies, with ``ack_level`` saying which.
    """

    code: str
    message: str
    severity: str
    location: Location
    ack_level: str = ""
    ack_code: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "location": self.location.as_dict(),
            "ack_level": self.ack_level,
            "ack_code": self.ack_code,
        }
