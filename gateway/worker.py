"""Workers: claim files from the registry under a lease and process them.

``run_worker`` is the loop of one worker (one process). ``run_workers`` starts N such processes
(spawned, each with its own engine) for PostgreSQL; SQLite allows one writer, so one worker.
SIGTERM/SIGINT stop a worker after the file in hand (a worker killed mid-file loses nothing:
its transaction rolls back and the file is claimed again when the lease expires).

A busy or unreachable database, or a full disk (``gateway.db.faults``), does not end the loop:
the claim or the load is retried with jittered exponential backoff (tenacity, up to
``MAX_BACKOFF_SECONDS`` between tries, interruptible by ``stop``) and one ``worker_waiting``
line is logged per try. A load rolled back by such a fault left nothing partial; we still hold
the lease, so the same file is simply loaded again.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TypeVar

import tenacity

from gateway.db.base import Database
from gateway.db.faults import classify, is_environmental
from gateway.ingest.queue import claim_next, worker_id
from gateway.ingest.service import Outcome, process_file
from gateway.logging import configure_logging, get_logger
from gateway.settings import Settings, get_settings
from gateway.store import store_from_settings
from gateway.store.base import RawStore
from schemas.states import FileState

log = get_logger("gateway.worker")
T = TypeVar("T")
#: longest wait between two tries while the database is busy or the disk full
MAX_BACKOFF_SECONDS = 30.0
#: webhook deliveries sent each time the worker finds no file to process
WEBHOOKS_PER_IDLE = 50


class _StoppedError(Exception):
    """``stop`` was set while waiting out a fault."""


@dataclass
class WorkerStats:
    processed: int = 0
    failed: int = 0
    #: tries that hit a busy/unreachable database or a full disk and were waited out
    retries: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def _patient(
    stop: threading.Event,
    stats: WorkerStats,
    operation: str,
    on_retry: Callable[[BaseException], None] | None,
) -> tenacity.Retrying:
    """Retry environmental faults until they pass or ``stop`` is set (then ``_StoppedError``)."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        stats.retries += 1
        fault = classify(exc) if exc is not None else None
        log.warning(
            "worker_waiting",
            operation=operation,
            attempt=state.attempt_number,
            fault=fault.value if fault else None,
            error_type=type(exc).__name__ if exc else None,
            sleep_seconds=round(state.upcoming_sleep, 2),
        )
        if on_retry is not None and exc is not None:
            on_retry(exc)

    def stopped(_state: tenacity.RetryCallState) -> bool:
        return stop.is_set()

    def give_up(_state: tenacity.RetryCallState) -> None:
        raise _StoppedError

    def sleep(seconds: float) -> None:
        stop.wait(seconds)  # a stop request ends the wait at once

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_environmental),
        stop=stopped,
        wait=(
            tenacity.wait_exponential(multiplier=0.25, max=MAX_BACKOFF_SECONDS)
            + tenacity.wait_random(0, 0.25)
        ),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=give_up,
    )


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
    on_retry: Callable[[BaseException], None] | None = None,
) -> WorkerStats:
    """Claim and process files until ``stop`` is set (or, with ``once``, the queue is empty).

    ``on_retry`` is called with each environmental fault waited out (tests, metrics).
    """
    me = owner or worker_id()
    stats = WorkerStats()
    claim = _patient(stop, stats, "claim", on_retry)
    load = _patient(stop, stats, "process", on_retry)
    log.info("worker_started", owner=me)
    while not stop.is_set():
        if max_files is not None and stats.processed + stats.failed >= max_files:
            break
        try:
            file_id = claim(
                claim_next,
                db,
                me,
                lease_seconds=settings.lease_seconds,
                max_attempts=settings.max_attempts,
            )
        except _StoppedError:
            break
        if file_id is None:
            _send_webhooks(db, settings, me)
            if once:
                break
            stop.wait(settings.worker_poll_seconds)
            continue
        try:
            outcome = load(process_file, db, store, file_id, owner=me, settings=settings)
        except _StoppedError:
            break  # rolled back; the lease expires and the file is claimed again
        if outcome.state == FileState.PROCESSED:
            stats.processed += 1
        elif outcome.state == FileState.FAILED:
            stats.failed += 1
        if on_outcome is not None:
            on_outcome(outcome)
    log.info("worker_stopped", owner=me, processed=stats.processed, failed=stats.failed)
    return stats


def _send_webhooks(db: Database, settings: Settings, owner: str) -> None:
    """Idle time: send due webhook deliveries (``gateway.webhooks``); never fatal."""
    from gateway.webhooks.deliver import drain

    try:
        drain(db, settings, owner=owner, max_deliveries=WEBHOOKS_PER_IDLE)
    except Exception as exc:  # noqa: BLE001 - busy database or broken row: retried when idle
        log.warning("webhooks_skipped", error_type=type(exc).__name__)


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
        run_worker(
            db, store_from_settings(settings), settings, stop=stop, once=once, max_files=max_files
        )
    finally:
        db.dispose()


def run_workers(concurrency: int, *, once: bool = False, max_files: int | None = None) -> int:
    """Run ``concurrency`` worker processes until they end or a signal stops them.

    Returns the number of children that exited abnormally.
    """
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_child, args=(once, max_files), name=f"gateway-worker-{i}")
        for i in range(concurrency)
    ]
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
