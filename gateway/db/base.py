"""Engine and session factory for SQLite (embedded default) and PostgreSQL (psycopg 3).

SQLite is tuned for one writer and many readers: WAL, ``synchronous=FULL``, a busy timeout
and foreign keys on. FULL: every commit is on disk before it returns. A file is acknowledged
once its registry row commits, so that row must survive a power loss too (NORMAL survives only
a process crash; it was about 6 % faster for 2 KB uploads, which fsync their bytes anyway).
Transactions start with ``BEGIN IMMEDIATE`` so a transaction that reads and then writes takes
the write lock up front and waits on ``busy_timeout`` instead of failing with "database is
locked" when it tries to upgrade; read-only work uses ``read_session`` (plain deferred
``BEGIN``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from gateway.security.fsmodes import private_dir, private_file

if TYPE_CHECKING:
    from gateway.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Base(DeclarativeBase):
    """Declarative base of every gateway table."""


def _sqlite_setup(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (our "begin" hook) decide how transactions start.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def make_engine(url: str, lock_timeout_seconds: float | None = None) -> Engine:
    """An engine for ``url`` with our per-backend settings applied.

    ``lock_timeout_seconds`` bounds the wait for a lock (SQLite's busy timeout, 30 s when
    unset; PostgreSQL's ``lock_timeout``, none when unset): past it the statement fails with an
    error ``gateway.db.faults`` calls busy, so a held lock becomes a 503, not a hung request.
    Bound parameters are hidden from SQLAlchemy's error strings and echo: they hold PHI
    (patient control numbers, member ids), and an error's text reaches logged tracebacks.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if (
            parsed.database
            and parsed.database != ":memory:"
            and not parsed.database.startswith("file:")
        ):
            # private whatever the umask: SQLite gives -wal and -shm the database file's mode
            path = Path(parsed.database)
            private_dir(path.parent)
            private_file(path)
        busy_ms = (
            SQLITE_BUSY_TIMEOUT_MS
            if lock_timeout_seconds is None
            else int(lock_timeout_seconds * 1000)
        )
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000}, hide_parameters=True)
        _sqlite_setup(engine, busy_ms)
        return engine
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    if lock_timeout_seconds is not None:
        _pg_lock_timeout(engine, int(lock_timeout_seconds * 1000))
    return engine


def _pg_lock_timeout(engine: Engine, ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # a session setting, committed so it outlives this first transaction
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = {ms}")
        dbapi_conn.commit()


@dataclass
class Database:
    """An engine plus its session factories; built once per process (after any fork)."""

    engine: Engine
    session: sessionmaker[Session]
    _read: sessionmaker[Session]

    @classmethod
    def from_url(cls, url: str, lock_timeout_seconds: float | None = None) -> Database:
        engine = make_engine(url, lock_timeout_seconds)
        reader = engine.execution_options(sqlite_begin="DEFERRED")
        return cls(
            engine=engine,
            session=sessionmaker(engine, expire_on_commit=False),
            _read=sessionmaker(reader, expire_on_commit=False),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls.from_url(settings.resolved_database_url, settings.db_lock_timeout_seconds)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self.session.begin() as s:
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (on SQLite a deferred transaction that never blocks writers)."""
        with self._read() as s:
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
