"""Encryption at rest: room for sealed PHI column values.

Revision ID: 0008
Revises: 0007

``claims.subscriber_member_id`` holds ``v1:<keyid>:<nonce>:<ciphertext>`` when data keys are
configured, so it grows from 80 to 255 characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.alter_column(
            "subscriber_member_id",
            existing_type=sa.String(length=80),
            type_=sa.String(length=255),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.alter_column(
            "subscriber_member_id",
            existing_type=sa.String(length=255),
            type_=sa.String(length=80),
            existing_nullable=True,
        )
