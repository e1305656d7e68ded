"""The credit × case row the KPI queries start from, and what "active" and "resolved" mean.

Most reports read ``credit_facts`` (``F``, ``gateway.reporting.tables``): the same definitions
computed per credit at write time by the triggers of migration 0025. The deadline list reads
credits and cases directly, for the columns the facts do not keep.

A credit is *resolved* when reconciliation resolved it (``credits.status``) or its case was
closed (``resolution_cases.state``); otherwise it is *active*: the money is still with the
provider (pending credits included, as the aging report counts them). The resolution day is
the credit's ``resolved_on``, else the day of the case's last move into ``resolved`` (kept on
the case by ``gateway.resolve.history``, with the state it came from and its first dispute).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.types import tbl
from gateway.reconcile.tables import Credit
from gateway.reporting.tables import CreditFact
from gateway.resolve.tables import ResolutionCase
from mappings.root_causes import UNASSIGNED

CT = tbl(Credit)
RC = tbl(ResolutionCase)
F = tbl(CreditFact)


def credits_with_cases() -> Any:
    return CT.outerjoin(RC, RC.c.credit_id == CT.c.id)


def is_active() -> ColumnElement[bool]:
    return and_(CT.c.status != "resolved", or_(RC.c.state.is_(None), RC.c.state != "resolved"))


def payer_key() -> ColumnElement[Any]:
    """The payer a credit is owed to, else who it is owed to (patient, unknown)."""
    return case((CT.c.payer_id != "", CT.c.payer_id), else_=CT.c.owed_to)


def root_cause_key() -> ColumnElement[Any]:
    return func.coalesce(RC.c.root_cause, literal(UNASSIGNED))


def scoped(stmt: Select[Any], provider_id: int | None, table: Any = CT) -> Select[Any]:
    return stmt if provider_id is None else stmt.where(table.c.provider_id == provider_id)


def via(stmt: Select[Any], index: str) -> Select[Any]:
    """``stmt`` over ``credit_facts`` walking ``index`` on SQLite (``INDEXED BY``): with
    statistics (after ``ANALYZE``) its planner chose a skip-scan of another index for the
    days histograms, 7 times slower. PostgreSQL plans its own (hash aggregates)."""
    return stmt.with_hint(F, f"INDEXED BY {index}", "sqlite")


def in_window(month: Any, day: Any, window: list[str], as_of: Any) -> ColumnElement[bool]:
    """A fact's month is one of ``window``'s (a range of the month column the indexes lead
    with) and its day is not after ``as_of`` (the window's last month may be partial)."""
    return and_(month >= window[0], month <= window[-1], day <= as_of)
