"""The demo's fixed calendar (dates do not depend on the seed, so answers are stable): the first
month as designed, and how the half-year's later months and reconciliations follow from it."""

from __future__ import annotations

import datetime as dt

#: service month
MONTH_START = dt.date(2025, 3, 1)
MONTH_END = dt.date(2025, 3, 31)
#: first reconciliation: files and postings up to this day are ingested before it
CHECKPOINT = dt.date(2025, 4, 30)
#: final reconciliation date the answer file assumes (``gateway reconcile --as-of``)
AS_OF = dt.date(2025, 6, 13)
#: claims go out in a weekly 837 batch on Fridays
SUBMIT_WEEKDAY = 4
#: earliest payment after submission (Medicare's payment floor is 14 days for EDI claims)
PAYMENT_FLOOR_DAYS = 14


def on_or_after(day: dt.date, weekday: int) -> dt.date:
    """The first ``weekday`` (Monday = 0) on or after ``day``."""
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def submission_day(service_day: dt.date) -> dt.date:
    """The 837 batch that carries a visit: the first Friday after the day of service."""
    return on_or_after(service_day + dt.timedelta(days=1), SUBMIT_WEEKDAY)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# --------------------------------------------------------------------------- the half-year

#: months in the demo half-year (``gateway demo generate --months``)
MONTHS = 6
#: how far each month's planted scenarios move from the first month's, in whole weeks: a week
#: keeps every weekday (Friday batches, each payer's run day) and every gap between two events
#: of a scenario exactly as designed, and these put the planted visits (3–26 March) inside
#: April, May, June, July and August in turn
SHIFT_WEEKS = (0, 5, 9, 13, 18, 22)
#: the final reconciliation comes this many days after the last month's final date, so that
#: no month is looked at on the day a hold window ends (month 5 would be, exactly)
FINAL_GRACE_DAYS = 3


def shift(month: int) -> dt.timedelta:
    """How far month ``month`` (0 = the first) moves the first month's planted dates."""
    return days(7 * SHIFT_WEEKS[month])


def service_month(month: int) -> tuple[dt.date, dt.date]:
    """First and last day of the calendar month the ordinary visits of ``month`` fall in."""
    start = dt.date(MONTH_START.year, MONTH_START.month + month, 1)
    following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - days(1)


def schedule(months: int) -> tuple[dt.date, ...]:
    """The reconciliation runs of a demo of ``months`` months, in order: each month's
    checkpoint (its first run, the first month's ``CHECKPOINT`` moved by ``shift``), then one
    final run ``FINAL_GRACE_DAYS`` after the last month's ``AS_OF`` (moved likewise). A single
    month keeps its two runs as designed: ``CHECKPOINT`` and ``AS_OF``."""
    checkpoints = tuple(CHECKPOINT + shift(k) for k in range(months))
    if months == 1:
        return (CHECKPOINT, AS_OF)
    return (*checkpoints, AS_OF + shift(months - 1) + days(FINAL_GRACE_DAYS))


def first_run_on_or_after(runs: tuple[dt.date, ...], day: dt.date) -> dt.date:
    """The run that first sees what happened on ``day`` (a run sees every file dated up to
    its as-of date)."""
    for run in runs:
        if run >= day:
            return run
    raise ValueError(f"no reconciliation on or after {day}")
