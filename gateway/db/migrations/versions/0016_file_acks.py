"""TA1/999 rendered once per file by the worker and stored (issue 17, item 6).

Revision ID: 0016
Revises: 0015

``file_acks`` (gateway/ingest/tables.py) holds each file's acknowledgments, so that
``GET /v1/files/{id}/acks`` never parses the file again. Files processed before this revision
have no row: their acks are rendered once on demand and stored then.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_acks",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("x12", sa.Boolean(), nullable=False),
        sa.Column("acknowledgments", sa.JSON(), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["inbound_files.id"]),
        sa.PrimaryKeyConstraint("file_id"),
    )


def downgrade() -> None:
    op.drop_table("file_acks")
