"""Element value conversion: amounts, quantities, dates, composites.

Each converter returns ``None`` for an empty element and raises ``ValueError`` for a malformed
one; the transaction parsers turn that into a located finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

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


#: DTP02 date/time period format qualifiers the 837 guides use, and what DTP03 then holds
PERIOD_FORMATS = {
    "D8": "CCYYMMDD",
    "RD8": "CCYYMMDD-CCYYMMDD",
    "DT": "CCYYMMDDHHMM",
    "TM": "HHMM",
    "RDT": "CCYYMMDDHHMM-CCYYMMDDHHMM",
}
#: a typed DTP03: a date (D8), a date-time (DT), a time of day (TM), or a range (RD8, RDT)
Period = dt.date | dt.datetime | dt.time | tuple[dt.date, dt.date] | tuple[dt.datetime, dt.datetime]


def time4(text: str) -> dt.time:
    """HHMM (TM), 0000-2359."""
    if len(text) != 4 or not text.isdigit():
        raise ValueError(f"{text!r} is not an HHMM time")
    hour, minute = int(text[:2]), int(text[2:])
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a valid time of day")
    return dt.time(hour, minute)


def datetime12(text: str) -> dt.datetime:
    """CCYYMMDDHHMM (DT), naive: X12 dates carry no time zone."""
    if len(text) != 12 or not text.isdigit():
        raise ValueError(f"{text!r} is not a CCYYMMDDHHMM date and time")
    return dt.datetime.combine(date8(text[:8]), time4(text[8:]))


def _range(text: str, one: Callable[[str], Any]) -> tuple[Any, Any]:
    """from-through; a lone value is a one-day range (tolerated since the first release)."""
    start, _, end = text.partition("-")
    first = one(start)
    return first, one(end) if end else first


def period(qualifier: str, text: str) -> Period:
    """DTP03 read by its format qualifier (DTP02): D8, RD8, DT, TM or RDT.

    ``ValueError`` names the qualifier and the format it asks for, so a finding says why.
    """
    try:
        if qualifier == "D8":
            return date8(text)
        if qualifier == "RD8":
            return _range(text, date8)
        if qualifier == "DT":
            return datetime12(text)
        if qualifier == "TM":
            return time4(text)
        if qualifier == "RDT":
            return _range(text, datetime12)
    except ValueError as exc:
        raise ValueError(f"{qualifier} ({PERIOD_FORMATS[qualifier]}): {exc}") from None
    known = ", ".join(PERIOD_FORMATS)
    raise ValueError(f"format qualifier {qualifier!r} is not one of {known}")


def lenient_format(qualifier: str, text: str) -> str:
    """The format to read ``text`` by: a D8 value holding a '-', or a value with no qualifier,
    is D8/RD8 by its shape, as some senders write it (tolerated since the first release)."""
    if qualifier in ("D8", "") and "-" in text:
        return "RD8"
    return qualifier or "D8"


def date_range(qualifier: str, text: str) -> tuple[dt.date, dt.date]:
    """The (from, to) dates of a D8, RD8, DT or RDT value (times of day dropped); TM has no
    date: ``ValueError``."""
    value = period(lenient_format(qualifier, text), text)
    if isinstance(value, tuple):
        first, last = value
        return _day(first), _day(last)
    if isinstance(value, dt.time):
        raise ValueError(f"TM ({PERIOD_FORMATS['TM']}) is a time of day, not a date")
    day = _day(value)
    return day, day


def _day(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def composite(text: str, component: str) -> str:
    """A composite with its components joined by ':' whatever the file's separator was."""
    return text.replace(component, ":") if component != ":" else text
