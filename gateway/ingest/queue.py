"""The registry as a work queue: claiming files under a lease, and state transitions.

A claim is its own short transaction. PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED LIMIT 1``
so concurrent workers never wait on each other. SQLite: the transaction starts with
``BEGIN IMMEDIATE`` (see ``gateway.db.base``), which serialises claimers; SQLAlchemy drops
``FOR UPDATE SKIP LOCKED`` there. On both, the UPDATE repeats the claimability condition, so
a claim can never take a file someone else holds under a live lease.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway.crashpoints import crash_point
from gateway.db.base import Database
from gateway.db.models import FileEvent, InboundFile
from gateway.db.types import tbl, utcnow
from gateway.logging import get_logger
from gateway.security.phi import mask_findings, mask_quoted
from gateway.webhooks import events as webhook_events
from schemas.states import FileState

log = get_logger("gateway.queue")
F = InboundFile


def worker_id() -> str:
    """host:pid:random — unique per worker process, readable in ``lease_owner``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def add_event(
    session: Session,
    file_id: int,
    from_state: str | None,
    to_state: str,
    actor: str,
    reason: str = "",
) -> None:
    session.execute(
        insert(tbl(FileEvent)).values(
            file_id=file_id,
            from_state=from_state,
            to_state=to_state,
            at=utcnow(),
            actor=actor[:128],
            reason=reason,
        )
    )


def _claimable(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        F.state == FileState.RECEIVED.value,
        and_(F.state == FileState.PROCESSING.value, F.lease_expires_at < now),
    )


def _take(
    session: Session,
    row: Any,
    owner: str,
    lease_seconds: float,
    max_attempts: int,
    now: dt.datetime,
) -> int | None:
    """Lease ``row`` to ``owner`` (or give up on a file that keeps killing workers)."""
    if row.attempts >= max_attempts:
        res = session.execute(
            update(F)
            .where(F.id == row.id, _claimable(now))
            .values(
                state=FileState.FAILED.value,
                lease_owner=None,
                lease_expires_at=None,
                error_code="too_many_attempts",
                error_message=f"processing was interrupted {row.attempts} times "
                "(worker crash or lost lease); quarantined",
                error_location=None,
            )
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            add_event(
                session, row.id, row.state, FileState.FAILED.value, owner, "too_many_attempts"
            )
            log.warning("file_quarantined", file_id=row.id, error_code="too_many_attempts")
        return None
    res = session.execute(
        update(F)
        .where(F.id == row.id, _claimable(now))
        .values(
            state=FileState.PROCESSING.value,
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            attempts=F.attempts + 1,
        )
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        return None
    reason = "claimed" if row.state == FileState.RECEIVED.value else "lease expired; reclaimed"
    add_event(session, row.id, row.state, FileState.PROCESSING.value, owner, reason)
    claimed: int = row.id
    return claimed


def claim_next(db: Database, owner: str, *, lease_seconds: float, max_attempts: int) -> int | None:
    """Lease the oldest claimable file to ``owner``; None when there is no work."""
    while True:
        now = utcnow()
        with db.write() as s:
            row = s.execute(
                select(F.id, F.state, F.attempts)
                .where(_claimable(now))
                .order_by(F.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).one_or_none()
            if row is None:
                return None
            file_id = _take(s, row, owner, lease_seconds, max_attempts, now)
            crash_point("claim")
        if file_id is not None:
            return file_id
        if row.attempts < max_attempts:
            return None  # lost a race (cannot happen under the lock; be safe)


def claim_file(
    db: Database, file_id: int, owner: str, *, lease_seconds: float, max_attempts: int
) -> bool:
    """Lease one given file (synchronous ingest, replay) if it is claimable now."""
    now = utcnow()
    with db.write() as s:
        row = s.execute(
            select(F.id, F.state, F.attempts)
            .where(F.id == file_id, _claimable(now))
            .with_for_update(skip_locked=True)
        ).one_or_none()
        if row is None:
            return False
        return _take(s, row, owner, lease_seconds, max_attempts, now) is not None


def finish_failed(
    db: Database,
    file_id: int,
    owner: str,
    *,
    code: str,
    message: str,
    location: dict[str, Any] | None,
    findings: list[dict[str, Any]] | None,
    kind: str = "unknown",
) -> bool:
    """Quarantine a file we hold the lease on; False if the lease was lost meanwhile."""
    with db.write() as s:
        res = s.execute(
            update(F)
            .where(
                F.id == file_id,
                F.lease_owner == owner,
                F.state == FileState.PROCESSING.value,
            )
            .values(
                state=FileState.FAILED.value,
                lease_owner=None,
                lease_expires_at=None,
                # parser messages quote file bytes (names, ids, dates): masked before storing
                error_code=code[:64],
                error_message=mask_quoted(message),
                error_location=location,
                findings=mask_findings(findings),
                kind=kind,
                claim_count=0,
                processed_at=utcnow(),
            )
        )
        if res.rowcount != 1:  # type: ignore[attr-defined]
            return False
        add_event(s, file_id, FileState.PROCESSING.value, FileState.FAILED.value, owner, code)
        webhook_events.file_quarantined(s, file_id, code[:64], kind)  # outbox: same transaction
        crash_point("fail_commit")
    return True
