"""``credit_facts`` update triggers fire only when a column the facts read changed, and its
PostgreSQL trigger functions look rows up by index.

Revision ID: 0026
Revises: 0025

Reconciliation rewrites every persisting credit of its scope (its last run, its basis, and
the amount, status and government it had), and a full run's scope is every claim. ``UPDATE
OF`` fires on a column named in the SET list, changed or not, so each such credit's fact row
was deleted and written again unchanged: a second full run of the reconcile bench's matched
shape rebuilt all 7,000 fact rows, of which 5,000 had not changed. The update triggers of
0025 are recreated with a ``WHEN`` condition (any read column ``IS DISTINCT FROM`` its old
value); their bodies are 0025's. A later migration that recreates the triggers (see 0025's
trap) runs 0025's ``create_triggers`` and then this module's ``upgrade``.

On PostgreSQL the trigger functions run with ``enable_seqscan = off``. PL/pgSQL keeps each
statement's plan for the session, planned from the statistics of the moment; with
``credits`` and ``credit_facts`` analysed while small (a new database, or rows arriving
faster than autovacuum), the per-credit lookups became sequential scans of tables that grew
under them: a first full reconcile of 100,000 no-charge claims took 166-191 s instead of
13-20 s. Every statement in those functions is a lookup by key, so an index is always the
right plan.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0025: Any = importlib.import_module("gateway.db.migrations.versions.0025_credit_facts")
#: the columns of ``claim_departments`` (0025 fires its update trigger on any column)
DEPARTMENT_COLUMNS = ("provider_id", "patient_control_number", "department")


def _changed(dialect: str, columns: Sequence[str]) -> str:
    """True when an update changed any of ``columns`` (NULL-safe)."""
    op_ = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns)


def _recreate_update_triggers(dialect: str, *, guarded: bool) -> None:
    for source in _0025._SOURCES:
        part, table, columns = source[:3]
        when = _changed(dialect, columns or DEPARTMENT_COLUMNS) if guarded else ""
        on = f" ON {table}" if dialect == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS credit_facts_{part}_update{on}")
        op.execute(_0025.trigger_ddl(dialect, source, "update", when))


def _lookups_by_index(dialect: str, *, on: bool) -> None:
    if dialect != "postgresql":
        return
    setting = "SET enable_seqscan = off" if on else "RESET enable_seqscan"
    for part, *_ in _0025._SOURCES:
        op.execute(f"ALTER FUNCTION credit_facts_from_{part}() {setting}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _recreate_update_triggers(dialect, guarded=True)
    _lookups_by_index(dialect, on=True)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _lookups_by_index(dialect, on=False)
    _recreate_update_triggers(dialect, guarded=False)
