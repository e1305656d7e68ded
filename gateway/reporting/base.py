"""The credit × case row the KPI queries start from, and what "active" and "resolved" mean.

A credit is *resolved* when reconciliation resolved it (``credits.status``) or its case was
closed (``resolution_cases.state``); otherwise it is *active*: the money is still with the
provider (pending credits included, as the aging report counts them). The resolution day is
the credit's ``resolved_on``, else the day of the case's last transition to ``resolved``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.models import tbl
from gateway.reconcile.tables import Credit
from gateway.reporting.sqlparts import day_of
from gateway.resolve.tables import CaseTransition, ResolutionCase
from mappings.root_causes import UNASSIGNED

CT = tbl(Credit)
RC = tbl(ResolutionCase)
TT = tbl(CaseTransition)


def credits_with_cases() -> Any:
    return CT.outerjoin(RC, RC.c.credit_id == CT.c.id)


def is_resolved() -> ColumnElement[bool]:
    return or_(CT.c.status == "resolved", RC.c.state == "resolved")


def is_active() -> ColumnElement[bool]:
    return and_(CT.c.status != "resolved", or_(RC.c.state.is_(None), RC.c.state != "resolved"))


def payer_key() -> ColumnElement[Any]:
    """The payer a credit is owed to, else who it is owed to (patient, unknown)."""
    return case((CT.c.payer_id != "", CT.c.payer_id), else_=CT.c.owed_to)


def root_cause_key() -> ColumnElement[Any]:
    return func.coalesce(RC.c.root_cause, literal(UNASSIGNED))


def scoped(stmt: Select[Any], provider_id: int | None) -> Select[Any]:
    return stmt if provider_id is None else stmt.where(CT.c.provider_id == provider_id)


def last_resolution(s: Session) -> Any:
    """Per case: the day and from-state of its last transition to resolved (a subquery)."""
    last = (
        select(TT.c.case_id, func.max(TT.c.id).label("tid"))
        .where(TT.c.to_state == "resolved")
        .group_by(TT.c.case_id)
        .subquery("last_res")
    )
    t2 = TT.alias("res_t")
    return (
        select(
            last.c.case_id,
            day_of(s, t2.c.at).label("day"),
            t2.c.from_state.label("from_state"),
        )
        .select_from(last.join(t2, t2.c.id == last.c.tid))
        .subquery("resolution")
    )


def first_dispute(s: Session) -> Any:
    """Per case: the day it was first disputed (a subquery)."""
    return (
        select(TT.c.case_id, func.min(day_of(s, TT.c.at)).label("day"))
        .where(TT.c.to_state == "disputed")
        .group_by(TT.c.case_id)
        .subquery("first_dispute")
    )
