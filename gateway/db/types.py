"""Column types and helpers every table module shares.

Money is ``NUMERIC(14,2)`` (on SQLite stored with NUMERIC affinity and read back as Decimal
quantised to cents, exact for the whole 14-digit range); quantities (units, counts of service)
are ``NUMERIC(15,4)``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Numeric, Table

from gateway.db.base import Base

MONEY = Numeric(14, 2)
QUANTITY = Numeric(15, 4)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def tbl(model: type[Base]) -> Table:
    """The Core ``Table`` of a mapped class (for executemany inserts and bulk updates)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
