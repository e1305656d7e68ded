"""Element value conversion: amounts, quantities, dates, composites.

Each converter returns ``None`` for an empty element and raises ``ValueError`` for a malformed
one; the transaction parsers turn that into a located finding.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

_date_cache: dict[str, dt.date] = {}
_ALLOWED_NUMERIC = frozenset("0123456789.-")
#: ``is_numeric_text(text)``: only characters an X12 R/N value may hold (the hot-loop check)
is_numeric_text = _ALLOWED_NUMERIC.issuperset
#: ``cached_date8(text)``: the date of an already-seen CCYYMMDD, else None (no call to date8)
cached_date8 = _date_cache.get


def decimal(text: str) -> Decimal:
    """X12 R/N type: digits, one optional leading minus and one optional decimal point."""
    # The character check first: it rules out NaN, Infinity, exponents, '_' and spaces, so
    # every value Decimal accepts after it is finite.
    if not _ALLOWED_NUMERIC.issuperset(text):
        raise ValueError(f"{text!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


def date8(text: str) -> dt.date:
    """CCYYMMDD (D8)."""
    hit = _date_cache.get(text)
    if hit is not None:
        return hit
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{text!r} is not a CCYYMMDD date")
    try:
        value = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise ValueError(f"{text!r} is not a valid calendar date") from None
    if len(_date_cache) < 100_000:
        _date_cache[text] = value
    return value


def date6(text: str) -> dt.date:
    """YYMMDD (ISA09); the century window follows X12: 00-49 → 20xx."""
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"{text!r} is not a YYMMDD date")
    year = int(text[:2])
    return date8(f"{2000 + year if year < 50 else 1900 + year}{text[2:]}")


def date_range(qualifier: str, text: str) -> tuple[dt.date, dt.date]:
    """D8 or RD8 (CCYYMMDD-CCYYMMDD) as a (from, to) pair."""
    if qualifier == "RD8" or "-" in text:
        start, _, end = text.partition("-")
        return date8(start), date8(end or start)
    day = date8(text)
    return day, day


def composite(text: str, component: str) -> str:
    """A composite with its components joined by ':' whatever the file's separator was."""
    return text.replace(component, ":") if component != ":" else text
