"""Credit-balance worklist (read side of gateway.reconcile) with totals.

Approve / dispute / resolve actions are not offered yet: reconciliation has no such service
functions to call (see the report); this router only reads through ``list_credits``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from gateway.api.deps import Ctx, Readers
from gateway.api.problems import problem_responses
from gateway.reconcile.queries import list_credits

router = APIRouter(prefix="/v1", tags=["credits"])


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
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CreditList:
    """The worklist, ordered as reconciliation orders it; totals cover every match."""
    today = dt.date.today()
    with ctx.db.read() as s:
        rows = list_credits(s, status=status, due_within=due_within, as_of=today)
    rows = [c for c in rows if (payer is None or c.payer_id == payer)
            and (cause is None or c.cause == cause)
            and (government is None or c.government == government)]
    overdue = [c for c in rows if c.due_by is not None and c.due_by < today
               and c.status != "resolved"]
    totals = CreditTotals(count=len(rows), amount=sum((c.amount for c in rows), Decimal("0.00")),
                          overdue_count=len(overdue),
                          overdue_amount=sum((c.amount for c in overdue), Decimal("0.00")))
    items = [CreditOut(
        id=c.id, provider_id=c.provider_id, account_id=c.account_id,
        patient_control_number=c.patient_control_number, owed_to=c.owed_to,
        payer_id=c.payer_id, amount=c.amount, cause=c.cause, government=c.government,
        identified_on=c.identified_on, due_by=c.due_by,
        days_left=(c.due_by - today).days if c.due_by else None, status=c.status,
    ) for c in rows[offset:offset + limit]]
    return CreditList(items=items, totals=totals, limit=limit, offset=offset)
