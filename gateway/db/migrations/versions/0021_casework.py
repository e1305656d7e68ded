"""Cases get an assignee (a user's name) and notes.

Revision ID: 0021
Revises: 0020

Issue 20: analysts work cases by person. ``resolution_cases.assignee`` is the username of the
person working the case (NULL: unassigned; indexed for the worklist's ``assignee`` filter);
``case_notes`` holds their notes, append-only, the free text sealed with the data keys (it may
name a patient).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("resolution_cases") as batch:
        batch.add_column(sa.Column("assignee", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_resolution_cases_assignee"), ["assignee"], unique=False)
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text_sealed", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["resolution_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_notes") as batch:
        batch.create_index(batch.f("ix_case_notes_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_notes") as batch:
        batch.drop_index(batch.f("ix_case_notes_case_id"))
    op.drop_table("case_notes")
    with op.batch_alter_table("resolution_cases") as batch:
        batch.drop_index(batch.f("ix_resolution_cases_assignee"))
        batch.drop_column("assigned_at")
        batch.drop_column("assignee")
