"""Reading credit-balance cases: one case with its history, and the worklist.

A case joins its credit (amount, cause, owner, deadline) and the credit's provider; the
worklist puts government credits first, soonest due first, because their deadlines bind by
law. The state machine that moves cases is ``gateway.resolve.workflow``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.errors import InputError, NotFoundError
from gateway.read.credits import CaseRead, TransitionRead, credit_fields
from gateway.reconcile.tables import Credit
from gateway.resolve.tables import CaseTransition, ResolutionCase
from schemas.states import CaseState

#: the read models of a case and of one of its transitions live in gateway.read.credits
CaseView = CaseRead
Transition = TransitionRead


def case_query() -> Any:
    """A case with its credit and provider, the columns ``case_view`` reads (the worklist
    filters and pages it)."""
    rc, ct, pt = tbl(ResolutionCase), tbl(Credit), tbl(Provider)
    return select(
        rc.c.id.label("case_id"),
        rc.c.credit_id,
        rc.c.state,
        rc.c.method,
        rc.c.reference,
        rc.c.approved_by,
        ct.c.provider_id,
        pt.c.npi,
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
        ct.c.investigation_opened_on,
        ct.c.investigation_closed_on,
        ct.c.medicare_part,
        ct.c.return_method,
        ct.c.investigation_days,
    ).select_from(rc.join(ct, ct.c.id == rc.c.credit_id).join(pt, pt.c.id == ct.c.provider_id))


def case_view(r: Any, history: tuple[Transition, ...] = ()) -> CaseView:
    """The read model of a ``case_query`` row."""
    return CaseView(
        **credit_fields(r),
        case_id=r.case_id,
        credit_id=r.credit_id,
        provider_npi=r.npi,
        state=r.state,
        method=r.method,
        reference=r.reference,
        approved_by=r.approved_by,
        credit_status=r.status,
        investigation_opened_on=r.investigation_opened_on,
        investigation_closed_on=r.investigation_closed_on,
        history=history,
        investigation_days=r.investigation_days,
    )


def worklist_key(c: CaseView) -> tuple[Any, ...]:
    """Government credits first, soonest due first (their deadlines bind by law); then the
    rest, soonest due first, undated last."""
    return (
        not c.government,
        c.due_by is None,
        c.due_by or dt.date.max,
        c.provider_id,
        c.patient_control_number,
        c.case_id,
    )


def list_cases(
    s: Session,
    *,
    states: list[str] | None = None,
    provider_id: int | None = None,
    payer_id: str | None = None,
    government: bool | None = None,
    due_within: int | None = None,
    as_of: dt.date | None = None,
    cause: str | None = None,
) -> list[CaseView]:
    """Cases in worklist order: government first by due date (overdue first), then the rest."""
    for st in states or ():
        if st not in CaseState.__members__.values():
            raise InputError(
                f"unknown case state {st!r}; use one of {', '.join(s.value for s in CaseState)}",
                code="bad_filter",
            )
    rc, ct = tbl(ResolutionCase), tbl(Credit)
    stmt = case_query()
    if states:
        stmt = stmt.where(rc.c.state.in_(states))
    if provider_id is not None:
        stmt = stmt.where(ct.c.provider_id == provider_id)
    if payer_id is not None:
        stmt = stmt.where(ct.c.payer_id == payer_id)
    if government is not None:
        stmt = stmt.where(ct.c.government == government)
    if cause is not None:
        stmt = stmt.where(ct.c.cause == cause)
    if due_within is not None:
        limit = (as_of or dt.date.today()) + dt.timedelta(days=due_within)
        stmt = stmt.where(ct.c.due_by.is_not(None), ct.c.due_by <= limit)
    rows = [case_view(r) for r in s.execute(stmt)]
    rows.sort(key=worklist_key)
    return rows


def get_case(s: Session, credit_id: int, *, history: bool = True) -> CaseView:
    """The case of a credit (by the credit's id), with its transitions."""
    rc = tbl(ResolutionCase)
    row = s.execute(case_query().where(rc.c.credit_id == credit_id)).one_or_none()
    if row is None:
        raise NotFoundError(
            f"no case for credit {credit_id} (is it an open credit? run "
            "`gateway cases sync` after reconciling)",
            code="case_not_found",
        )
    hist: tuple[Transition, ...] = ()
    if history:
        tt = tbl(CaseTransition)
        hist = tuple(
            Transition(
                from_state=t.from_state,
                to_state=t.to_state,
                actor=t.actor,
                at=t.at,
                reason=t.reason,
                details=t.details,
            )
            for t in s.execute(select(tt).where(tt.c.case_id == row.case_id).order_by(tt.c.id))
        )
    return case_view(row, hist)


def overdue(cases: list[CaseView], today: dt.date) -> list[CaseView]:
    return [c for c in cases if c.overdue(today)]


__all__ = [
    "CaseView",
    "Transition",
    "case_query",
    "case_view",
    "get_case",
    "list_cases",
    "overdue",
    "worklist_key",
]
