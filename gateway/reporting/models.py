"""Typed results of the KPI reports (the API's response models; JSON/CSV for the CLI).

Money is ``Decimal`` (serialised as a string with two decimals); days are whole days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Bucket(_Model):
    key: str
    count: int
    amount: Decimal


class Inventory(_Model):
    """Credits whose money is still with the provider, as of a day."""

    as_of: dt.date
    provider_id: int | None
    total_count: int
    total_amount: Decimal
    by_age: list[Bucket]
    by_payer: list[Bucket]
    by_cause: list[Bucket]
    by_root_cause: list[Bucket]
    by_government: list[Bucket]


class DeadlineRow(_Model):
    credit_id: int
    payer_id: str
    cause: str
    root_cause: str
    amount: Decimal
    identified_on: dt.date
    due_by: dt.date
    days_left: int
    case_state: str
    #: past (due_by before as_of) | near (due within near_days)
    status: str


class Deadlines(_Model):
    """Government credits past or near their 60-day (or the programme's) deadline."""

    as_of: dt.date
    provider_id: int | None
    near_days: int
    past_count: int
    past_amount: Decimal
    near_count: int
    near_amount: Decimal
    rows: list[DeadlineRow]
    truncated: bool


class RecoveryMonth(_Model):
    month: str
    identified: Decimal
    refunded: Decimal
    offset: Decimal
    recouped: Decimal
    disputed: Decimal
    won: Decimal
    closed_other: Decimal


class Recovery(_Model):
    """Per month: dollars identified (by identification day), and dollars refunded, offset,
    recouped by the payer, won on dispute or closed otherwise (by resolution day), and
    disputed (by the day the case was first disputed)."""

    as_of: dt.date
    provider_id: int | None
    months: list[RecoveryMonth]
    total: RecoveryMonth


class ResolveStat(_Model):
    key: str
    count: int
    median_days: int | None
    p90_days: int | None


class DaysToResolve(_Model):
    """Days from identification to resolution of credits resolved in the window (nearest-rank
    median and 90th percentile)."""

    as_of: dt.date
    provider_id: int | None
    overall: ResolveStat
    by_cause: list[ResolveStat]
    by_payer: list[ResolveStat]
    by_month: list[ResolveStat]


class RateRow(_Model):
    payer_id: str
    #: 'YYYY-MM', or 'all' for the whole window
    month: str
    claims: int
    paid: Decimal
    credits: int
    credit_amount: Decimal
    credits_per_1000_claims: Decimal | None
    credit_dollars_per_1000_paid: Decimal | None


class Rates(_Model):
    """The benchmark: credits per 1,000 claims paid and credit dollars per $1,000 paid."""

    as_of: dt.date
    provider_id: int | None
    rows: list[RateRow]
    by_payer: list[RateRow]


class TrendCell(_Model):
    month: str
    root_cause: str
    count: int
    amount: Decimal


class Growth(_Model):
    root_cause: str
    previous_count: int
    previous_amount: Decimal
    current_count: int
    current_amount: Decimal
    change_amount: Decimal


class Offender(_Model):
    #: payer | cause | root_cause | department
    dimension: str
    key: str
    months_with_credits: int
    count: int
    amount: Decimal


class RootCauseTrend(_Model):
    """Credits identified per month by root cause, which grew last month against the month
    before, and the payers, causes, root causes and departments with credits in ``min_months`` or
    more months of the window (repeat offenders)."""

    as_of: dt.date
    provider_id: int | None
    months: list[str]
    cells: list[TrendCell]
    growing: list[Growth]
    min_months: int
    offenders: list[Offender]
