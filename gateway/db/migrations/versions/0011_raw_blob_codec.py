"""Raw blobs record how their chunks are compressed.

Revision ID: 0011
Revises: 0010

NULL (every blob written before this revision) means the chunks are stored as they are; the
postgres raw store writes ``zstd`` by default from now on (gateway/store/compress.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("raw_blobs") as batch:
        batch.add_column(sa.Column("codec", sa.String(length=16), nullable=True))


def downgrade() -> None:
    # compressed blobs would be unreadable without the column: refuse rather than lose them
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM raw_blobs WHERE codec IS NOT NULL LIMIT 1")).first():
        raise RuntimeError(
            "raw_blobs holds compressed files; migrate them to another backend "
            "(gateway store migrate --to file) before downgrading below 0011"
        )
    with op.batch_alter_table("raw_blobs") as batch:
        batch.drop_column("codec")
