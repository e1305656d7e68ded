"""Credit-balance worklist (read side of gateway.reconcile) with totals.

Filtering, ordering, paging and the totals run in the database (not over every credit loaded
into Python), so a page costs about the same with 100 or 100,000 open credits: the default
order (government first, each soonest due first) walks ``ix_credits_active_gov_due``
(migration 0014) and stops after one page, filters have indexes of their own (migration 0009),
and the totals are one aggregate over the index entries of the matching credits, in integer
cents so SQLite's floating NUMERIC cannot skew them.

Approve / dispute / resolve actions live with the resolution workflow, not here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import BigInteger, ColumnElement, Select, case, cast, func, select
from sqlalchemy.orm import Session

from gateway.api.deps import Ctx, Readers
from gateway.api.problems import ApiError, problem_responses
from gateway.db.types import tbl
from gateway.read.credits import CreditRead, credit_fields
from gateway.read.types import Money
from gateway.reconcile.queries import CAUSE_ORDER, STATUS_FILTERS
from gateway.reconcile.tables import Credit
from schemas.states import CreditStatus

router = APIRouter(prefix="/v1", tags=["credits"])
CENT = Decimal("0.01")


#: the worklist's credit is the one read model of a credit (gateway.read.credits)
CreditOut = CreditRead


class CreditTotals(BaseModel):
    count: int
    amount: Money
    overdue_count: int
    overdue_amount: Money


class CreditList(BaseModel):
    items: list[CreditOut]
    totals: CreditTotals
    limit: int
    offset: int


class CreditSort(enum.StrEnum):
    """``due``: government credits first, soonest deadline first; then the rest, soonest
    deadline first (no deadline last), as ``gateway credits`` prints. ``claim``:
    reconciliation's order (provider, account, claim, identified on, cause)."""

    DUE = "due"
    CLAIM = "claim"


def _filters(
    *,
    status: str,
    payer: str | None,
    cause: str | None,
    government: bool | None,
    due_within: int | None,
    today: dt.date,
) -> list[ColumnElement[bool]]:
    ct = tbl(Credit)
    if status not in STATUS_FILTERS:
        raise ApiError(
            400,
            f"unknown status {status!r}; use one of {', '.join(STATUS_FILTERS)}",
            code="bad_filter",
        )
    statuses = STATUS_FILTERS[status]
    conds: list[ColumnElement[bool]] = []
    if status == "active":
        # written as the predicate of the partial worklist indexes (and of uq_credits_active)
        # so the planner may use them: every credit is pending, open or resolved
        conds.append(ct.c.status != CreditStatus.RESOLVED)
    elif len(statuses) == 1:
        conds.append(ct.c.status == statuses[0])
    if payer is not None:
        conds.append(ct.c.payer_id == payer)
    if cause is not None:
        conds.append(ct.c.cause == cause)
    if government is not None:
        conds.append(ct.c.government == government)
    if due_within is not None:
        conds.append(ct.c.due_by.is_not(None))
        conds.append(ct.c.due_by <= today + dt.timedelta(days=due_within))
    return conds


def _select(conds: list[ColumnElement[bool]]) -> Select[Any]:
    ct = tbl(Credit)
    return select(
        ct.c.id,
        ct.c.provider_id,
        ct.c.account_id,
        ct.c.patient_control_number,
        ct.c.owed_to,
        ct.c.payer_id,
        ct.c.amount,
        ct.c.cause,
        ct.c.government,
        ct.c.identified_on,
        ct.c.due_by,
        ct.c.status,
        ct.c.pending_until,
        ct.c.resolved_on,
        ct.c.resolution,
        ct.c.deadline_days,
        ct.c.pending_reason,
        ct.c.claim_kind,
        ct.c.medicare_part,
        ct.c.medicare_verified,
        ct.c.return_method,
    ).where(*conds)


def _segments(counts: Counts) -> list[tuple[list[ColumnElement[bool]], bool, int]]:
    """The due order as four ordered index walks: (conditions, by due date?, how many)."""
    ct = tbl(Credit)
    gov, dated = ct.c.government.is_(True), ct.c.due_by.is_not(None)
    other, undated = ct.c.government.is_not(True), ct.c.due_by.is_(None)
    return [
        ([gov, dated], True, counts.gov_dated),
        ([gov, undated], False, counts.gov - counts.gov_dated),
        ([other, dated], True, counts.dated - counts.gov_dated),
        ([other, undated], False, counts.total - counts.gov - counts.dated + counts.gov_dated),
    ]


def _page(
    s: Session,
    conds: list[ColumnElement[bool]],
    sort: CreditSort,
    limit: int,
    offset: int,
    counts: Counts,
) -> list[Any]:
    """One page of rows, in ``sort`` order."""
    ct = tbl(Credit)
    if sort is CreditSort.CLAIM:
        rank = case(CAUSE_ORDER, value=ct.c.cause, else_=9)
        return list(
            s.execute(
                _select(conds)
                .order_by(
                    ct.c.provider_id,
                    func.coalesce(ct.c.account_id, ""),
                    ct.c.patient_control_number,
                    ct.c.identified_on,
                    rank,
                    ct.c.owed_to,
                    ct.c.payer_id,
                    ct.c.id,
                )
                .limit(limit)
                .offset(offset)
            ).all()
        )
    # Government first, each group soonest due first and undated last: up to four ordered
    # index walks, (government, due_by, id) and (id), each stopping after the page, instead of
    # one sort of every match ("NULLS LAST" is not portable, and an expression in ORDER BY
    # would defeat the index).
    rows: list[Any] = []
    skip = offset
    for extra, by_due, size in _segments(counts):
        if len(rows) >= limit:
            break
        if skip >= size:
            skip -= size
            continue
        order = (ct.c.due_by, ct.c.id) if by_due else (ct.c.id,)
        rows += s.execute(
            _select([*conds, *extra]).order_by(*order).limit(limit - len(rows)).offset(skip)
        ).all()
        skip = 0
    return rows


@dataclasses.dataclass(frozen=True, slots=True)
class Counts:
    """How many matching credits are government, dated, both, and in all."""

    total: int
    gov: int
    dated: int
    gov_dated: int


def _totals(
    s: Session, conds: list[ColumnElement[bool]], today: dt.date
) -> tuple[CreditTotals, Counts]:
    """(totals, the segment counts of the due order), in one aggregate."""
    ct = tbl(Credit)
    cents = cast(func.round(ct.c.amount * 100), BigInteger)
    overdue = (ct.c.due_by < today) & (ct.c.status != CreditStatus.RESOLVED)
    gov = ct.c.government.is_(True)
    row = s.execute(
        select(
            func.count(),
            func.coalesce(func.sum(cents), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, cents), else_=0)), 0),
            func.count(ct.c.due_by),
            func.coalesce(func.sum(case((gov, 1), else_=0)), 0),
            func.coalesce(func.sum(case((gov & ct.c.due_by.is_not(None), 1), else_=0)), 0),
        )
        .select_from(ct)
        .where(*conds)
    ).one()
    totals = CreditTotals(
        count=int(row[0]),
        amount=Decimal(int(row[1])) * CENT,
        overdue_count=int(row[2]),
        overdue_amount=Decimal(int(row[3])) * CENT,
    )
    return totals, Counts(int(row[0]), int(row[5]), int(row[4]), int(row[6]))


@router.get("/credits", response_model=CreditList, responses=problem_responses(400, 401, 403))
def credits(
    ctx: Ctx,
    _: Readers,
    status: Annotated[str, Query(description="active|open|pending|resolved|all")] = "active",
    payer: str | None = None,
    cause: str | None = None,
    government: bool | None = None,
    due_within: Annotated[
        int | None, Query(ge=0, le=3650, description="Due within N days (overdue incl.)")
    ] = None,
    sort: Annotated[CreditSort, Query(description="due (soonest first) or claim")] = CreditSort.DUE,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CreditList:
    """One page of the worklist; the totals cover every credit that matches the filters."""
    today = dt.date.today()
    conds = _filters(
        status=status,
        payer=payer,
        cause=cause,
        government=government,
        due_within=due_within,
        today=today,
    )
    with ctx.db.read() as s:
        totals, counts = _totals(s, conds, today)
        rows = _page(s, conds, sort, limit, offset, counts)
    items = [
        CreditOut(
            **credit_fields(r),
            id=r.id,
            days_left=(r.due_by - today).days if r.due_by else None,
            status=r.status,
            pending_until=r.pending_until,
            resolved_on=r.resolved_on,
            resolution=r.resolution,
            deadline_days=r.deadline_days,
            pending_reason=r.pending_reason,
            claim_kind=r.claim_kind or "",
            medicare_verified=r.medicare_verified,
        )
        for r in rows
    ]
    return CreditList(items=items, totals=totals, limit=limit, offset=offset)
