"""Interchange identity includes the receiver; 835 resend identity on claim payments and PLBs.

Revision ID: 0014
Revises: 0013

- ``uq_interchanges_sender_control`` (ISA06, ISA13) becomes ``uq_interchanges_identity``
  (ISA05, ISA06, ISA07, ISA08, ISA13): a clearinghouse that numbers ISA13 per receiver sends
  the same ISA13 to two providers, and those are two interchanges.
- ``remittances`` keeps TRN04 (``trace_supplemental``; NULL for rows loaded before) and, for a
  transaction that is a resend, the file holding the earlier copy (``resend_of_file_id``).
- ``claim_payments`` and ``provider_adjustments`` get ``resend_key`` (the hash of the resend
  identity) and ``resend_twin`` (an earlier row had the same identity); ``ix_remittances_trace``
  finds a trace's earlier copies. Existing rows are
  backfilled here, with TRN04 taken as empty (it was not kept), so resends loaded before this
  revision stop counting at the next ``gateway reconcile --full``.

The key formula is a frozen copy of ``gateway.ingest.resend.key`` at this revision (a unit test
checks they agree); the backfill works one remittance at a time, so memory stays bounded.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_FORCED = "NOT forced"
BATCH = 5000


def key(parts: Sequence[str]) -> str:
    """Frozen copy of ``gateway.ingest.resend.key``: length-prefixed parts, BLAKE2b-128."""
    text = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def upgrade() -> None:
    op.drop_index("uq_interchanges_sender_control", table_name="interchanges")
    op.create_index(
        "uq_interchanges_identity",
        "interchanges",
        ["sender_qualifier", "sender_id", "receiver_qualifier", "receiver_id", "control_number"],
        unique=True,
        sqlite_where=sa.text(NOT_FORCED),
        postgresql_where=sa.text(NOT_FORCED),
    )
    # plain ALTER TABLE ADD COLUMN everywhere: a batch would copy the tables on SQLite, and
    # copying remittances (which provider_adjustments references) fails its foreign keys
    op.add_column("remittances", sa.Column("trace_supplemental", sa.String(length=50)))
    op.add_column("remittances", sa.Column("resend_of_file_id", sa.Integer()))
    for table in ("claim_payments", "provider_adjustments"):
        op.add_column(table, sa.Column("resend_key", sa.String(length=32), nullable=True))
        op.add_column(
            table, sa.Column("resend_twin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _backfill()
    op.create_index(
        "ix_provider_adjustments_resend", "provider_adjustments", ["provider_id", "resend_key"]
    )
    op.create_index(
        "ix_remittances_trace", "remittances", ["provider_id", "payer_id", "trace_number"]
    )


def _backfill() -> None:
    bind = op.get_bind()
    remits = bind.execute(
        sa.text("SELECT id, payer_id, trace_number FROM remittances ORDER BY id")
    ).all()
    claims = sa.text("UPDATE claim_payments SET resend_key = :k WHERE id = :i")
    plbs = sa.text("UPDATE provider_adjustments SET resend_key = :k WHERE id = :i")
    pending_c: list[dict[str, object]] = []
    pending_p: list[dict[str, object]] = []
    for remit_id, payer, trace in remits:
        seen: Counter[tuple[str, ...]] = Counter()
        for r in bind.execute(
            sa.text(
                "SELECT id, patient_control_number, payer_claim_control_number, status_code, "
                "CAST(ROUND(paid * 100) AS BIGINT) FROM claim_payments "
                "WHERE remittance_id = :r ORDER BY seq, id"
            ),
            {"r": remit_id},
        ):
            base: tuple[str, ...] = (
                "CLP",
                payer or "",
                trace or "",
                "",
                r[1] or "",
                r[2] or "",
                r[3] or "",
                str(int(r[4] or 0)),
            )
            seen[base] += 1
            pending_c.append({"k": key((*base, str(seen[base]))), "i": r[0]})
        seen.clear()
        for r in bind.execute(
            sa.text(
                "SELECT id, reason, reference, CAST(ROUND(amount * 100) AS BIGINT) "
                "FROM provider_adjustments WHERE remittance_id = :r ORDER BY id"
            ),
            {"r": remit_id},
        ):
            base = (
                "PLB",
                payer or "",
                trace or "",
                "",
                r[1] or "",
                r[2] or "",
                str(int(r[3] or 0)),
            )
            seen[base] += 1
            pending_p.append({"k": key((*base, str(seen[base]))), "i": r[0]})
        if len(pending_c) >= BATCH:
            bind.execute(claims, pending_c)
            pending_c = []
        if len(pending_p) >= BATCH:
            bind.execute(plbs, pending_p)
            pending_p = []
    if pending_c:
        bind.execute(claims, pending_c)
    if pending_p:
        bind.execute(plbs, pending_p)
    # a row is a twin when an earlier row of its provider has the same key: one ordered pass
    # (a correlated EXISTS can pick the provider_id index on SQLite without statistics)
    for name in ("claim_payments", "provider_adjustments"):
        t = sa.table(
            name,
            sa.column("id"),
            sa.column("provider_id"),
            sa.column("resend_key"),
            sa.column("resend_twin"),
        )
        twins: list[int] = []
        last: tuple[object, object] | None = None
        rows = bind.execute(
            sa.select(t.c.provider_id, t.c.resend_key, t.c.id)
            .where(t.c.resend_key.is_not(None))
            .order_by(t.c.provider_id, t.c.resend_key, t.c.id),
            execution_options={"stream_results": True},
        )
        for pid, k, row_id in rows:
            if last == (pid, k):
                twins.append(int(row_id))
            last = (pid, k)
        for i in range(0, len(twins), BATCH):
            bind.execute(
                sa.update(t).where(t.c.id.in_(twins[i : i + BATCH])).values(resend_twin=True)
            )


def downgrade() -> None:
    bind = op.get_bind()
    clash = bind.execute(
        sa.text(
            "SELECT 1 FROM interchanges WHERE NOT forced GROUP BY sender_id, control_number "
            "HAVING COUNT(*) > 1 LIMIT 1"
        )
    ).first()
    if clash:
        raise RuntimeError(
            "interchanges hold the same ISA06 + ISA13 for different receivers; "
            "the pre-0014 index cannot hold them, so the downgrade is refused"
        )
    op.drop_index("ix_remittances_trace", table_name="remittances")
    op.drop_index("ix_provider_adjustments_resend", table_name="provider_adjustments")
    for table, columns in (
        ("provider_adjustments", ("resend_twin", "resend_key")),
        ("claim_payments", ("resend_twin", "resend_key")),
        ("remittances", ("resend_of_file_id", "trace_supplemental")),
    ):
        for column in columns:  # in place (SQLite 3.35+ too): no batch copy of the table
            op.drop_column(table, column)
    op.drop_index("uq_interchanges_identity", table_name="interchanges")
    op.create_index(
        "uq_interchanges_sender_control",
        "interchanges",
        ["sender_id", "control_number"],
        unique=True,
        sqlite_where=sa.text(NOT_FORCED),
        postgresql_where=sa.text(NOT_FORCED),
    )
