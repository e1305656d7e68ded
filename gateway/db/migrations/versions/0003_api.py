"""HTTP API: API keys and which key uploaded which file.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("provider_key", sa.String(length=80), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("hash_scheme", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_provider_key"), ["provider_key"], unique=False
        )
    op.create_table(
        "api_uploads",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"]),
        sa.ForeignKeyConstraint(["file_id"], ["inbound_files.id"]),
        sa.PrimaryKeyConstraint("file_id", "api_key_id"),
    )
    with op.batch_alter_table("api_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_uploads_api_key_id"), ["api_key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_uploads_api_key_id"))
    op.drop_table("api_uploads")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_provider_key"))
    op.drop_table("api_keys")
