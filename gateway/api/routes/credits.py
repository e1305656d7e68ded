"""Credit-balance worklist (read side of gateway.reconcile) with totals.

Filtering, ordering, paging and the totals run in the database (not over every credit loaded
into Python), so a page costs about the same with 100 or 100,000 open credits: the default
order (soonest due first) walks ``ix_credits_worklist`` and stops after one page, filters have
indexes of their own (migration 0009), and the totals are one aggregate over the index entries
of the matching credits, in integer cents so SQLite's floating NUMERIC cannot skew them.

Approve / dispute / resolve actions live with the resolution workflow, not here.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, ColumnElement, Select, case, cast, func, select
from sqlalchemy.orm import Session

from gateway.api.deps import Ctx, Readers
from gateway.api.problems import ApiError, problem_responses
from gateway.db.models import tbl
from gateway.reconcile.queries import CAUSE_ORDER, STATUS_FILTERS
from gateway.reconcile.tables import Credit

router = APIRouter(prefix="/v1", tags=["credits"])
CENT = Decimal("0.01")


class CreditOut(BaseModel):
    id: int
    provider_id: int
    account_id: str | None
    patient_control_number: str
    owed_to: str
    payer_id: str | None
    amount: Decimal = Field(description="Decimal string, 2 places")
    cause: str
    government: bool
    identified_on: dt.date
    due_by: dt.date | None
    days_left: int | None = Field(description="Days until due_by (negative: overdue)")
    status: str


class CreditTotals(BaseModel):
    count: int
    amount: Decimal
    overdue_count: int
    overdue_amount: Decimal


class CreditList(BaseModel):
    items: list[CreditOut]
    totals: CreditTotals
    limit: int
    offset: int


class CreditSort(enum.StrEnum):
    """``due``: soonest deadline first (no deadline last). ``claim``: reconciliation's order
    (provider, account, claim, identified on, cause), as ``gateway reconcile credits`` prints."""

    DUE = "due"
    CLAIM = "claim"


def _filters(*, status: str, payer: str | None, cause: str | None, government: bool | None,
             due_within: int | None, today: dt.date) -> list[ColumnElement[bool]]:
    ct = tbl(Credit)
    if status not in STATUS_FILTERS:
        raise ApiError(400, f"unknown status {status!r}; use one of "
                       f"{', '.join(STATUS_FILTERS)}", code="bad_filter")
    statuses = STATUS_FILTERS[status]
    conds: list[ColumnElement[bool]] = []
    if status == "active":
        # written as the predicate of the partial worklist indexes (and of uq_credits_active)
        # so the planner may use them: every credit is pending, open or resolved
        conds.append(ct.c.status != "resolved")
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
    return select(ct.c.id, ct.c.provider_id, ct.c.account_id, ct.c.patient_control_number,
                  ct.c.owed_to, ct.c.payer_id, ct.c.amount, ct.c.cause, ct.c.government,
                  ct.c.identified_on, ct.c.due_by, ct.c.status).where(*conds)


def _page(s: Session, conds: list[ColumnElement[bool]], sort: CreditSort, limit: int,
          offset: int, with_due: int) -> list[Any]:
    """One page of rows. ``with_due``: how many matching credits have a due date."""
    ct = tbl(Credit)
    if sort is CreditSort.CLAIM:
        rank = case(CAUSE_ORDER, value=ct.c.cause, else_=9)
        return list(s.execute(_select(conds).order_by(
            ct.c.provider_id, func.coalesce(ct.c.account_id, ""), ct.c.patient_control_number,
            ct.c.identified_on, rank, ct.c.owed_to, ct.c.payer_id, ct.c.id,
        ).limit(limit).offset(offset)).all())
    # Soonest due first, credits without a deadline last: two ordered index walks (due_by, id)
    # and (id) that stop after the page, instead of one sort of every match ("NULLS LAST" is
    # not portable, and an expression in ORDER BY would defeat the index).
    rows: list[Any] = []
    if offset < with_due:
        rows = list(s.execute(_select([*conds, ct.c.due_by.is_not(None)])
                              .order_by(ct.c.due_by, ct.c.id).limit(limit).offset(offset)).all())
    if len(rows) < limit:
        rows += s.execute(_select([*conds, ct.c.due_by.is_(None)]).order_by(ct.c.id)
                          .limit(limit - len(rows)).offset(max(0, offset - with_due))).all()
    return rows


def _totals(s: Session, conds: list[ColumnElement[bool]],
            today: dt.date) -> tuple[CreditTotals, int]:
    """(totals, how many of the matches have a due date), in one aggregate."""
    ct = tbl(Credit)
    cents = cast(func.round(ct.c.amount * 100), BigInteger)
    overdue = (ct.c.due_by < today) & (ct.c.status != "resolved")
    row = s.execute(select(
        func.count(), func.coalesce(func.sum(cents), 0),
        func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
        func.coalesce(func.sum(case((overdue, cents), else_=0)), 0),
        func.count(ct.c.due_by),
    ).select_from(ct).where(*conds)).one()
    totals = CreditTotals(count=int(row[0]), amount=Decimal(int(row[1])) * CENT,
                          overdue_count=int(row[2]),
                          overdue_amount=Decimal(int(row[3])) * CENT)
    return totals, int(row[4])


@router.get("/credits", response_model=CreditList, responses=problem_responses(400, 401, 403))
def credits(
    ctx: Ctx, _: Readers,
    status: Annotated[str, Query(description="active|open|pending|resolved|all")] = "active",
    payer: str | None = None,
    cause: str | None = None,
    government: bool | None = None,
    due_within: Annotated[int | None, Query(ge=0, le=3650,
                                            description="Due within N days (overdue incl.)")]
    = None,
    sort: Annotated[CreditSort, Query(description="due (soonest first) or claim")]
    = CreditSort.DUE,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CreditList:
    """One page of the worklist; the totals cover every credit that matches the filters."""
    today = dt.date.today()
    conds = _filters(status=status, payer=payer, cause=cause, government=government,
                     due_within=due_within, today=today)
    with ctx.db.read() as s:
        totals, with_due = _totals(s, conds, today)
        rows = _page(s, conds, sort, limit, offset, with_due)
    items = [CreditOut(
        id=r.id, provider_id=r.provider_id, account_id=r.account_id,
        patient_control_number=r.patient_control_number, owed_to=r.owed_to,
        payer_id=r.payer_id or None, amount=Decimal(r.amount).quantize(CENT), cause=r.cause,
        government=bool(r.government), identified_on=r.identified_on, due_by=r.due_by,
        days_left=(r.due_by - today).days if r.due_by else None, status=r.status,
    ) for r in rows]
    return CreditList(items=items, totals=totals, limit=limit, offset=offset)
