"""TA1/999 for a stored file: the ones the worker rendered when it processed the file.

A file processed before they were stored (migration 0016), or replayed since, has none that
match its processing run: they are rendered once here, from the stored bytes through the
event reader (findings only, never a whole-file object graph), and stored for next time.
"""

from __future__ import annotations

from gateway.api.deps import AppContext
from gateway.api.problems import ApiError
from gateway.api.schemas import AckOut, AcksOut
from gateway.db.models import InboundFile
from gateway.ingest import acks as file_acks
from gateway.settings import x12_limits
from schemas.states import FileState

DONE = (FileState.PROCESSED.value, FileState.FAILED.value)


def stored_acks(ctx: AppContext, row: InboundFile) -> file_acks.RenderedAcks:
    """The stored acks of ``row``'s current run, rendering (and storing) them if missing."""
    with ctx.db.read() as s:
        found = file_acks.load(s, row)
    if found is None:
        found = file_acks.render(
            row.id,
            lambda: ctx.store.open(row.sha256),  # streamed, never read whole
            None,
            processed_at=row.processed_at,
            received_at=row.received_at,
            limits=x12_limits(ctx.settings),
        )
        if row.state in DONE:  # a file still queued gets its acks from the worker
            with ctx.db.write() as s:
                file_acks.save(s, found)
    return found


def render_acks(ctx: AppContext, row: InboundFile) -> AcksOut:
    found = stored_acks(ctx, row)
    if not found.x12:
        raise ApiError(
            409, "not an X12 interchange: there is nothing to acknowledge", code="not_x12"
        )
    return AcksOut(file_id=row.id, acknowledgments=[AckOut(**a) for a in found.acknowledgments])
