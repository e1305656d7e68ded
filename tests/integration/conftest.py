"""Integration fixtures: real SQLite and a real throwaway PostgreSQL cluster.

``db_url`` is parametrised over ``sqlite`` and ``postgresql``. PostgreSQL: one cluster per
session (initdb as the ``postgres`` user in a ``tempfile.mkdtemp()`` dir, 127.0.0.1, a free
port, fsync off) unless ``GATEWAY_TEST_POSTGRES_URL`` points at a server; one migrated template
database, and a fresh database per test copied from it. The cluster is stopped by its PID.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.logging import configure_logging
from gateway.settings import get_settings
from gateway.store import store_from_settings
from gateway.store.file import FileRawStore
from tests.integration.helpers import ROOT, Gateway
from tests.integration.pgcluster import PostgresMissingError, bindir, throwaway_postgres

if (Path(__file__).parent / "sshd.py").exists():
    from tests.integration.sshd import *  # noqa: F403

TEMPLATE_DB = "gateway_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database, with a migrated template db."""
    external = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if external:
        _make_template(external)
        yield external
        return
    try:
        bindir()
    except PostgresMissingError as exc:
        pytest.fail(f"{exc} (CI must not skip)")
    with throwaway_postgres(
        "fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=60"
    ) as base:
        _make_template(base)
        yield base


def _admin(base: str, sql: str) -> None:
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _make_template(base: str) -> None:
    _admin(base, f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
    _admin(base, f"CREATE DATABASE {TEMPLATE_DB}")
    db = Database.from_url(make_url(base).set(database=TEMPLATE_DB).render_as_string(False))
    try:
        upgrade(db)
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "gateway.db"
    db = Database.from_url(f"sqlite:///{path}")
    try:
        upgrade(db)
    finally:
        db.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A fresh, migrated database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "gateway.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    base = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(base, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    yield make_url(base).set(database=name).render_as_string(False)
    _admin(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def gw(db_url: str, tmp_path: Path) -> Iterator[Gateway]:
    data_dir = tmp_path / "data"
    overrides = {
        "data_dir": data_dir,
        "database_url": db_url,
        "lease_seconds": 30,
        "worker_poll_seconds": 0.05,
        "max_attempts": 100,
        "log_format": "json",
        "log_level": "WARNING",
    }
    settings = get_settings(**overrides)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({f"GATEWAY_{k.upper()}": str(v) for k, v in overrides.items()})
    env["PYTHONPATH"] = str(ROOT)
    db = Database.from_settings(settings)
    store = store_from_settings(settings)  # encrypting: the keys file's data key, by default
    assert isinstance(store, FileRawStore)
    try:
        yield Gateway(settings, db, store, env)
    finally:
        db.dispose()


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The process's structured log at INFO as JSON on (captured) stderr, put back afterwards.

    A test that asserts what is (or is not) logged needs this: an earlier in-process CLI call
    may have configured the level from ``GATEWAY_LOG_LEVEL=WARNING``, hiding the lines.
    """
    configure_logging("INFO", "json")
    try:
        yield
    finally:
        configure_logging("INFO", "auto")
