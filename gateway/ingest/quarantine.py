"""The quarantine listing: files that ended ``failed``, read from the registry.

Kept apart from ``gateway.ingest.replay`` so that listing (``gateway failures``, ``replay
--all-failed`` choosing its targets) needs only the registry table, not the parse-and-load
pipeline that replay runs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gateway.db.base import Database
from gateway.db.models import FileState, InboundFile


def failed_files(db: Database, since: dt.date | None = None) -> list[InboundFile]:
    """Quarantined files, oldest first (``since``: received on or after that day, UTC)."""
    stmt = select(InboundFile).where(InboundFile.state == FileState.FAILED.value)
    stmt = stmt.order_by(InboundFile.id)
    if since is not None:
        stmt = stmt.where(InboundFile.received_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    with db.read() as s:
        return list(s.execute(stmt).scalars())


__all__ = ["failed_files"]
