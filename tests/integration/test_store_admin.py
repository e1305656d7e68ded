"""``gateway store migrate|prune|verify`` on SQLite and PostgreSQL registries."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Iterator
from typing import cast

import pytest
import structlog
from sqlalchemy import func, select, update
from typer.testing import CliRunner, Result

from gateway.cli import app
from gateway.db.models import AuditEntry, InboundFile
from gateway.db.types import tbl
from gateway.ingest.replay import replay
from gateway.intake import accept_bytes
from gateway.settings import get_settings
from gateway.store import BlobNotFoundError, store_from_settings
from gateway.store.admin import migrate
from gateway.store.postgres import PostgresRawStore
from gateway.store.s3 import S3RawStore
from gateway.store.tables import RawBlob, RawMigration, RawPrune
from gateway.worker import run_worker
from tests.integration.helpers import Gateway, ingest
from tests.integration.storekit import (
    moto_endpoint,  # noqa: F401  fixture
    new_bucket,
    s3_overrides,
)
from tests.integration.x12gen import make_835


def _out(result: Result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


@pytest.fixture
def cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for key, value in gw.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield CliRunner()
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    structlog.reset_defaults()


def _processed(gw: Gateway, n: int, base: int = 100) -> list[str]:
    shas = []
    for i in range(n):
        rep = ingest(gw, make_835(base + i, claims=1), f"f{i}.835")
        assert rep.state == "processed"
        with gw.db.read() as s:
            shas.append(
                s.execute(
                    select(InboundFile.sha256).where(InboundFile.id == rep.file_id)
                ).scalar_one()
            )
    return shas


def test_migrate_is_resumable_and_idempotent(
    gw: Gateway, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    shas = _processed(gw, 6)
    killed = gw.cli(
        "store",
        "migrate",
        "--to",
        "postgres",
        extra_env={"GATEWAY_TEST_CRASH_AT": "migrate_copied:2"},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    with gw.db.read() as s:
        assert s.execute(select(func.count()).select_from(RawMigration)).scalar_one() == 2

    resumed = cli.invoke(app, ["store", "migrate", "--to", "postgres"], terminal_width=200)
    assert resumed.exit_code == 0, resumed.output
    assert "copied 4" in _out(resumed)
    assert "done earlier 2" in _out(resumed)
    again = cli.invoke(app, ["store", "migrate", "--to", "postgres"], terminal_width=200)
    assert again.exit_code == 0, again.output
    assert "copied 0" in _out(again)
    assert "done earlier 6" in _out(again)

    target = store_from_settings(gw.settings, "postgres")  # encrypted: the same data key
    try:
        assert all(target.read(sha) == gw.store.read(sha) for sha in shas)
        with gw.db.read() as s:
            assert s.execute(select(func.count()).select_from(RawBlob)).scalar_one() == 6
    finally:
        target.dispose()

    monkeypatch.setenv("GATEWAY_RAW_STORE", "postgres")  # switch over
    checked = cli.invoke(app, ["store", "verify"], terminal_width=200)
    assert checked.exit_code == 0, checked.output
    assert "verified 6 files" in _out(checked)
    settings = get_settings(**{**gw.settings.model_dump(), "raw_store": "postgres"})
    with gw.db.read() as s:
        first = s.execute(select(InboundFile.id).order_by(InboundFile.id)).scalars().first()
    assert first is not None
    res = replay(
        gw.db, store_from_settings(settings), settings, first, actor="t", reason="after migration"
    )
    assert res.report.state == "processed"


def test_migrate_to_s3_verifies_and_reports_bad_sources(
    gw: Gateway, request: pytest.FixtureRequest
) -> None:
    endpoint: str = request.getfixturevalue("moto_endpoint")
    shas = _processed(gw, 3)
    bad = gw.store.path_for(shas[1])
    bad.chmod(0o640)
    bad.write_bytes(b"flipped on disk")
    settings = get_settings(
        **{**gw.settings.model_dump(), **s3_overrides(endpoint, new_bucket(endpoint))}
    )
    s3 = cast(S3RawStore, store_from_settings(settings))
    report = migrate(gw.db, gw.store, s3)
    assert (report.copied, len(report.problems)) == (2, 1)
    assert report.problems[0].code == "raw_corrupt"
    assert not s3.exists(shas[1])
    assert s3.read(shas[0]) == gw.store.read(shas[0])
    report = migrate(gw.db, gw.store, s3)  # the bad one is retried, the good ones are not
    assert (report.copied, report.skipped, len(report.problems)) == (0, 2, 1)


@pytest.mark.parametrize("backend", ["file", "postgres"])
def test_prune_respects_retention_states_and_audits(
    gw: Gateway, cli: CliRunner, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_RAW_STORE", backend)
    settings = get_settings(**{**gw.settings.model_dump(), "raw_store": backend})
    store = store_from_settings(settings)
    for i in range(3):
        accept_bytes(gw.db, store, make_835(300 + i, claims=1), source="t", original_name="ok")
    accept_bytes(gw.db, store, b"ISA*garbage", source="t", original_name="bad")

    run_worker(gw.db, store, settings, stop=threading.Event(), once=True)
    queued = accept_bytes(gw.db, store, make_835(399, claims=1), source="t", original_name="q")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3000)
    with gw.db.write() as s:
        s.execute(update(tbl(InboundFile)).values(received_at=long_ago, processed_at=long_ago))
        states = dict(s.execute(select(InboundFile.id, InboundFile.state)).all())
    assert sorted(states.values()) == ["failed", "processed", "processed", "processed", "received"]

    refused = cli.invoke(app, ["store", "prune", "--older-than", "30"], terminal_width=200)
    assert refused.exit_code == 2
    assert "below_retention" in _out(refused)
    done = cli.invoke(app, ["store", "prune", "--older-than", "2557"], terminal_width=200)
    assert done.exit_code == 0, done.output
    assert "pruned 3 files" in _out(done)
    again = cli.invoke(app, ["store", "prune", "--older-than", "30", "--force"], terminal_width=200)
    assert "pruned 0 files" in _out(again)

    with gw.db.read() as s:
        rows = s.execute(select(InboundFile.id, InboundFile.state, InboundFile.sha256)).all()
        pruned = set(s.execute(select(RawPrune.sha256)).scalars())
        audits = s.execute(
            select(AuditEntry.action, AuditEntry.file_id).where(
                AuditEntry.action.in_(("raw_prune", "raw_prune_run"))
            )
        ).all()
    assert len(rows) == 5  # registry rows and hashes stay
    for _, state, sha in rows:
        assert store.exists(sha) is (state != "processed")
        assert (sha in pruned) is (state == "processed")
    assert sorted(a for a, _ in audits) == ["raw_prune"] * 3 + ["raw_prune_run"]
    assert {fid for a, fid in audits if a == "raw_prune"} == {
        fid for fid, state, _ in rows if state == "processed"
    }
    assert queued.file_id in states

    checked = cli.invoke(app, ["store", "verify"], terminal_width=200)
    assert checked.exit_code == 0, checked.output
    assert "verified 2 files" in _out(checked)
    victim = next(fid for fid, state, _ in rows if state == "processed")
    res = replay(gw.db, store, settings, victim, actor="t", reason="after prune")
    assert res.report.state == "failed"
    assert res.report.error_code in ("raw_pruned", "raw_not_found")
    sha = next(sha for fid, _, sha in rows if fid == victim)
    with pytest.raises(BlobNotFoundError):
        store.read(sha)
    if isinstance(store, PostgresRawStore):
        with gw.db.read() as s:
            blob = s.execute(select(RawBlob).where(RawBlob.sha256 == sha)).scalar_one()
        assert blob.pruned_at is not None
        assert blob.chunk_count == 0
        store.dispose()
