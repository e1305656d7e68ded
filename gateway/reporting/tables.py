"""``credit_facts``: one row per credit with the keys the KPI reports group by, kept at write
time by database triggers (migration 0025).

Each report used to join every credit to its case and compute, per row, the month, the payer
key, the resolution day, its kind and the days it took: at 100,000 credits over 24 months that
was 130-250 ms of SQL per report on SQLite. Here those are plain columns of a narrow table,
and each report's partial, covering index lists them in the order it groups by, so SQLite
walks an index instead of sorting (the queries name their index on SQLite: with statistics
its planner preferred a skip-scan of another one, 7 times slower).

The triggers, not the application, keep the rows: every insert, update or delete of a credit,
a case or a claim's department (reconciliation's bulk writes, the case writers, a ledger
import, a migration's UPDATE) recomputes that credit's row from ``credits`` ⟕
``resolution_cases`` ⟕ ``claim_departments`` with one statement, so there is no writer to
forget. A later migration that rebuilds one of those tables on SQLite (Alembic's batch mode
copies the table) drops its triggers and must create them again (migration 0025's
``create_triggers``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base


def _partial(condition: str, sqlite: str | None = None) -> dict[str, Any]:
    """A partial index's condition; SQLite uses the index only when the query's WHERE has the
    very same term (it renders a boolean test as ``active = 1``)."""
    return {"sqlite_where": text(sqlite or condition), "postgresql_where": text(condition)}


class CreditFact(Base):
    """A credit as the KPI reports see it; derived, never written by the application."""

    __tablename__ = "credit_facts"
    __table_args__ = (
        # inventory: active credits by identification day, payer, cause, root cause, flag
        Index(
            "ix_credit_facts_active",
            "identified_on",
            "payer",
            "cause",
            "root_cause",
            "government",
            "cents",
            "provider_id",
            "active",  # SQLite reads the column the partial condition names: covering
            **_partial("active", sqlite="active = 1"),
        ),
        # root-cause trend, recovery's dollars identified, the rates' credits
        Index(
            "ix_credit_facts_identified",
            "identified_month",
            "root_cause",
            "payer",
            "cause",
            "payer_id",
            "identified_on",
            "cents",
            "provider_id",
        ),
        # recovery: resolved dollars per month and kind
        Index(
            "ix_credit_facts_resolved_kind",
            "resolved_month",
            "resolution_kind",
            "resolved_on",
            "cents",
            "provider_id",
            **_partial("resolved_on IS NOT NULL"),
        ),
        # days to resolve: one histogram of days per month, per cause and per payer
        Index(
            "ix_credit_facts_days_month",
            "resolved_month",
            "resolve_days",
            "resolved_on",
            "provider_id",
            **_partial("resolved_on IS NOT NULL"),
        ),
        Index(
            "ix_credit_facts_days_cause",
            "cause",
            "resolve_days",
            "resolved_on",
            "provider_id",
            **_partial("resolved_on IS NOT NULL"),
        ),
        Index(
            "ix_credit_facts_days_payer",
            "payer",
            "resolve_days",
            "resolved_on",
            "provider_id",
            **_partial("resolved_on IS NOT NULL"),
        ),
        # repeat offenders: credits per month and department
        Index(
            "ix_credit_facts_department",
            "identified_month",
            "department",
            "identified_on",
            "cents",
            "provider_id",
            **_partial("department IS NOT NULL"),
        ),
        # recovery: dollars disputed per month of the first dispute
        Index(
            "ix_credit_facts_disputed",
            "disputed_month",
            "disputed_on",
            "cents",
            "provider_id",
            **_partial("disputed_on IS NOT NULL"),
        ),
    )

    credit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider_id: Mapped[int] = mapped_column(Integer)
    #: the money is still with the provider (``gateway.reporting.base``: not resolved)
    active: Mapped[bool] = mapped_column(Boolean)
    government: Mapped[bool] = mapped_column(Boolean)
    identified_on: Mapped[dt.date] = mapped_column(Date)
    #: 'YYYY-MM' of ``identified_on``
    identified_month: Mapped[str] = mapped_column(String(7))
    #: the payer owed, else who is owed (patient, unknown)
    payer: Mapped[str] = mapped_column(String(80))
    payer_id: Mapped[str] = mapped_column(String(80))
    cause: Mapped[str] = mapped_column(String(32))
    #: the case's root cause, else ``mappings.root_causes.UNASSIGNED``
    root_cause: Mapped[str] = mapped_column(String(32))
    #: the amount in integer cents
    cents: Mapped[int] = mapped_column(BigInteger)
    #: resolved credits only: the credit's resolution day, else the case's
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    resolved_month: Mapped[str | None] = mapped_column(String(7))
    #: whole days from identification to resolution, never below 0
    resolve_days: Mapped[int | None] = mapped_column(Integer)
    #: recouped, won, refunded, offset or closed_other (``gateway.reporting.kpi``)
    resolution_kind: Mapped[str | None] = mapped_column(String(12))
    #: the case's first move into ``disputed``
    disputed_on: Mapped[dt.date | None] = mapped_column(Date)
    disputed_month: Mapped[str | None] = mapped_column(String(7))
    #: the department key of the credit's claim (``gateway.reconcile.claim_departments``)
    department: Mapped[str | None] = mapped_column(String(67))


__all__ = ["CreditFact"]
