"""Raw store backends: chunked blobs in the database, prune and migration records.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOB_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "raw_blobs",
        sa.Column("id", BLOB_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "raw_chunks",
        sa.Column("blob_id", BLOB_ID, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["blob_id"], ["raw_blobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("blob_id", "seq"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Chunks are stored out of line (TOAST) without pglz: compressing 1 MiB chunks costs
        # more write throughput than the disk it saves (see bench/store_bench.py).
        op.execute("ALTER TABLE raw_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "raw_prunes",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=512), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "raw_migrations",
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("copied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", "sha256"),
    )


def downgrade() -> None:
    op.drop_table("raw_migrations")
    op.drop_table("raw_prunes")
    op.drop_table("raw_chunks")
    op.drop_table("raw_blobs")
