"""Driver-level bulk inserts on the session's own connection, in its transaction.

The per-claim rows of a file (claims, service lines, adjustments, 837 lines) and the credits
of a reconcile run are too many for per-row ORM or Core inserts:

- ids of parent rows are allocated up front instead of read back with ``RETURNING``: from the
  table's sequence on PostgreSQL (``nextval`` over ``generate_series``, one round trip per
  batch), and after ``MAX(id)`` on SQLite, where our transaction holds the single write lock
  (``BEGIN IMMEDIATE``) so nobody else can insert meanwhile;
- values are converted by the same SQLAlchemy bind processors a Core insert would use, so the
  stored values are identical (SQLite: Decimal to float, date to ISO text);
- PostgreSQL loads with ``COPY ... FROM STDIN``, SQLite with the driver's ``executemany``;
- driver errors are re-raised as the SQLAlchemy exception a Core insert would have raised
  (``DataError``, ``IntegrityError`` ...), which the service maps to quarantine codes.

Nothing here commits.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Table
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.ingest import rows

#: SQLite page cache while loading, in KiB (negative: a size, not a page count). Measured on
#: 20,000 and 100,000 claims (CPU seconds of ``worker --once``, 2026-12-03): 2, 8, 16, 32 and
#: 64 MiB load equally fast within noise, and each MiB is a MiB of the worker's peak memory
SQLITE_LOAD_CACHE_KIB = -8_192


class BulkWriter:
    """Id allocation and driver-level bulk inserts on the session's connection.

    ``bind`` fetches the session's driver connection once; everything after runs on it, inside
    the session's transaction (so a rollback of the session undoes it too).
    """

    def __init__(self, session: Session) -> None:
        self.s = session
        self.dialect: Dialect = session.get_bind().dialect
        self.postgres = self.dialect.name == "postgresql"
        self._conn: Any = None
        self._cache_size: int | None = None
        self._sequences: dict[str, str] = {}
        self._plans: dict[tuple[str, tuple[str, ...]], tuple[str, list[tuple[int, Any]]]] = {}

    def bind(self) -> None:
        """Fetch the session's driver connection; on SQLite, set its page cache for the load.

        ``SQLITE_LOAD_CACHE_KIB`` (8 MiB): enough for a batch's hot index pages; larger caches
        did not load faster (see the constant) but add to the peak memory one for one.
        ``release`` restores the connection's own setting.
        """
        if self._conn is None:
            self._conn = self.s.connection().connection.driver_connection
            if not self.postgres:
                self._cache_size = self._conn.execute("PRAGMA cache_size").fetchone()[0]
                self._conn.execute(f"PRAGMA cache_size={SQLITE_LOAD_CACHE_KIB}")

    def release(self) -> None:
        """Undo ``bind``'s connection setting (the connection goes back to the pool)."""
        if self._conn is not None and self._cache_size is not None:
            with contextlib.suppress(self.dialect.loaded_dbapi.Error):
                self._conn.execute(f"PRAGMA cache_size={int(self._cache_size)}")
            self._cache_size = None

    def _driver(self) -> Any:
        assert self._conn is not None, "BulkWriter.bind() first"
        return self._conn

    def allocate_ids(self, model: Any, count: int) -> list[int]:
        """``count`` fresh ids for ``model``'s table, ascending."""
        if count == 0:
            return []
        name = tbl(model).name
        if self.postgres:
            with self._driver().cursor() as cur:
                seq = self._sequences.get(name)
                if seq is None:
                    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (name,))
                    seq = self._sequences[name] = cur.fetchone()[0]
                cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", (seq, count))
                return sorted(r[0] for r in cur.fetchall())
        cur = self._driver().cursor()
        try:
            quoted = self.dialect.identifier_preparer.quote(name)
            top = cur.execute(f"SELECT MAX(id) FROM {quoted}").fetchone()[0] or 0  # noqa: S608
        finally:
            cur.close()
        return list(range(top + 1, top + 1 + count))

    def _plan(self, t: Table, columns: tuple[str, ...]) -> tuple[str, list[tuple[int, Any]]]:
        key = (t.name, columns)
        plan = self._plans.get(key)
        if plan is None:
            # Table and column names come from our own metadata, never from input.
            quote = self.dialect.identifier_preparer.quote
            cols = ", ".join(quote(c) for c in columns)
            if self.postgres:
                sql = f"COPY {quote(t.name)} ({cols}) FROM STDIN"
            else:
                marks = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {quote(t.name)} ({cols}) VALUES ({marks})"  # noqa: S608
            procs = []
            for i, name in enumerate(columns):
                proc = t.c[name].type._cached_bind_processor(self.dialect)
                if proc is not None:
                    procs.append((i, proc))
            plan = self._plans[key] = (sql, procs)
        return plan

    def insert_dicts(self, model: Any, values: list[rows.Row]) -> None:
        """Insert rows given as dicts with the same keys."""
        if values:
            columns = tuple(values[0])
            self.insert(model, columns, [[v[c] for c in columns] for v in values])

    def insert(self, model: Any, columns: tuple[str, ...], values: list[list[Any]]) -> None:
        """Insert rows given as lists in ``columns`` order (converted in place)."""
        if not values:
            return
        sql, procs = self._plan(tbl(model), columns)
        for i, proc in procs:
            for row in values:
                row[i] = proc(row[i])
        dbapi = self.dialect.loaded_dbapi
        try:
            if self.postgres:
                with self._driver().cursor() as cur, cur.copy(sql) as copy:
                    write = copy.write_row
                    for row in values:
                        write(row)
            else:
                cur = self._driver().cursor()
                try:
                    cur.executemany(sql, values)
                finally:
                    cur.close()
        except dbapi.Error as exc:
            raise sa_exc.DBAPIError.instance(
                sql, None, exc, dbapi.Error, dialect=self.dialect
            ) from exc


__all__ = ["SQLITE_LOAD_CACHE_KIB", "BulkWriter"]
