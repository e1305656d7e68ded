"""Operations on the raw store as a whole: migrate between backends, prune, verify.

All three walk the registry (``inbound_files``), not the backend's listing: the registry says
which raw files exist and which processed files are old enough to prune. They page by file id,
so memory stays flat however many files there are.

* ``migrate`` copies every registered, unpruned raw file to another backend, verifying the
  sha256 on the way (the source reader re-hashes, the target's put computes the address again).
  Each copied file is recorded in ``raw_migrations`` keyed by the target's location, so a
  killed migration resumes without recopying and a second run copies nothing.
* ``prune`` removes the bytes of *processed* files received and processed more than N days ago,
  keeping the registry row (with its sha256), the events and the audit trail; a
  ``raw_prunes`` row and an audit entry per file are written in the transaction that deletes
  the bytes (for the ``postgres`` backend the deletion itself is in that transaction).
* ``verify`` re-hashes every raw file that should be present.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from gateway import audit
from gateway.crashpoints import crash_point
from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.types import utcnow
from gateway.errors import ConfigError, InputError
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.store.base import (
    CHUNK,
    BlobCorruptError,
    BlobNotFoundError,
    ManagedRawStore,
    TransactionalRawStore,
)
from gateway.store.tables import RawMigration, RawPrune
from schemas.states import FileState

log = get_logger("gateway.store")
F = InboundFile
PAGE = 500


@dataclass(frozen=True, slots=True)
class Problem:
    file_id: int
    sha256: str
    code: str
    message: str


@dataclass
class MigrateReport:
    target: str
    copied: int = 0
    already_there: int = 0
    skipped: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class PruneReport:
    cutoff: dt.datetime
    pruned: int = 0
    bytes: int = 0
    file_ids: list[int] = field(default_factory=list)


@dataclass
class VerifyReport:
    checked: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)


def _pages(db: Database, where: Callable[[], list[Any]]) -> Iterator[list[Any]]:
    """Registry rows (id, sha256, size) matching ``where()``, in id order, a page at a time."""
    last = 0
    while True:
        with db.read() as s:
            rows = s.execute(
                select(F.id, F.sha256, F.size)
                .where(F.id > last, *where())
                .order_by(F.id)
                .limit(PAGE)
            ).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1].id


def total(db: Database, where: Callable[[], list[Any]]) -> int:
    """How many registry rows ``_pages`` will walk (for progress; rows may change meanwhile)."""
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(F).where(*where())).scalar_one())


def _not_pruned() -> Any:
    return ~exists().where(RawPrune.sha256 == F.sha256)


def _drain(store: ManagedRawStore, sha256: str) -> int:
    """Read a stored file to its end (the reader verifies its sha256); its size."""
    n = 0
    with store.open(sha256) as fh:
        while chunk := fh.read(CHUNK):
            n += len(chunk)
    return n


def migrate(
    db: Database,
    source: ManagedRawStore,
    target: ManagedRawStore,
    *,
    on_file: Callable[[int], None] | None = None,
    progress: Progress = no_progress,
) -> MigrateReport:
    """Copy every registered raw file from ``source`` to ``target``; resumable, idempotent.

    ``progress`` hears the files handled out of those left to copy at the start."""
    if source.location == target.location:
        raise ConfigError(
            f"source and target are the same store ({target.location})", code="same_store"
        )
    report = MigrateReport(target.location)
    with db.read() as s:
        report.skipped = s.execute(
            select(func.count())
            .select_from(RawMigration)
            .where(RawMigration.target == target.location)
        ).scalar_one()

    def remaining() -> list[Any]:
        return [
            _not_pruned(),
            ~exists().where(
                RawMigration.target == target.location, RawMigration.sha256 == F.sha256
            ),
        ]

    todo, done = (total(db, remaining) if progress is not no_progress else 0), 0
    for page in _pages(db, remaining):
        for row in page:
            done += 1
            progress(done, todo)
            try:
                if target.exists(row.sha256):
                    _drain(target, row.sha256)  # there already (earlier run killed): verify
                    report.already_there += 1
                else:
                    with source.open(row.sha256) as fh:
                        blob = target.put(fh)
                    if blob.sha256 != row.sha256:  # pragma: no cover - the reader raises first
                        raise BlobCorruptError("copied bytes do not match their sha256")
                    report.copied += 1
                    report.bytes += blob.size
            except (BlobNotFoundError, BlobCorruptError) as exc:
                report.problems.append(Problem(row.id, row.sha256, exc.code, exc.message))
                log.warning("raw_migrate_problem", file_id=row.id, error_code=exc.code)
                continue
            with db.write() as s:
                s.execute(
                    insert(RawMigration).values(
                        target=target.location, sha256=row.sha256, copied_at=utcnow()
                    )
                )
            crash_point("migrate_copied")
            if on_file is not None:
                on_file(row.id)
    log.info(
        "raw_migrated",
        target=target.location,
        copied=report.copied,
        already_there=report.already_there,
        skipped=report.skipped,
        problems=len(report.problems),
    )
    return report


def check_prune_period(older_than_days: int, retention_days: int, *, force: bool) -> None:
    if older_than_days < 0:
        raise InputError("--older-than must not be negative", code="bad_period")
    if older_than_days < retention_days and not force:
        raise InputError(
            f"{older_than_days} days is shorter than the retention period of {retention_days} "
            "days (GATEWAY_RAW_RETENTION_DAYS); pass --force to prune anyway",
            code="below_retention",
        )


def prunable(
    db: Database, older_than_days: int, *, now: dt.datetime | None = None
) -> Iterator[list[Any]]:
    cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
    # rows may share a blob (a ledger two providers uploaded, migration 0016): it goes only
    # when none of them still needs it
    other = aliased(F)
    needed = exists().where(
        other.sha256 == F.sha256,
        other.id != F.id,
        or_(
            other.state != FileState.PROCESSED.value,
            other.received_at >= cutoff,
            other.processed_at.is_(None),
            other.processed_at >= cutoff,
        ),
    )
    return _pages(
        db,
        lambda: [
            F.state == FileState.PROCESSED.value,
            F.received_at < cutoff,
            F.processed_at < cutoff,
            _not_pruned(),
            ~needed,
        ],
    )


def prune(
    db: Database,
    store: ManagedRawStore,
    *,
    older_than_days: int,
    retention_days: int,
    actor: str,
    force: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: Progress = no_progress,
) -> PruneReport:
    """Remove the raw bytes of processed files older than ``older_than_days``; audited.

    ``progress`` hears the files handled (total unknown: pages are read as they go)."""
    check_prune_period(older_than_days, retention_days, force=force)
    now = now or utcnow()
    report = PruneReport(now - dt.timedelta(days=older_than_days))
    reason = f"retention: received and processed over {older_than_days} days ago"
    done = 0
    for page in prunable(db, older_than_days, now=now):
        for row in page:
            done += 1
            progress(done)
            if dry_run:
                report.pruned += 1
                report.bytes += row.size
                report.file_ids.append(row.id)
                continue
            with db.write() as s:
                if not _still_processed(s, row.id):
                    continue  # replayed meanwhile: not ours to prune now
                if isinstance(store, TransactionalRawStore):
                    removed = store.delete_in(s, row.sha256)
                else:
                    removed = store.delete(row.sha256)
                s.execute(
                    insert(RawPrune).values(
                        sha256=row.sha256,
                        pruned_at=utcnow(),
                        location=store.location[:512],
                        actor=actor[:128],
                    )
                )
                audit.record(
                    s,
                    actor=actor,
                    action="raw_prune",
                    outcome="pruned" if removed else "already_absent",
                    file_id=row.id,
                    reason=reason,
                    details={
                        "sha256": row.sha256,
                        "size": row.size,
                        "older_than_days": older_than_days,
                        "force": force,
                    },
                )
            report.pruned += 1
            report.bytes += row.size
            report.file_ids.append(row.id)
    if not dry_run and report.pruned:
        with db.write() as s:
            audit.record(
                s,
                actor=actor,
                action="raw_prune_run",
                outcome="done",
                reason=reason,
                details={
                    "files": report.pruned,
                    "bytes": report.bytes,
                    "older_than_days": older_than_days,
                    "force": force,
                    "cutoff": report.cutoff.isoformat(),
                },
            )
    log.info(
        "raw_pruned",
        files=report.pruned,
        bytes=report.bytes,
        dry_run=dry_run,
        older_than_days=older_than_days,
    )
    return report


def _still_processed(session: Session, file_id: int) -> bool:
    state = session.execute(
        select(F.state).where(F.id == file_id).with_for_update()
    ).scalar_one_or_none()
    return state == FileState.PROCESSED.value


def verify(
    db: Database, store: ManagedRawStore, *, progress: Progress = no_progress
) -> VerifyReport:
    """Re-hash every registered raw file that has not been pruned (``progress``: files)."""
    report = VerifyReport()
    todo = total(db, lambda: [_not_pruned()]) if progress is not no_progress else 0
    for page in _pages(db, lambda: [_not_pruned()]):
        for row in page:
            progress(report.checked + len(report.problems) + 1, todo)
            try:
                report.bytes += _drain(store, row.sha256)
                report.checked += 1
            except (BlobNotFoundError, BlobCorruptError) as exc:
                report.problems.append(Problem(row.id, row.sha256, exc.code, exc.message))
    log.info("raw_verified", checked=report.checked, problems=len(report.problems))
    return report
