"""The registry's dedupe key becomes ``identity``; ``sha256`` stays the raw store address.

Revision ID: 0017
Revises: 0016

Until now one registry row stood for one sha256. A ledger carries no provider inside its bytes,
so two providers can upload the very same ledger (an export with no postings, say); each must
get a record of its own, and neither may learn that the other's exists (issue 17). Rows keep
``identity = sha256`` (every channel, every X12 file); a ledger uploaded through a
provider-scoped key gets an identity of its own per provider (gateway/intake/service.py).

SQLite cannot drop the inline UNIQUE of ``sha256`` without rebuilding a table that half the
schema refers to, so the column is renamed (its UNIQUE goes with it) and ``sha256`` is added
again, filled and indexed. PostgreSQL does the same in its own words.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("inbound_files", sa.Column("identity", sa.String(length=64), nullable=True))
        op.execute(sa.text("UPDATE inbound_files SET identity = sha256"))
        op.alter_column("inbound_files", "identity", nullable=False)
        op.drop_constraint("inbound_files_sha256_key", "inbound_files", type_="unique")
        op.create_unique_constraint("inbound_files_identity_key", "inbound_files", ["identity"])
    else:
        op.execute(sa.text("ALTER TABLE inbound_files RENAME COLUMN sha256 TO identity"))
        op.execute(
            sa.text("ALTER TABLE inbound_files ADD COLUMN sha256 VARCHAR(64) NOT NULL DEFAULT ''")
        )
        op.execute(sa.text("UPDATE inbound_files SET sha256 = identity"))
    op.create_index("ix_inbound_files_sha256", "inbound_files", ["sha256"], unique=False)


def downgrade() -> None:
    # only possible while every row's identity is its sha256 (no per-provider ledger copies)
    op.drop_index("ix_inbound_files_sha256", table_name="inbound_files")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("inbound_files_identity_key", "inbound_files", type_="unique")
        op.create_unique_constraint("inbound_files_sha256_key", "inbound_files", ["sha256"])
        op.drop_column("inbound_files", "identity")
    else:
        op.execute(sa.text("ALTER TABLE inbound_files DROP COLUMN sha256"))
        op.execute(sa.text("ALTER TABLE inbound_files RENAME COLUMN identity TO sha256"))
