"""The audit log's hash chain on SQLite and PostgreSQL: tampering with SQL is detected."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text
from typer.testing import CliRunner, Result

from gateway import audit
from gateway.audit import GENESIS, verify_chain
from gateway.db.base import Database
from gateway.db.migrate import upgrade
from tests.integration.helpers import Gateway, ingest


@pytest.fixture
def cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Run ``gateway audit ...`` in-process against ``gw`` (a subprocess costs seconds)."""
    for key, value in gw.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)
    yield CliRunner()
    structlog.reset_defaults()


def run(cli: CliRunner, *args: str) -> Result:
    from gateway.cli import app

    return cli.invoke(app, list(args))


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "medicare-part-a.835"


def _write(db: Database, n: int, actor: str = "tester") -> None:
    for i in range(n):
        with db.write() as s:
            audit.record(
                s,
                actor=actor,
                action="test",
                outcome="ok",
                reason=f"entry {i}",
                details={"i": i, "nested": {"b": [1, 2], "a": "x"}},
            )


def _verify(db: Database, anchor: tuple[int, str] | None = None) -> audit.ChainReport:
    with db.read() as s:
        return verify_chain(s, anchor)


def _sql(db: Database, sql: str) -> None:
    with db.engine.begin() as conn:
        for statement in sql.split(";"):
            conn.execute(text(statement))


def test_chain_links_every_entry_and_verifies(gw: Gateway) -> None:
    ingest(gw, FIXTURE.read_bytes(), "a.835")  # real pipeline entries (accept) join the chain
    _write(gw.db, 5)
    report = _verify(gw.db)
    assert report.ok
    assert report.entries >= 6
    assert report.head_seq == report.entries
    with gw.db.read() as s:
        first = next(audit.iter_entries(s))
    assert first.seq == 1
    assert first.prev_hash == GENESIS


def test_cli_verify_and_list(gw: Gateway, cli: CliRunner) -> None:
    _write(gw.db, 3)
    ok = run(cli, "audit", "verify", "--json")
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert out["ok"]
    assert out["entries"] == 3
    listed = run(cli, "audit", "list", "--json")
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.stdout)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    # entries written outside a request name the client "local" (the CLI, workers)
    assert entries[0]["details"] == {"client": "local", "i": 0, "nested": {"a": "x", "b": [1, 2]}}
    again = run(cli, "audit", "verify", "--anchor", out["head"])
    assert again.exit_code == 0
    assert "intact" in again.stdout
    assert run(cli, "audit", "verify", "--anchor", "3:nothex").exit_code == 2


def test_verify_as_a_subprocess_exits_1_on_tampering(gw: Gateway) -> None:
    """The real console entry point, once (a subprocess costs seconds here)."""
    _write(gw.db, 2)
    _sql(gw.db, "DELETE FROM audit_log WHERE seq = 1")
    proc = gw.cli("audit", "verify")
    assert proc.returncode == 1
    assert "broken at seq 1" in proc.stderr


@pytest.mark.parametrize(
    ("tamper", "seq", "kind"),
    [
        ("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3", 3, "edited"),
        ("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5", 5, "edited"),
        ("UPDATE audit_log SET details = NULL WHERE seq = 2", 2, "edited"),
        ("DELETE FROM audit_log WHERE seq = 4", 4, "missing"),
        ("DELETE FROM audit_log WHERE seq = 1", 1, "missing"),
        # swap two entries' positions: each now sits after the wrong predecessor
        (
            "UPDATE audit_log SET seq = -1 WHERE seq = 2;"
            " UPDATE audit_log SET seq = 2 WHERE seq = 3;"
            " UPDATE audit_log SET seq = 3 WHERE seq = -1",
            2,
            "relinked",
        ),
        # an entry written directly with SQL, pretending to be the next one
        (
            "INSERT INTO audit_log (at, actor, action, outcome, reason, seq, prev_hash, row_hash) "
            "VALUES (CURRENT_TIMESTAMP, 'x', 'x', 'x', '', 7, 'forged', 'forged')",
            7,
            "relinked",
        ),
    ],
)
def test_tampering_is_detected(
    gw: Gateway, cli: CliRunner, tamper: str, seq: int, kind: str
) -> None:
    _write(gw.db, 6)
    assert _verify(gw.db).ok
    _sql(gw.db, tamper)
    report = _verify(gw.db)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (seq, kind)
    result = run(cli, "audit", "verify")
    assert result.exit_code == 1
    assert f"broken at seq {seq}" in result.stderr.replace("\n", " ")


def test_rehashed_edit_still_breaks_the_next_link(gw: Gateway) -> None:
    """Editing an entry and recomputing its own hash moves the break to the next entry."""
    _write(gw.db, 4)
    with gw.db.read() as s:
        e = next(x for x in audit.iter_entries(s) if x.seq == 2)
    forged = audit.entry_hash(
        seq=2,
        at=e.at,
        actor=e.actor,
        action=e.action,
        file_id=e.file_id,
        outcome="denied",
        reason=e.reason,
        details=e.details,
        prev_hash=e.prev_hash,
    )
    with gw.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET outcome = 'denied', row_hash = :h WHERE seq = 2"),
            {"h": forged},
        )
    report = _verify(gw.db)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (3, "relinked")


def test_anchor_catches_deleting_the_newest_entries(gw: Gateway, cli: CliRunner) -> None:
    _write(gw.db, 5)
    head = _verify(gw.db)
    _sql(gw.db, "DELETE FROM audit_log WHERE seq >= 4")
    assert _verify(gw.db).ok  # a shorter chain is still a chain ...
    report = _verify(gw.db, (head.head_seq, head.head_hash))
    assert report.broken is not None
    assert report.broken.kind == "anchor"
    result = run(cli, "audit", "verify", "--anchor", f"{head.head_seq}:{head.head_hash}")
    assert result.exit_code == 1


def test_concurrent_writers_never_fork_the_chain(gw: Gateway) -> None:
    """Four threads, each with its own transactions: one linear chain, no duplicate seq."""
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            _write(gw.db, 15, actor=f"writer-{k}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    report = _verify(gw.db)
    assert report.ok
    assert report.entries == 60
    assert report.head_seq == 60


def test_migration_chains_existing_entries(db_url: str) -> None:
    """Entries written before 0006 get a chain when the schema is upgraded."""
    db = Database.from_url(db_url)
    try:
        from alembic import command

        from gateway.db.migrate import alembic_config

        cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with db.engine.begin() as conn:
            for i in range(3):
                conn.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, action, outcome, reason) "
                        "VALUES (CURRENT_TIMESTAMP, :a, 'old', 'ok', '')"
                    ),
                    {"a": f"a{i}"},
                )
        upgrade(db)
        report = _verify(db)
        assert report.ok
        assert report.entries == 3
    finally:
        db.dispose()
