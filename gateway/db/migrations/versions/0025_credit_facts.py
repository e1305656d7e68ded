"""KPI figures kept at write time: ``credit_facts`` (triggers) and each remittance's counts.

Revision ID: 0025
Revises: 0024

Issue 21: at 100,000 credits over 24 months the KPI reports spent 130-250 ms of SQL each
joining every credit to its case and computing months, payer keys, resolution days and kinds
per row. ``credit_facts`` holds them as columns (``gateway.reporting.tables``). Row triggers
on ``credits`` and ``resolution_cases`` recompute a credit's row after any insert, update of
a column the facts read, or delete, with one DELETE and one INSERT ... SELECT; this migration
creates the table, its indexes and the triggers, and fills it from what is there.

The rates report summed 300,000 claim payments per request; ``remittances`` gains
``counted_claims`` and ``counted_paid_cents`` (written by ``gateway.ingest.remittance_counts``
at load), filled here with the same rule (a re-sent ERA's copy counts once, reversals are not
claims paid).

Trap: on SQLite, a later batch migration of ``credits`` or ``resolution_cases`` (the table is
copied and renamed) drops these triggers; such a migration must call ``create_triggers``
again (import it from this module), and ``tests/integration/test_credit_facts.py`` fails if a
trigger is missing at head.
"""

# ruff: noqa: S608  -- the DDL and backfills here are composed only of this module's constants

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the credit columns the facts read (an update of any other column fires nothing)
CREDIT_COLUMNS = (
    "provider_id",
    "patient_control_number",
    "owed_to",
    "payer_id",
    "cause",
    "amount",
    "government",
    "identified_on",
    "status",
    "resolved_on",
    "resolution",
)
#: the case columns the facts read
CASE_COLUMNS = (
    "credit_id",
    "state",
    "method",
    "root_cause",
    "resolved_on",
    "resolved_from",
    "disputed_on",
)
FACT_COLUMNS = (
    "credit_id",
    "provider_id",
    "active",
    "government",
    "identified_on",
    "identified_month",
    "payer",
    "payer_id",
    "cause",
    "root_cause",
    "cents",
    "resolved_on",
    "resolved_month",
    "resolve_days",
    "resolution_kind",
    "disputed_on",
    "disputed_month",
    "department",
)
TRIGGERS = (
    "credit_facts_credit_insert",
    "credit_facts_credit_update",
    "credit_facts_credit_delete",
    "credit_facts_case_insert",
    "credit_facts_case_update",
    "credit_facts_case_delete",
    "credit_facts_department_insert",
    "credit_facts_department_update",
    "credit_facts_department_delete",
)
#: (name, columns, partial index condition: PostgreSQL's, SQLite's when it differs)
INDEXES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "ix_credit_facts_active",
        (
            "identified_on",
            "payer",
            "cause",
            "root_cause",
            "government",
            "cents",
            "provider_id",
            "active",
        ),
        ("active", "active = 1"),
    ),
    (
        "ix_credit_facts_identified",
        (
            "identified_month",
            "root_cause",
            "payer",
            "cause",
            "payer_id",
            "identified_on",
            "cents",
            "provider_id",
        ),
        (),
    ),
    (
        "ix_credit_facts_resolved_kind",
        ("resolved_month", "resolution_kind", "resolved_on", "cents", "provider_id"),
        ("resolved_on IS NOT NULL",),
    ),
    (
        "ix_credit_facts_days_month",
        ("resolved_month", "resolve_days", "resolved_on", "provider_id"),
        ("resolved_on IS NOT NULL",),
    ),
    (
        "ix_credit_facts_days_cause",
        ("cause", "resolve_days", "resolved_on", "provider_id"),
        ("resolved_on IS NOT NULL",),
    ),
    (
        "ix_credit_facts_days_payer",
        ("payer", "resolve_days", "resolved_on", "provider_id"),
        ("resolved_on IS NOT NULL",),
    ),
    (
        "ix_credit_facts_department",
        ("identified_month", "department", "identified_on", "cents", "provider_id"),
        ("department IS NOT NULL",),
    ),
    (
        "ix_credit_facts_disputed",
        ("disputed_month", "disputed_on", "cents", "provider_id"),
        ("disputed_on IS NOT NULL",),
    ),
)


def _select(dialect: str, where: str) -> str:
    """The fact rows of the credits ``where`` selects (``ct`` is the credit, ``rc`` its case):
    the same definitions as ``gateway.reporting.base``."""
    pg = dialect == "postgresql"

    def month(col: str) -> str:
        return f"to_char({col}, 'YYYY-MM')" if pg else f"strftime('%Y-%m', {col})"

    resolved = "(ct.status = 'resolved' OR COALESCE(rc.state, '') = 'resolved')"
    day = f"CASE WHEN {resolved} THEN COALESCE(ct.resolved_on, rc.resolved_on) END"
    span = (
        f"GREATEST(0, ({day}) - ct.identified_on)"
        if pg
        else f"MAX(0, CAST(julianday({day}) - julianday(ct.identified_on) AS INTEGER))"
    )
    kind = (
        f"CASE WHEN NOT {resolved} THEN NULL"
        " WHEN ct.resolution = 'recouped_by_plb' THEN 'recouped'"
        " WHEN rc.resolved_from = 'disputed' THEN 'won'"
        " WHEN ct.resolution = 'refund_posted' THEN 'refunded'"
        " WHEN rc.method = 'offset' THEN 'offset'"
        " WHEN rc.method IN ('refund', 'patient_refund') THEN 'refunded'"
        " ELSE 'closed_other' END"
    )
    values = (
        "ct.id",
        "ct.provider_id",
        f"NOT {resolved}",
        "ct.government",
        "ct.identified_on",
        month("ct.identified_on"),
        "CASE WHEN ct.payer_id <> '' THEN ct.payer_id ELSE ct.owed_to END",
        "ct.payer_id",
        "ct.cause",
        "COALESCE(rc.root_cause, 'unassigned')",
        "CAST(ROUND(ct.amount * 100) AS BIGINT)",
        day,
        month(day),
        f"CASE WHEN {resolved} THEN {span} END",
        kind,
        "rc.disputed_on",
        month("rc.disputed_on"),
        "(SELECT cd.department FROM claim_departments cd WHERE cd.provider_id = ct.provider_id"
        " AND cd.patient_control_number = ct.patient_control_number)",
    )
    return (
        f"INSERT INTO credit_facts ({', '.join(FACT_COLUMNS)}) SELECT {', '.join(values)} "
        f"FROM credits ct LEFT JOIN resolution_cases rc ON rc.credit_id = ct.id WHERE {where}"
    )


def _refresh(dialect: str, credit_id: str) -> str:
    # DELETE then INSERT, not INSERT OR REPLACE: in a SQLite trigger the outer statement's
    # conflict policy (an INSERT OR IGNORE of a credit) would override a REPLACE
    return (
        f"DELETE FROM credit_facts WHERE credit_id = {credit_id}; "
        f"{_select(dialect, f'ct.id = {credit_id}')};"
    )


def _refresh_claim(dialect: str, row: str) -> str:
    """The fact rows of the credits of the claim a ``claim_departments`` row names."""
    claim = (
        f"provider_id = {row}.provider_id AND patient_control_number = {row}.patient_control_number"
    )
    return (
        f"DELETE FROM credit_facts WHERE credit_id IN (SELECT id FROM credits WHERE {claim}); "
        f"{_select(dialect, 'ct.' + claim.replace(' AND ', ' AND ct.'))};"
    )


#: (trigger name part, table, columns an update must touch to fire (None: any), the refresh
#: of the rows a row reference names, whether an update refreshes the old row too: a case or
#: department row can move to another credit or claim; a credit's id never changes, so a
#: credit update, reconciliation's hot path, refreshes once)
_SOURCES: tuple[tuple[str, str, tuple[str, ...] | None, Any, bool], ...] = (
    ("credit", "credits", CREDIT_COLUMNS, lambda d, ref: _refresh(d, f"{ref}.id"), False),
    (
        "case",
        "resolution_cases",
        CASE_COLUMNS,
        lambda d, ref: _refresh(d, f"{ref}.credit_id"),
        True,
    ),
    ("department", "claim_departments", None, _refresh_claim, True),
)


def trigger_ddl(dialect: str, source: tuple[Any, ...], event: str, when: str = "") -> str:
    """The CREATE TRIGGER of one of ``_SOURCES``' ``insert``, ``update`` or ``delete``
    triggers; ``when``: a condition on OLD and NEW it fires under (migration 0026's)."""
    part, table, columns, refresh, old_on_update = source
    name = f"credit_facts_{part}_{event}"
    on = {"insert": "INSERT", "delete": "DELETE"}.get(event) or (
        f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
    )
    guard = f" WHEN ({when})" if when else ""
    if dialect == "postgresql":
        return (
            f"CREATE TRIGGER {name} AFTER {on} ON {table} FOR EACH ROW{guard} "
            f"EXECUTE FUNCTION credit_facts_from_{part}()"
        )
    body = refresh(dialect, "OLD" if event == "delete" else "NEW")
    if event == "update" and old_on_update:
        body = f"{refresh(dialect, 'OLD')} {body}"
    return f"CREATE TRIGGER {name} AFTER {on} ON {table}{guard} BEGIN {body} END"


def create_triggers(dialect: str) -> None:
    """The nine triggers that keep ``credit_facts``: after an insert the new row's credits are
    refreshed, after a delete the old row's, after an update the new row's (and the old
    row's when it may name others). SQLite trigger bodies, or one PL/pgSQL function per table
    on PostgreSQL."""
    for source in _SOURCES:
        part, _, _, refresh, old_on_update = source
        if dialect == "postgresql":
            old_when = "TG_OP <> 'INSERT'" if old_on_update else "TG_OP = 'DELETE'"
            op.execute(
                f"CREATE OR REPLACE FUNCTION credit_facts_from_{part}() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN IF {old_when} THEN {refresh(dialect, 'OLD')} "
                f"END IF; IF TG_OP <> 'DELETE' THEN {refresh(dialect, 'NEW')} END IF; "
                "RETURN NULL; END $$"
            )
        for event in ("insert", "update", "delete"):
            op.execute(trigger_ddl(dialect, source, event))


def drop_triggers(dialect: str) -> None:
    tables = {"credit": "credits", "case": "resolution_cases", "department": "claim_departments"}
    for name in TRIGGERS:
        table = tables[name.split("_")[2]]
        op.execute(
            f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else "")
        )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS credit_facts_from_credit()")
        op.execute("DROP FUNCTION IF EXISTS credit_facts_from_case()")
        op.execute("DROP FUNCTION IF EXISTS credit_facts_from_department()")


#: frozen copy of the rule in ``gateway.db.remittance_rows.COUNTED_CLAIM_PAYMENT``
_COUNTED = (
    "(NOT cp.resend_twin OR NOT EXISTS (SELECT 1 FROM claim_payments e "
    "WHERE e.patient_control_number = cp.patient_control_number "
    "AND e.provider_id + 0 = cp.provider_id AND e.resend_key = cp.resend_key "
    "AND e.id < cp.id))"
)


def _count_remittances() -> None:
    op.add_column(
        "remittances",
        sa.Column("counted_claims", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "remittances",
        sa.Column("counted_paid_cents", sa.BigInteger(), server_default="0", nullable=False),
    )
    mine = "FROM claim_payments cp WHERE cp.remittance_id = remittances.id AND " + _COUNTED
    op.execute(
        "UPDATE remittances SET counted_claims = COALESCE((SELECT SUM(CASE WHEN "
        f"cp.status_code <> '22' THEN 1 ELSE 0 END) {mine}), 0), counted_paid_cents = "
        f"COALESCE((SELECT SUM(CAST(ROUND(cp.paid * 100) AS BIGINT)) {mine}), 0)"
    )


#: frozen copy of ``gateway.reconcile.claim_departments``: per claim, the department key with
#: the most net charge dollars, a named department before a revenue-code category
_DEPARTMENTS = (
    "INSERT INTO claim_departments (provider_id, patient_control_number, department) "
    "SELECT provider_id, patient_control_number, k FROM (SELECT provider_id, "
    "patient_control_number, k, row_number() OVER (PARTITION BY provider_id, "
    "patient_control_number ORDER BY CASE WHEN k LIKE 'd:%' THEN 0 ELSE 1 END, c DESC, k) AS rn "
    "FROM (SELECT provider_id, patient_control_number, CASE WHEN department <> '' THEN 'd:' "
    "|| department WHEN length(revenue_code) = 4 THEN 'r:' || substr(revenue_code, 1, 3) END "
    "AS k, SUM(CAST(ROUND(amount * 100) AS BIGINT)) AS c FROM ledger_entries WHERE type = "
    "'charge' GROUP BY provider_id, patient_control_number, CASE WHEN department <> '' THEN "
    "'d:' || department WHEN length(revenue_code) = 4 THEN 'r:' || substr(revenue_code, 1, 3) "
    "END) per_key WHERE k IS NOT NULL AND c > 0) ranked WHERE rn = 1"
)


def upgrade() -> None:
    _count_remittances()
    op.create_table(
        "claim_departments",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("patient_control_number", sa.String(length=38), nullable=False),
        sa.Column("department", sa.String(length=67), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", "patient_control_number"),
    )
    op.execute(_DEPARTMENTS)
    dialect = op.get_bind().dialect.name
    sqlite = dialect == "sqlite"
    op.create_table(
        "credit_facts",
        sa.Column("credit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("government", sa.Boolean(), nullable=False),
        sa.Column("identified_on", sa.Date(), nullable=False),
        sa.Column("identified_month", sa.String(length=7), nullable=False),
        sa.Column("payer", sa.String(length=80), nullable=False),
        sa.Column("payer_id", sa.String(length=80), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("root_cause", sa.String(length=32), nullable=False),
        sa.Column("cents", sa.BigInteger(), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("resolved_month", sa.String(length=7), nullable=True),
        sa.Column("resolve_days", sa.Integer(), nullable=True),
        sa.Column("resolution_kind", sa.String(length=12), nullable=True),
        sa.Column("disputed_on", sa.Date(), nullable=True),
        sa.Column("disputed_month", sa.String(length=7), nullable=True),
        sa.Column("department", sa.String(length=67), nullable=True),
        sa.PrimaryKeyConstraint("credit_id"),
    )
    for name, columns, where in INDEXES:
        if where:
            condition: dict[str, Any] = {f"{dialect}_where": sa.text(where[-1 if sqlite else 0])}
            op.create_index(name, "credit_facts", list(columns), **condition)
        else:
            op.create_index(name, "credit_facts", list(columns))
    op.execute(_select(dialect, "1 = 1"))
    create_triggers(dialect)


def downgrade() -> None:
    drop_triggers(op.get_bind().dialect.name)
    op.drop_table("credit_facts")
    op.drop_table("claim_departments")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of remittances would fail on
    # the foreign keys that point at it
    op.drop_column("remittances", "counted_paid_cents")
    op.drop_column("remittances", "counted_claims")
