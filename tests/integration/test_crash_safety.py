"""Crash safety: SIGKILL worker processes at 25+ points, restart, compare with a clean run.

Kill points come from ``GATEWAY_TEST_CRASH_AT=<label>:<n>`` (see ``gateway.crashpoints``):
inside transactions (``claim``, ``batch``, ``before_commit``, ``fail_commit``) and between
them (``load_begin``, ``after_commit``), chosen at random with a fixed seed. The first kill
hits a real ``gateway worker`` subprocess; the rest hit worker processes forked from the test
(same loop, no interpreter start-up) so 25+ kills per backend stay within seconds. Each
process handles at most three files, so the queue cannot drain before enough kills happened.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time

from sqlalchemy import delete, func, select

from gateway import crashpoints as faults
from gateway.db.base import Database
from gateway.db.models import DERIVED_TABLES, AuditEntry, FileEvent, InboundFile, Provider
from gateway.db.types import tbl
from gateway.ingest.tables import FileAck
from gateway.intake import accept_bytes
from gateway.settings import Settings
from gateway.store import store_from_settings
from gateway.worker import run_worker
from tests.integration.helpers import Gateway, snapshot
from tests.integration.x12gen import make_835, make_837

LABELS = ("claim", "load_begin", "batch", "before_commit", "after_commit", "fail_commit")
KILLS = 26


def _files() -> list[bytes]:
    files = [make_835(7000 + i, claims=2) for i in range(60)]
    files += [make_837(7100 + i) for i in range(6)]
    good = make_835(7200)
    # bad files early and late, so ``fail_commit`` is reached while work remains
    files.insert(3, good[: len(good) // 2])
    files.insert(20, good.replace(b"SE*", b"SE*9", 1))
    files.append(b"not x12 at all")
    return files


def _child(settings: Settings, spec: str) -> None:
    """A worker process: a fresh engine, at most three files, maybe killed at ``spec``."""
    code = 0
    try:
        os.environ["GATEWAY_TEST_CRASH_AT"] = spec
        faults._counts.clear()
        db = Database.from_settings(settings)
        run_worker(
            db,
            store_from_settings(settings),
            settings,
            stop=threading.Event(),
            once=True,
            max_files=3,
        )
        db.dispose()
    except BaseException:  # report, but never run the parent's pytest machinery here
        code = 3
    os._exit(code)


def _forked_worker(gw: Gateway, settings: Settings, spec: str) -> int | None:
    gw.db.dispose()  # no pooled connection may be shared with the child
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(settings, spec))
    proc.start()
    proc.join(60)
    return proc.exitcode


def _enqueue(gw: Gateway, files: list[bytes]) -> None:
    for i, data in enumerate(files):
        accept_bytes(gw.db, gw.store, data, source="test", original_name=f"f{i}.x12")


def _drain(gw: Gateway) -> None:
    """Run a worker in-process until every file is processed or failed."""
    settings = gw.settings.model_copy(update={"lease_seconds": 1})
    deadline = time.monotonic() + 60
    while True:
        run_worker(gw.db, gw.store, settings, stop=threading.Event(), once=True)
        with gw.db.read() as s:
            pending = s.execute(
                select(func.count())
                .select_from(InboundFile)
                .where(InboundFile.state.in_(("received", "processing")))
            ).scalar_one()
        if pending == 0:
            return
        assert time.monotonic() < deadline, "queue did not drain"
        time.sleep(0.3)


def _reset(gw: Gateway) -> None:
    with gw.db.write() as s:
        for model in (AuditEntry, FileEvent, *DERIVED_TABLES, FileAck, InboundFile, Provider):
            s.execute(delete(tbl(model)))


def test_sigkill_at_many_points_loses_and_duplicates_nothing(gw: Gateway) -> None:
    files = _files()
    _enqueue(gw, files)
    _drain(gw)
    clean = snapshot(gw.db)
    states = {r[1] for r in clean["inbound_files"]}
    assert states == {"processed", "failed"}

    _reset(gw)
    _enqueue(gw, files)
    proc = gw.cli(
        "worker",
        "--once",
        timeout=120,
        extra_env={"GATEWAY_LEASE_SECONDS": "1", "GATEWAY_TEST_CRASH_AT": "before_commit:2"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    kills = 1
    points = ["cli:before_commit:2"]
    settings = gw.settings.model_copy(update={"lease_seconds": 1})
    rnd = random.Random(20261122)
    for _ in range(KILLS * 4):
        label = rnd.choice(LABELS)
        n = rnd.randint(1, 2) if label != "fail_commit" else 1
        code = _forked_worker(gw, settings, f"{label}:{n}")
        if code == -signal.SIGKILL:
            kills += 1
            points.append(f"{label}:{n}")
        else:
            assert code == 0
        if kills >= KILLS:
            break
    assert kills >= 25, points
    assert len(set(points)) >= 10, points
    _drain(gw)

    assert snapshot(gw.db) == clean
    with gw.db.read() as s:
        done = s.execute(
            select(FileEvent.file_id, func.count())
            .where(FileEvent.to_state.in_(("processed", "failed")))
            .group_by(FileEvent.file_id)
        ).all()
    assert len(done) == len(files)
    assert all(n == 1 for _, n in done)
