"""Dialect-aware SQL pieces the KPI queries share (SQLAlchemy Core, no string-built SQL).

SQLite keeps dates as ISO text and has no date arithmetic; PostgreSQL has real dates. Money is
summed as integer cents (each amount rounded to cents first), so large sums are exact on both.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, literal
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

CENT = Decimal("0.01")
#: the inventory's age buckets: (highest age in days, label); older is "180+"
AGE_BUCKETS: tuple[tuple[int, str], ...] = (
    (30, "0-30"),
    (60, "31-60"),
    (90, "61-90"),
    (180, "91-180"),
)
OLDEST_BUCKET = "180+"
BUCKETS: tuple[str, ...] = (*(label for _, label in AGE_BUCKETS), OLDEST_BUCKET)


def dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def cents(col: Any) -> ColumnElement[Any]:
    """SUM-ready integer cents of a money column."""
    return cast(func.round(col * 100), BigInteger)


def from_cents(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(CENT)


def month_of(s: Session, col: Any) -> ColumnElement[Any]:
    """'YYYY-MM' of a date (or timestamp) column."""
    if dialect(s) == "postgresql":
        return func.to_char(col, "YYYY-MM")
    return func.strftime("%Y-%m", col)


def age_bucket(day_col: Any, as_of: dt.date) -> ColumnElement[Any]:
    """The age bucket of a date column as of ``as_of`` (age = as_of - day, in days), by plain
    date comparisons with each bucket's oldest day: no per-row date arithmetic."""
    return case(
        *(
            (day_col >= as_of - dt.timedelta(days=top), literal(label))
            for top, label in AGE_BUCKETS
        ),
        else_=literal(OLDEST_BUCKET),
    )


def months_back(as_of: dt.date, months: int) -> list[str]:
    """The ``months`` calendar months ending with ``as_of``'s, oldest first ('YYYY-MM')."""
    y, m = as_of.year, as_of.month
    out = []
    for _ in range(months):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def first_day(month: str) -> dt.date:
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def nearest_rank(hist: dict[int, int], p: float) -> int | None:
    """The nearest-rank ``p`` quantile of a histogram {value: count}: the smallest value whose
    cumulative count reaches ceil(p * n). None when empty."""
    n = sum(hist.values())
    if n == 0:
        return None
    import math

    rank = max(1, math.ceil(p * n))
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return max(hist)  # pragma: no cover - the loop always reaches n


def ratio(num: Decimal, den: Decimal, per: int) -> Decimal | None:
    """``num / den * per`` to cents (None when there is no denominator)."""
    if den == 0:
        return None
    return (num * per / den).quantize(CENT)
