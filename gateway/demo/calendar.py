"""The demo month's fixed calendar (dates do not depend on the seed, so answers are stable)."""

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
