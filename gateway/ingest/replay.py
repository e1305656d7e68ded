"""Replay from stored raw bytes, and synchronous processing.

Replay puts a ``failed`` (or ``processed``) file back to ``received`` and processes it at once
from its stored raw bytes; its earlier derived rows are replaced in the same transaction that
writes the new ones. Every replay is audited twice: the request (who, when, why, force) in the
transaction that resets the state, and the outcome once processing ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.remittance_rows import RemittanceRow
from gateway.db.types import utcnow
from gateway.errors import InputError, NotFoundError
from gateway.ingest import queue
from gateway.ingest.queue import worker_id
from gateway.ingest.service import Outcome, process_file
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.settings import Settings
from gateway.store.base import RawStore
from schemas.states import FileState

log = get_logger("gateway.replay")
F = InboundFile
TERMINAL = (FileState.PROCESSED.value, FileState.FAILED.value)


@dataclass
class FileReport:
    """Where a file ended up after we handed it to processing."""

    file_id: int
    state: str
    claims: int
    error_code: str | None
    error_message: str | None
    #: files whose 835 transactions this file re-sends (see ``resend_links``)
    resend_of: list[int] = field(default_factory=list)

    @property
    def note(self) -> str:
        """What a processed file's row says besides its state: the files it re-sends."""
        if not self.resend_of:
            return ""
        return (
            "resend of file " + ", ".join(str(f) for f in self.resend_of) + " (not counted again)"
        )


@dataclass(frozen=True)
class ResendLinks:
    """835 resends around one file: the files it re-sends, and the files re-sending it."""

    resend_of: list[int]
    resent_by: list[int]


def resend_links(session: Session, file_id: int) -> ResendLinks:
    r = RemittanceRow
    of = session.execute(
        select(r.resend_of_file_id)
        .where(r.file_id == file_id, r.resend_of_file_id.is_not(None))
        .distinct()
    ).scalars()
    by = session.execute(
        select(r.file_id).where(r.resend_of_file_id == file_id).distinct()
    ).scalars()
    return ResendLinks(sorted(int(x) for x in of if x is not None), sorted(int(x) for x in by))


def report(db: Database, file_id: int) -> FileReport:
    with db.read() as s:
        r = s.execute(
            select(F.id, F.state, F.claim_count, F.error_code, F.error_message).where(
                F.id == file_id
            )
        ).one()
        links = resend_links(s, file_id) if r.state == FileState.PROCESSED.value else None
    return FileReport(
        r.id,
        r.state,
        r.claim_count,
        r.error_code,
        r.error_message,
        links.resend_of if links else [],
    )


def process_now(
    db: Database,
    store: RawStore,
    settings: Settings,
    file_id: int,
    *,
    owner: str | None = None,
    progress: Progress = no_progress,
) -> FileReport:
    """Process a registered file in this process; if a worker already holds it, wait for it.

    ``progress`` hears the claims loaded (see ``process_file``)."""
    me = owner or worker_id()
    deadline = time.monotonic() + settings.lease_seconds * (settings.max_attempts + 1)
    while True:
        if queue.claim_file(
            db,
            file_id,
            me,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
        ):
            process_file(db, store, file_id, owner=me, settings=settings, progress=progress)
        rep = report(db, file_id)
        if rep.state in TERMINAL or time.monotonic() > deadline:
            return rep
        time.sleep(min(settings.worker_poll_seconds, 0.5))


def request_replay(db: Database, file_id: int, *, actor: str, reason: str, force: bool) -> str:
    """Reset a failed or processed file to ``received``; returns its previous state."""
    with db.write() as s:
        row = s.execute(select(F.state).where(F.id == file_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"no file with id {file_id}")
        if row.state not in TERMINAL:
            raise InputError(
                f"file {file_id} is {row.state}; only failed or processed files can be replayed",
                code="not_replayable",
            )
        s.execute(
            update(F)
            .where(F.id == file_id, F.state == row.state)
            .values(
                state=FileState.RECEIVED.value,
                attempts=0,
                allow_duplicate_interchange=force,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        queue.add_event(
            s,
            file_id,
            row.state,
            FileState.RECEIVED.value,
            actor,
            f"replay{' --force' if force else ''}: {reason}",
        )
        audit.record(
            s,
            actor=actor,
            action="replay_requested",
            outcome="queued",
            file_id=file_id,
            reason=reason,
            details={"previous_state": row.state, "force": force},
        )
    previous: str = row.state
    return previous


@dataclass
class ReplayResult:
    file_id: int
    previous_state: str
    report: FileReport


def replay(
    db: Database,
    store: RawStore,
    settings: Settings,
    file_id: int,
    *,
    actor: str,
    reason: str,
    force: bool = False,
) -> ReplayResult:
    """Replay one file now and audit the outcome."""
    previous = request_replay(db, file_id, actor=actor, reason=reason, force=force)
    rep = process_now(db, store, settings, file_id, owner=f"replay:{worker_id()}")
    with db.write() as s:
        audit.record(
            s,
            actor=actor,
            action="replay",
            outcome=rep.state,
            file_id=file_id,
            reason=reason,
            details={
                "previous_state": previous,
                "force": force,
                "error_code": rep.error_code,
                "claims": rep.claims,
                "finished_at": utcnow().isoformat(),
            },
        )
    log.info(
        "file_replayed",
        file_id=file_id,
        previous_state=previous,
        state=rep.state,
        error_code=rep.error_code,
        force=force,
    )
    return ReplayResult(file_id, previous, rep)


__all__ = [
    "FileReport",
    "Outcome",
    "ReplayResult",
    "ResendLinks",
    "process_now",
    "replay",
    "report",
    "request_replay",
    "resend_links",
]
