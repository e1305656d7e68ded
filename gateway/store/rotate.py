"""Re-encrypt every raw file under the active data key (``gateway keys rotate-data-key``).

Walks the registry (``inbound_files``) by file id in batches. Each raw file is rewritten by its
backend's ``reencrypt`` (atomically: a rename, an S3 PUT, or one database transaction), so
readers keep working throughout as long as the old key ids stay in ``GATEWAY_DATA_KEYS``.
Idempotent: a file already under the active key is only looked at (its header), so a killed
run simply resumes; each finished batch is recorded in the audit log with the last file id.
Legacy plaintext (stored before keys were configured) is encrypted too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway import audit
from gateway.db.base import Database
from gateway.errors import ConfigError
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.store.admin import Problem, _not_pruned, _pages, total
from gateway.store.base import BlobCorruptError, BlobNotFoundError, ManagedRawStore

log = get_logger("gateway.store")


@dataclass
class RotateReport:
    key_id: str
    rewritten: int = 0
    already: int = 0
    batches: int = 0
    problems: list[Problem] = field(default_factory=list)


def rotate_raw(
    db: Database,
    store: ManagedRawStore,
    *,
    key_id: str,
    actor: str,
    on_file: Callable[[int], None] | None = None,
    progress: Progress = no_progress,
) -> RotateReport:
    """Rewrite every registered, unpruned raw file not yet under ``key_id`` (the active key).

    ``progress`` hears the registry rows handled out of those registered at the start."""
    reencrypt = getattr(store, "reencrypt", None)
    if reencrypt is None:
        raise ConfigError(f"raw store {store.location} cannot re-encrypt", code="no_reencrypt")
    report = RotateReport(key_id)
    seen: set[str] = set()
    todo, done = (total(db, lambda: [_not_pruned()]) if progress is not no_progress else 0), 0
    for page in _pages(db, lambda: [_not_pruned()]):
        for row in page:
            done += 1
            progress(done, todo)
            if row.sha256 in seen:
                continue
            seen.add(row.sha256)
            try:
                if reencrypt(row.sha256):
                    report.rewritten += 1
                else:
                    report.already += 1
            except (BlobNotFoundError, BlobCorruptError) as exc:
                report.problems.append(Problem(row.id, row.sha256, exc.code, exc.message))
                log.warning("raw_rotate_problem", file_id=row.id, error_code=exc.code)
            if on_file is not None:
                on_file(row.id)
        report.batches += 1
        with db.write() as s:
            audit.record(
                s,
                actor=actor,
                action="data_key_rotate_batch",
                outcome="ok",
                details={
                    "key_id": key_id,
                    "last_file_id": page[-1].id,
                    "rewritten": report.rewritten,
                    "already": report.already,
                },
            )
    log.info(
        "raw_rotated",
        key_id=key_id,
        rewritten=report.rewritten,
        already=report.already,
        problems=len(report.problems),
    )
    return report


__all__ = ["RotateReport", "rotate_raw"]
