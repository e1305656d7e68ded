"""Worklist indexes: ``GET /v1/credits`` pages and totals without a scan of the credits table.

Revision ID: 0009
Revises: 0008

Partial on active credits (``status <> 'resolved'``, the predicate of ``uq_credits_active``)
and covering the columns the worklist reads for its totals (``amount``, ``due_by``), so that
with 100,000 open credits a page is an ordered index walk that stops after the page and the
totals an index-only scan of the matching entries. Declared in gateway/api/tables.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status <> 'resolved'"


def upgrade() -> None:
    # soonest due first (the default order): walk (due_by, id); totals read amount from it
    op.create_index(
        "ix_credits_active_due",
        "credits",
        ["due_by", "id", "amount"],
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    # payer / cause / government filters and their totals
    op.create_index(
        "ix_credits_active_payer",
        "credits",
        ["payer_id", "cause", "government", "due_by", "amount"],
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    # one status (open, pending, resolved), ordered by due date
    op.create_index("ix_credits_status_due", "credits", ["status", "due_by", "id", "amount"])


def downgrade() -> None:
    op.drop_index("ix_credits_status_due", table_name="credits")
    op.drop_index("ix_credits_active_payer", table_name="credits")
    op.drop_index("ix_credits_active_due", table_name="credits")
