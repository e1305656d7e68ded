"""TA1/999 for a stored file, rendered on demand (deterministic for a given file).

The control numbers are derived from the file id and the timestamps from when the file was
processed (else received), so asking twice gives the same bytes.
"""

from __future__ import annotations

from gateway.api.deps import AppContext
from gateway.api.problems import ApiError
from gateway.api.schemas import AckOut, AcksOut
from gateway.db.models import InboundFile
from parsers import X12Error, parse
from parsers.ack import acknowledge

MAX_CONTROL = 999_999_999


def render_acks(ctx: AppContext, row: InboundFile) -> AcksOut:
    data = ctx.store.read(row.sha256)
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"ISA"):
        raise ApiError(409, "not an X12 interchange: there is nothing to acknowledge",
                       code="not_x12")
    try:
        outcome = parse(data)
    except X12Error as exc:
        outcome = exc  # type: ignore[assignment]
    when = row.processed_at or row.received_at
    # leave room for the consecutive numbers one file's acknowledgments take
    first = (row.id * 10) % (MAX_CONTROL - 1000) + 1
    acks = acknowledge(data, outcome, control_number=first, now=when)
    return AcksOut(file_id=row.id, acknowledgments=[
        AckOut(kind=a.kind, status=a.status, note=a.note,
               interchange_control_number=a.interchange_control_number,
               group_control_number=a.group_control_number, control_number=a.control_number,
               content=a.content.decode("latin-1")) for a in acks.all])
