"""A reconciliation run commits in bounded batches (issue 17 item 5): another writer gets the
SQLite write lock between two batches instead of waiting out the run, a run that aborts or
crashes midway leaves a state the next run completes (the same credits, waits and variances
as an uninterrupted run), and two runs never interleave.

The data comes from the reconcile bench's generator (bench/reconcile_bench.py, in this
repository): 2,000 claims of the matched shape and 1,000 paid claims no 837 or ledger knows.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sqlite3
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import insert, text

from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.db.types import tbl, utcnow
from gateway.reconcile import chunk, latest_run, run_reconcile, service
from gateway.reconcile.tables import ReconcileRun

#: inside the payers' ledger lag for the claims no ledger knows: they wait (claim_waits)
AS_OF = dt.date(2026, 7, 20)
BATCH = 200


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "reconcile_bench.py"
    spec = importlib.util.spec_from_file_location("reconcile_bench", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def _db(folder: Path) -> tuple[Database, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gateway.db"
    db = Database.from_url(f"sqlite:///{path}")
    upgrade(db)
    BENCH.generate(db, 2000, shape="matched")
    BENCH.generate(db, 1000, start=2000, shape="no837")
    return db, path


def _state(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """What readers see: credits, claim waits and posting variances (ids left out)."""
    with db.read() as s:
        return {
            "credits": sorted(
                tuple(r)
                for r in s.execute(
                    text(
                        "SELECT provider_id, patient_control_number, owed_to, payer_id, cause, "
                        "CAST(ROUND(amount * 100) AS INTEGER), status, identified_on "
                        "FROM credits"
                    )
                )
            ),
            "waits": sorted(
                tuple(r)
                for r in s.execute(
                    text(
                        "SELECT provider_id, patient_control_number, until, payer_id, "
                        "CAST(ROUND(amount * 100) AS INTEGER) FROM claim_waits"
                    )
                )
            ),
            "variances": sorted(
                tuple(r)
                for r in s.execute(
                    text(
                        "SELECT provider_id, patient_control_number, payer_id, kind, "
                        "CAST(ROUND(difference * 100) AS INTEGER) FROM posting_variances"
                    )
                )
            ),
        }


def _chunks(monkeypatch: pytest.MonkeyPatch, before: dict[int, Any]) -> list[int]:
    """Count candidate chunks; ``before[n]`` runs at the start of the n-th (1-based)."""
    calls: list[int] = []
    original = chunk.reconcile_chunk  # what service.reconcile_chunk names

    def spy(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        hook = before.get(len(calls))
        if hook is not None:
            hook()
        original(*args, **kwargs)

    monkeypatch.setattr(service, "reconcile_chunk", spy)
    return calls


def test_another_writer_commits_between_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upload (here: a raw write with a 5 s busy timeout) while a long reconcile runs
    gets the write lock at the next batch boundary instead of failing with 'database is
    locked' (the whole run used to be one write transaction)."""
    db, path = _db(tmp_path)
    outcome: list[str] = []

    def upload() -> None:
        raw = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(
                "INSERT INTO providers (key, npi, tin, name, created_at) "
                "VALUES ('npi:1999999999', '1999999999', NULL, 'UPLOAD', ?)",
                (utcnow().isoformat(),),
            )
            raw.execute("COMMIT")
            outcome.append("committed")
        except sqlite3.OperationalError as exc:
            outcome.append(str(exc))
        finally:
            raw.close()

    def concurrently() -> None:
        t = threading.Thread(target=upload)
        t.start()
        t.join()

    calls = _chunks(monkeypatch, {2: concurrently})
    res = run_reconcile(db, as_of=AS_OF, full=True, batch_claims=BATCH)
    assert outcome == ["committed"]
    assert len(calls) == -(-res.candidates // BATCH) >= 5
    with db.read() as s:
        assert (
            s.execute(text("SELECT COUNT(*) FROM providers WHERE name = 'UPLOAD'")).scalar_one()
            == 1
        )
    monkeypatch.undo()
    batched = _state(db)
    run_reconcile(db, as_of=AS_OF, full=True)  # one batch: the same results
    assert _state(db) == batched
    db.dispose()


def test_aborted_run_is_completed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed midway (after some batches committed) is not final, does not block the
    next run, and the next (incremental) run is a full one that ends in the same state as
    a run that was never interrupted."""
    ref, _ = _db(tmp_path / "ref")
    run_reconcile(ref, as_of=AS_OF, full=True)
    BENCH.new_remittance(ref, 400, 2000)
    run_reconcile(ref, as_of=AS_OF)
    want = _state(ref)
    ref.dispose()

    db, _ = _db(tmp_path / "run")
    run_reconcile(db, as_of=AS_OF, full=True)
    before = _state(db)
    BENCH.new_remittance(db, 400, 2000)

    def kill() -> None:
        raise RuntimeError("killed mid-run")

    calls = _chunks(monkeypatch, {3: kill})
    with pytest.raises(RuntimeError, match="killed"):
        run_reconcile(db, as_of=AS_OF, full=True, batch_claims=BATCH)
    assert len(calls) == 3
    partial = _state(db)
    assert partial != before
    assert partial != want
    with db.read() as s:
        assert service.running_run(s) is None
        finished = latest_run(s)
        assert finished is not None
        assert finished.id == 1
    monkeypatch.undo()

    res = run_reconcile(db, as_of=AS_OF, batch_claims=BATCH)
    assert (res.mode, res.reason) == ("full", "run 2 did not finish")
    assert _state(db) == want
    db.dispose()


def test_crashed_run_goes_stale_and_a_live_one_excludes_others(tmp_path: Path) -> None:
    """A run that died without a word (its heartbeat stopped) is taken for crashed once
    stale, and the next run redoes everything; a run whose heartbeat is fresh is under way,
    so a second run is refused instead of interleaving its batches with it."""
    db, _ = _db(tmp_path)
    run_reconcile(db, as_of=AS_OF, full=True)
    want = _state(db)
    runs = tbl(ReconcileRun)
    zero = dict.fromkeys(
        (
            "files",
            "scope_claims",
            "candidates",
            "credits_new",
            "credits_resolved",
            "credits_open",
            "credits_pending",
            "variances",
        ),
        0,
    )
    with db.write() as s:
        s.execute(
            insert(runs).values(
                as_of=AS_OF, mode="full", actor="t", duration_ms=1000, started_at=utcnow(), **zero
            )
        )
    with pytest.raises(service.ReconcileBusyError):
        run_reconcile(db, as_of=AS_OF)
    with db.write() as s:
        s.execute(
            text("UPDATE reconcile_runs SET started_at = :t WHERE finished_at IS NULL"),
            {"t": utcnow() - service.STALE_AFTER - dt.timedelta(minutes=1)},
        )
        s.execute(text("DELETE FROM credits WHERE id % 3 = 0"))  # the crash's half-done work
    res = run_reconcile(db, as_of=AS_OF)
    assert res.mode == "full"
    assert "did not finish" in res.reason
    assert _state(db) == want
    db.dispose()
