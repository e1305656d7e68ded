"""Which failures are the environment's, not the request's: a busy or unreachable database, a
full disk. Such a failure is worth retrying later (the API says 503/507, the worker and the
poller back off); anything else keeps its usual handling.

SQLite reports a held write lock as ``OperationalError("database is locked")`` once its busy
timeout has passed, and a full disk as ``"database or disk is full"``. PostgreSQL says it with
a SQLSTATE (``55P03`` lock timeout, ``53300`` too many connections, ``53100`` disk full, ...);
a refused connection is a ``psycopg.OperationalError`` without one.
"""

from __future__ import annotations

import enum
import errno

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class Fault(enum.StrEnum):
    """The kind of environmental failure, named as the API's problem codes."""

    BUSY = "database_busy"
    UNAVAILABLE = "database_unavailable"
    STORAGE = "insufficient_storage"


#: seconds a client is asked to wait before retrying
RETRY_AFTER = {Fault.BUSY: 2, Fault.UNAVAILABLE: 10, Fault.STORAGE: 60}

_PG_BUSY = {"55P03", "57014", "40001", "40P01"}  # lock/statement timeout, serialization, deadlock
_PG_STORAGE = {"53100"}  # disk_full
_PG_UNAVAILABLE_CLASSES = ("08", "53", "57P")  # connection, resources, shutting down
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_SQLITE_STORAGE = ("database or disk is full",)
_SQLITE_NAMES = {
    "SQLITE_BUSY": Fault.BUSY,
    "SQLITE_LOCKED": Fault.BUSY,
    "SQLITE_FULL": Fault.STORAGE,
}
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def _dbapi_fault(orig: BaseException | None, invalidated: bool) -> Fault | None:
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_BUSY:
            return Fault.BUSY
        if sqlstate in _PG_STORAGE:
            return Fault.STORAGE
        if sqlstate.startswith(_PG_UNAVAILABLE_CLASSES):
            return Fault.UNAVAILABLE
        return None
    name = getattr(orig, "sqlite_errorname", None)  # SQLITE_BUSY_SNAPSHOT -> SQLITE_BUSY
    if isinstance(name, str) and "_".join(name.split("_")[:2]) in _SQLITE_NAMES:
        return _SQLITE_NAMES["_".join(name.split("_")[:2])]
    text = str(orig).lower()
    if any(t in text for t in _SQLITE_BUSY):
        return Fault.BUSY
    if any(t in text for t in _SQLITE_STORAGE):
        return Fault.STORAGE
    module = type(orig).__module__ if orig is not None else ""
    if invalidated or (module.startswith("psycopg") and type(orig).__name__ == "OperationalError"):
        return Fault.UNAVAILABLE  # connection refused, reset, server gone
    return None


def classify(exc: BaseException) -> Fault | None:
    """The environmental fault behind ``exc`` (following ``raise ... from``), or None."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, PoolTimeoutError):
            return Fault.BUSY
        if isinstance(cur, DisconnectionError):
            return Fault.UNAVAILABLE
        if isinstance(cur, DBAPIError):
            fault = _dbapi_fault(cur.orig, cur.connection_invalidated)
            if fault is not None:
                return fault
        elif isinstance(cur, OSError) and cur.errno in _STORAGE_ERRNOS:
            return Fault.STORAGE
        elif type(cur).__module__.startswith("psycopg"):
            fault = _dbapi_fault(cur, False)
            if fault is not None:
                return fault
        cur = cur.__cause__
    return None


def is_environmental(exc: BaseException) -> bool:
    """True for a fault worth waiting out (tenacity's ``retry_if_exception`` predicate)."""
    return classify(exc) is not None


__all__ = ["RETRY_AFTER", "Fault", "classify", "is_environmental"]
