"""Pure X12 parsers: bytes (or a binary stream) in, typed models out.

No I/O (a stream is read, never opened), no database, no logging setup.

- ``stream(data)`` iterates envelope and business events with flat memory.
- ``check(data)`` streams for the findings only (validation, acknowledgments).
- ``parse(data)`` assembles the whole object graph (fine for files of ordinary size).
- Fatal problems raise ``X12Error`` subclasses with a ``Location``; everything else is a
  ``Finding`` in the result.

The errors load with the package; the parser itself on first use of its names (PEP 562), so
importing a small pure module such as ``parsers.codes`` (reconciliation's code spellings) does
not load the X12 reader and the typed models.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
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

#: where each lazily exported name lives (``stream`` is ``X12Reader``)
_HOME = {
    **dict.fromkeys(
        ("ParsedGroup", "ParsedInterchange", "ParseResult", "check", "parse"), "parsers.result"
    ),
    **dict.fromkeys(("GroupEnd", "InterchangeEnd", "TransactionEnd"), "parsers.x12.events"),
    "Limits": "parsers.x12.lexer",
    **dict.fromkeys(("Event", "X12Reader", "stream"), "parsers.x12.reader"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:  # not ours: lets ``parsers.ack`` and the other submodules resolve
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), "X12Reader" if name == "stream" else name)
    globals()[name] = value
    return value
