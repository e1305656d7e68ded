"""Audit log hash chain: seq, prev_hash, row_hash on audit_log (existing rows are chained).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the chain's first ``prev_hash`` and the hash format of this revision, frozen here: a
#: migration is a snapshot and must not change when ``gateway.audit`` does (a later format
#: needs a new migration; tests/unit/test_migrations_frozen.py checks the two still agree)
GENESIS = "0" * 64
HASH_FORMAT = "v1"


def _utc(at: dt.datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def entry_hash_v1(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    file_id: int | None,
    outcome: str,
    reason: str,
    details: dict[str, Any] | None,
    prev_hash: str,
) -> str:
    """sha256 (hex) of one entry's v1 canonical serialisation, linked to ``prev_hash``."""
    body = json.dumps(
        [HASH_FORMAT, seq, _utc(at), actor, action, file_id, outcome, reason, details, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(body.encode("ascii")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))

    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("file_id", sa.Integer()),
        sa.column("outcome", sa.String()),
        sa.column("reason", sa.Text()),
        sa.column("details", sa.JSON()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("row_hash", sa.String()),
    )
    conn = op.get_bind()
    prev = GENESIS
    rows = conn.execute(sa.select(audit).order_by(audit.c.id)).all()
    for seq, r in enumerate(rows, start=1):
        h = entry_hash_v1(
            seq=seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            file_id=r.file_id,
            outcome=r.outcome,
            reason=r.reason,
            details=r.details,
            prev_hash=prev,
        )
        conn.execute(
            audit.update().where(audit.c.id == r.id).values(seq=seq, prev_hash=prev, row_hash=h)
        )
        prev = h

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index("uq_audit_log_seq", ["seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("uq_audit_log_seq")
        batch_op.drop_column("row_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
