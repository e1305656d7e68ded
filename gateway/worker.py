"""Workers: claim files from the registry under a lease and process them.

``run_worker`` is the loop of one worker (one process). ``run_workers`` starts N such processes
(spawned, each with its own engine) for PostgreSQL; SQLite allows one writer, so one worker.
SIGTERM/SIGINT stop a worker after the file in hand (a worker killed mid-file loses nothing:
its transaction rolls back and the file is claimed again when the lease expires).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from gateway.db.base import Database
from gateway.ingest.queue import claim_next
from gateway.ingest.service import Outcome, process_file
from gateway.logging import configure_logging, get_logger
from gateway.settings import Settings, get_settings
from gateway.store import store_from_settings
from gateway.store.base import RawStore

log = get_logger("gateway.worker")


def worker_id() -> str:
    """host:pid:random — unique per worker process, readable in ``lease_owner``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def run_worker(
    db: Database,
    store: RawStore,
    settings: Settings,
    *,
    stop: threading.Event,
    once: bool = False,
    max_files: int | None = None,
    owner: str | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> WorkerStats:
    """Claim and process files until ``stop`` is set (or, with ``once``, the queue is empty)."""
    me = owner or worker_id()
    stats = WorkerStats()
    log.info("worker_started", owner=me)
    while not stop.is_set():
        if max_files is not None and stats.processed + stats.failed >= max_files:
            break
        file_id = claim_next(db, me, lease_seconds=settings.lease_seconds,
                             max_attempts=settings.max_attempts)
        if file_id is None:
            if once:
                break
            stop.wait(settings.worker_poll_seconds)
            continue
        outcome = process_file(db, store, file_id, owner=me)
        if outcome.state == "processed":
            stats.processed += 1
        elif outcome.state == "failed":
            stats.failed += 1
        if on_outcome is not None:
            on_outcome(outcome)
    log.info("worker_stopped", owner=me, processed=stats.processed, failed=stats.failed)
    return stats


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the loop to stop after the current file."""
    def _handler(signum: int, _frame: FrameType | None) -> None:
        log.info("worker_stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


def _child(once: bool, max_files: int | None) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    stop = threading.Event()
    install_stop_handlers(stop)
    db = Database.from_settings(settings)
    try:
        run_worker(db, store_from_settings(settings), settings, stop=stop, once=once,
                   max_files=max_files)
    finally:
        db.dispose()


def run_workers(concurrency: int, *, once: bool = False, max_files: int | None = None) -> int:
    """Run ``concurrency`` worker processes until they end or a signal stops them.

    Returns the number of children that exited abnormally.
    """
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_child, args=(once, max_files), name=f"gateway-worker-{i}")
             for i in range(concurrency)]
    for p in procs:
        p.start()

    def _forward(signum: int, _frame: FrameType | None) -> None:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signum)

    previous = {sig: signal.signal(sig, _forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for p in procs:
            p.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return sum(1 for p in procs if p.exitcode != 0)
