"""Cases get the analyst's ``root_cause`` (a code of ``mappings/root_causes.yaml``, or NULL).

Revision ID: 0020
Revises: 0019

Issue 21: the KPI reports group credits by why they happened (registration error, COB not
updated, ...), which only an analyst can say; reconciliation's ``cause`` says what the money
is, not why. Nullable: every existing case is "unassigned" until someone records one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("resolution_cases", sa.Column("root_cause", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("resolution_cases") as batch:
        batch.drop_column("root_cause")
