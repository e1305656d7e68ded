"""Credits say whose Medicare money they are and how each goes back; investigations say how
long they may suspend the deadline.

Revision ID: 0015
Revises: 0014

``claim_kind``, ``medicare_part``, ``medicare_verified`` and ``return_method`` are filled by
reconciliation (gateway/reconcile/medicare.py). So that every credit found before this
revision gets them, the reconcile watermark (``reconciled_files``) is emptied: the next
``gateway reconcile`` re-reads every processed file once (reconciliation is idempotent; credits
keep their identity and ``identified_on``). ``investigation_days`` stays NULL on investigations
recorded before it, which keep their 180-day cap. The worklist (government first, each
soonest due first) gets an index of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status <> 'resolved'"


def upgrade() -> None:
    with op.batch_alter_table("credits") as batch:
        batch.add_column(
            sa.Column("claim_kind", sa.String(length=8), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("medicare_part", sa.String(length=1), nullable=True))
        batch.add_column(sa.Column("medicare_verified", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("return_method", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("investigation_days", sa.Integer(), nullable=True))
    op.execute(sa.text("DELETE FROM reconciled_files"))
    # the worklist's order: government first, each soonest due first (gateway/api/tables.py)
    op.create_index(
        "ix_credits_active_gov_due",
        "credits",
        ["government", "due_by", "id", "amount"],
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_credits_active_gov_due", table_name="credits")
    with op.batch_alter_table("credits") as batch:
        batch.drop_column("investigation_days")
        batch.drop_column("return_method")
        batch.drop_column("medicare_verified")
        batch.drop_column("medicare_part")
        batch.drop_column("claim_kind")
