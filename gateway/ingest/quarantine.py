"""The quarantine listing: files that ended ``failed``, read from the registry.

Kept apart from ``gateway.ingest.replay`` so that listing (``gateway failures``, ``replay
--all-failed`` choosing its targets) needs only the registry table, not the parse-and-load
pipeline that replay runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, select

from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.types import tbl
from schemas.states import FileState


def failed_files(db: Database, since: dt.date | None = None) -> list[Row[Any]]:
    """Quarantined files, oldest first (``since``: received on or after that day, UTC): rows
    of the registry table, its columns as attributes. A Core query: an ORM one would
    configure every mapper loaded (~10 ms of ``gateway failures``) to read one table."""
    ft = tbl(InboundFile)
    stmt = select(ft).where(ft.c.state == FileState.FAILED.value).order_by(ft.c.id)
    if since is not None:
        stmt = stmt.where(ft.c.received_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    with db.read() as s:
        return list(s.execute(stmt))


__all__ = ["failed_files"]
