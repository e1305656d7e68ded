"""A reconciliation run's row in ``reconcile_runs``: its summary, its start (refused while
another run is alive), its heartbeat and commits in bounded batches, its abandonment.

``finished_at`` is NULL while a run goes (``duration_ms`` is its heartbeat, refreshed at every
commit; -1 once it aborted); readers take the last finished run (``latest_run``) as final and
``running_run`` tells them another is under way.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from gateway.db.types import tbl, utcnow
from gateway.errors import TransientError
from gateway.logging import get_logger
from gateway.reconcile.tables import ReconcileRun

log = get_logger("gateway.reconcile")


@dataclass
class RunSummary:
    """What a run did (also stored in ``reconcile_runs``)."""

    run_id: int
    as_of: dt.date
    mode: str
    files: int = 0
    scope_claims: int = 0
    candidates: int = 0
    credits_new: int = 0
    credits_resolved: int = 0
    credits_open: int = 0
    credits_pending: int = 0
    variances: int = 0
    seconds: float = 0.0
    reason: str = ""
    links: dict[str, int] = field(default_factory=dict)


class ReconcileBusyError(TransientError):
    """Another reconciliation run is under way; retry once it has finished."""

    code = "reconcile_busy"


#: a run whose heartbeat is older than this is taken for crashed (a batch never takes as long)
STALE_AFTER = dt.timedelta(minutes=15)
#: candidates a transaction, by default (``GATEWAY_RECONCILE_BATCH_CLAIMS``)
BATCH_CLAIMS = 20_000


class Batches:
    """Commits the run's session every ``size`` candidate claims, refreshing its heartbeat."""

    def __init__(self, s: Session, run_id: int, size: int, started: float) -> None:
        self.s, self.run_id, self.size, self.started = s, run_id, max(size, 1), started
        self.pending = 0

    def commit(self) -> None:
        runs = tbl(ReconcileRun)
        self.s.execute(
            update(runs)
            .where(runs.c.id == self.run_id)
            .values(duration_ms=int((time.perf_counter() - self.started) * 1000))
        )
        self.s.commit()
        self.pending = 0

    def done(self, claims: int) -> None:
        self.pending += claims
        if self.pending >= self.size:
            self.commit()


def start(s: Session, day: dt.date, full: bool, who: str) -> int:
    """The run's row, committed at once, unless another run is alive (its heartbeat fresh)."""
    runs = tbl(ReconcileRun)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    other = running_run(s)
    if other is not None:
        s.rollback()
        raise ReconcileBusyError(f"reconciliation run {other} is under way")
    run_id = int(
        s.execute(
            insert(runs)
            .values(
                as_of=day,
                mode="full" if full else "incremental",
                actor=who[:128],
                started_at=utcnow(),
                files=0,
                scope_claims=0,
                candidates=0,
                credits_new=0,
                credits_resolved=0,
                credits_open=0,
                credits_pending=0,
                variances=0,
                duration_ms=0,
            )
            .returning(runs.c.id)
        ).scalar_one()
    )
    s.commit()
    return run_id


#: PostgreSQL advisory lock that orders runs' starts (SQLite: BEGIN IMMEDIATE does)
_LOCK_KEY = 0x7265636F  # "reco"


def abandon(s: Session, run_id: int) -> None:
    """Mark an aborted run (its heartbeat -1), best effort: a crash leaves it to go stale."""
    runs = tbl(ReconcileRun)
    try:
        s.execute(update(runs).where(runs.c.id == run_id).values(duration_ms=-1))
        s.commit()
    except Exception:  # noqa: BLE001 - the original error is what the caller must see
        s.rollback()
        log.warning("reconcile_abort_unrecorded", run_id=run_id)


def unfinished(s: Session) -> list[Any]:
    """Runs started after the last finished one that never finished (running or not)."""
    return list(
        s.execute(
            text(
                "SELECT id, started_at, duration_ms FROM reconcile_runs WHERE finished_at IS NULL "
                "AND id > (SELECT COALESCE(MAX(id), 0) FROM reconcile_runs "
                "WHERE finished_at IS NOT NULL) ORDER BY id"
            )
        ).all()
    )


def alive(row: Any) -> bool:
    if row.duration_ms is None or row.duration_ms < 0:
        return False
    began = row.started_at
    if isinstance(began, str):
        began = dt.datetime.fromisoformat(began)
    if began.tzinfo is None:
        began = began.replace(tzinfo=dt.UTC)
    beat: dt.datetime = began + dt.timedelta(milliseconds=int(row.duration_ms))
    return bool(utcnow() - beat < STALE_AFTER)


def running_run(s: Session) -> int | None:
    """The id of a run under way (its results are not final yet), if any."""
    for row in reversed(unfinished(s)):
        if alive(row):
            return int(row.id)
    return None


def latest_run(s: Session) -> ReconcileRun | None:
    return s.execute(
        select(ReconcileRun)
        .where(ReconcileRun.finished_at.is_not(None))
        .order_by(ReconcileRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


__all__ = [
    "BATCH_CLAIMS",
    "STALE_AFTER",
    "Batches",
    "ReconcileBusyError",
    "RunSummary",
    "abandon",
    "latest_run",
    "running_run",
    "start",
    "unfinished",
]
