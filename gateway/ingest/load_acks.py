"""A processed file's TA1/999, rendered and stored as processing ends, never failing it.

A file that loaded gets its acks in the load's own transaction; a file just quarantined gets
them in a transaction of their own. Either way a bug of the ack writer is logged and the acks
are left to be rendered on demand (``gateway.ingest.acks``): it must not change how the file
ended.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

import parsers
from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.types import utcnow
from gateway.ingest import acks as file_acks
from gateway.logging import get_logger

log = get_logger("gateway.ingest")
F = InboundFile


def render_acks(
    file_id: int,
    data: file_acks.Source,
    outcome: file_acks.Outcome | None,
    processed_at: dt.datetime,
    limits: parsers.Limits,
) -> file_acks.RenderedAcks | None:
    """The file's TA1/999, or None when rendering failed (they are then rendered on demand:
    a bug of the ack writer must not quarantine a file that loaded)."""
    try:
        return file_acks.render(
            file_id,
            data,
            outcome,
            processed_at=processed_at,
            received_at=processed_at,
            limits=limits,
        )
    except Exception as exc:
        log.exception("acks_render_failed", file_id=file_id, error_type=type(exc).__name__)
        return None


def store_failed_acks(
    db: Database,
    file_id: int,
    data: file_acks.Source | None,
    outcome: file_acks.Outcome | None,
    limits: parsers.Limits,
) -> None:
    """Render and store the acks of a file just quarantined (its own transaction)."""
    if data is None:  # the raw bytes could not be read: rendered on demand, if ever
        return
    try:
        with db.read() as s:
            when = s.execute(select(F.processed_at).where(F.id == file_id)).scalar_one()
        rendered = render_acks(file_id, data, outcome, when or utcnow(), limits)
        if rendered is not None:
            with db.write() as s:
                file_acks.save(s, rendered)
    except Exception as exc:  # the file is quarantined already; its acks come on demand
        log.exception("acks_store_failed", file_id=file_id, error_type=type(exc).__name__)
