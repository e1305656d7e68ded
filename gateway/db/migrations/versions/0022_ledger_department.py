"""Ledger rows carry the department that posted them.

Revision ID: 0022
Revises: 0021

Issue 21: repeat offenders by department. ``ledger_entries.department`` is the department (cost
center) a ledger export names for the row, '' where it names none; like the line detail it is
not part of the row's natural key, so a later export that adds the column fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("department", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("department")
