"""TA1 interchange acknowledgment.

Policy (what the TA104 acknowledgment code means here):

- ``R`` (rejected): the interchange could not be read (a fatal ``X12Error``: bad delimiters,
  malformed ISA, truncated file, structure we cannot follow). Nothing in it was processed and no
  999 is sent for it.
- ``E`` (accepted with errors): the envelope has errors (IEA02 ≠ ISA13, IEA01 ≠ group count, a
  bad ISA field) but the content was read; its 999s stand. The sender must not resend.
- ``A``: no envelope errors.

TA105 carries one note code; with several TA1-level errors the first in file order is reported
(all of them are in the validation output).
"""

from __future__ import annotations

import datetime as dt

from parsers.ack.envelope import Writer, close_interchange, open_interchange
from parsers.errors import (
    ERROR,
    DelimiterError,
    EncodingError,
    Finding,
    InterchangeHeaderError,
    LimitExceededError,
    StructureError,
    TruncatedError,
    X12Error,
)
from schemas.envelope import Delimiters

NO_ERROR = "000"
INVALID_CONTENT = "024"


def findings_note(findings: list[Finding]) -> tuple[str, str]:
    """(TA104, TA105) for an interchange that was read, from its TA1-level findings."""
    for f in findings:
        if f.ack_level == "TA1" and f.severity == ERROR and f.ack_code:
            return "E", f.ack_code
    return "A", NO_ERROR


def error_note(exc: X12Error, isa_head: bytes = b"") -> str:
    """TA105 note code for a fatal error; ``isa_head`` is the raw ISA for delimiter errors."""
    if isinstance(exc, DelimiterError):
        return _delimiter_note(isa_head)
    if isinstance(exc, TruncatedError):
        return "023"  # improper (premature) end-of-file
    if isinstance(exc, InterchangeHeaderError):
        return "022"  # invalid control structure
    if isinstance(exc, StructureError | EncodingError | LimitExceededError):
        return INVALID_CONTENT
    return "022"


def _delimiter_note(isa: bytes) -> str:
    """026 element separator, 027 component separator, 004 segment terminator."""
    if len(isa) < 4:
        return "026"
    sep = isa[3:4]
    if sep.isalnum() or sep in b" \r\n":
        return "026"
    cur = 3
    for _ in range(15):
        cur = isa.find(sep, cur + 1)
        if cur < 0:
            return "026"
    component, terminator = isa[cur + 1 : cur + 2], isa[cur + 2 : cur + 3]
    if not component or component.isalnum() or component == b" " or component == sep:
        return "027"
    if (
        not terminator
        or terminator.isalnum()
        or terminator == b" "
        or terminator in (sep, component)
    ):
        return "004"
    return "026"


def render_ta1(
    inbound_isa: list[str],
    delimiters: Delimiters,
    *,
    status: str,
    note: str,
    control_number: int,
    now: dt.datetime,
) -> bytes:
    """A TA1 for the interchange whose ISA elements (ISA00..ISA16) are ``inbound_isa``."""
    if status not in ("A", "E", "R"):
        raise ValueError(f"TA104 must be A, E or R, not {status!r}")
    w = Writer(delimiters)
    open_interchange(w, inbound_isa, control_number, now)
    w.add(
        "TA1",
        inbound_isa[13].strip(),
        inbound_isa[9].strip(),
        inbound_isa[10].strip(),
        status,
        note,
    )
    close_interchange(w, control_number, 0)
    return w.render()
