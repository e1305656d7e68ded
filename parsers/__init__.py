"""Pure X12 parsers: bytes (or a binary stream) in, typed models out.

No I/O (a stream is read, never opened), no database, no logging setup.

- ``stream(data)`` iterates envelope and business events with flat memory.
- ``check(data)`` streams for the findings only (validation, acknowledgments).
- ``parse(data)`` assembles the whole object graph (fine for files of ordinary size).
- Fatal problems raise ``X12Error`` subclasses with a ``Location``; everything else is a
  ``Finding`` in the result.
"""

from parsers.errors import (
    ERROR,
    WARNING,
    DelimiterError,
    EmptyInputError,
    EncodingError,
    Finding,
    InterchangeHeaderError,
    LimitExceededError,
    Location,
    NotX12Error,
    StructureError,
    TruncatedError,
    X12Error,
)
from parsers.result import ParsedGroup, ParsedInterchange, ParseResult, check, parse
from parsers.x12.events import GroupEnd, InterchangeEnd, TransactionEnd
from parsers.x12.lexer import Limits
from parsers.x12.reader import Event, X12Reader

stream = X12Reader

__all__ = [
    "ERROR",
    "WARNING",
    "DelimiterError",
    "EmptyInputError",
    "EncodingError",
    "Event",
    "Finding",
    "GroupEnd",
    "InterchangeEnd",
    "InterchangeHeaderError",
    "LimitExceededError",
    "Limits",
    "Location",
    "NotX12Error",
    "ParseResult",
    "ParsedGroup",
    "ParsedInterchange",
    "StructureError",
    "TransactionEnd",
    "TruncatedError",
    "X12Error",
    "X12Reader",
    "check",
    "parse",
    "stream",
]
