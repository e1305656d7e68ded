"""The credit × case row the KPI queries start from, and what "active" and "resolved" mean.

A credit is *resolved* when reconciliation resolved it (``credits.status``) or its case was
closed (``resolution_cases.state``); otherwise it is *active*: the money is still with the
provider (pending credits included, as the aging report counts them). The resolution day is
the credit's ``resolved_on``, else the day of the case's last transition to ``resolved``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.types import tbl
from gateway.reconcile.tables import Credit
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


def last_resolution() -> tuple[Any, ColumnElement[bool]]:
    """(alias, ON clause) joining each case to its last transition to ``resolved``.

    A correlated ``max(id)`` per case (an index probe on ``case_transitions.case_id``), not a
    joined GROUP BY subquery: SQLite scans a materialised subquery once per outer row."""
    t2 = TT.alias("res_t")
    last_id = (
        select(func.max(TT.c.id))
        .where(TT.c.case_id == RC.c.id, TT.c.to_state == "resolved")
        .scalar_subquery()
    )
    return t2, t2.c.id == last_id


def first_disputes() -> tuple[Any, ColumnElement[bool]]:
    """(alias, condition) of each case's first transition to ``disputed``: a transition with
    no earlier one to ``disputed`` of the same case (an index probe per transition)."""
    t1 = TT.alias("disp_t")
    t0 = TT.alias("disp_before")
    earlier = (
        select(t0.c.id)
        .where(t0.c.case_id == t1.c.case_id, t0.c.to_state == "disputed", t0.c.id < t1.c.id)
        .exists()
    )
    return t1, and_(t1.c.to_state == "disputed", ~earlier)
