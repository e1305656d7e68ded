"""Outbound: delivery queue and receipts, transfer failures, acknowledgment bookkeeping.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ack_control_numbers",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.PrimaryKeyConstraint("partner_id"),
    )
    op.create_table(
        "transfer_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("remote_path", sa.String(length=768), nullable=True),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("resolved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("resolved_at", _TZ, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_transfer_failures_partner_id"), "transfer_failures", ["partner_id"], unique=False
    )
    op.create_index(
        "ix_transfer_failures_resolved_at", "transfer_failures", ["resolved", "at"], unique=False
    )
    op.create_table(
        "ack_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("original_name", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ack_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("rendered_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(["file_id"], ["inbound_files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("partner_id", "file_id", name="uq_ack_requests_partner_file"),
    )
    op.create_index(op.f("ix_ack_requests_file_id"), "ack_requests", ["file_id"], unique=False)
    op.create_table(
        "outbound_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("remote_dir", sa.String(length=512), nullable=False),
        sa.Column("remote_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TZ, nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", _TZ, nullable=True),
        sa.Column("last_error_code", sa.String(length=64), nullable=True),
        sa.Column("last_error_message", sa.Text(), nullable=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("delivered_at", _TZ, nullable=True),
        sa.ForeignKeyConstraint(["source_file_id"], ["inbound_files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "partner_id",
            "sha256",
            "remote_dir",
            "remote_name",
            name="uq_outbound_files_partner_content_path",
        ),
    )
    op.create_index(
        op.f("ix_outbound_files_partner_id"), "outbound_files", ["partner_id"], unique=False
    )
    op.create_index(
        "ix_outbound_files_state_next", "outbound_files", ["state", "next_attempt_at"], unique=False
    )
    op.create_table(
        "delivery_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("remote_path", sa.String(length=768), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("delivered_at", _TZ, nullable=False),
        sa.Column("outbound_file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["outbound_file_id"], ["outbound_files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "partner_id", "sha256", "remote_path", name="uq_delivery_receipts_partner_content_path"
        ),
    )
    op.create_index(
        op.f("ix_delivery_receipts_outbound_file_id"),
        "delivery_receipts",
        ["outbound_file_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_delivery_receipts_partner_id"), "delivery_receipts", ["partner_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_receipts_partner_id"), table_name="delivery_receipts")
    op.drop_index(op.f("ix_delivery_receipts_outbound_file_id"), table_name="delivery_receipts")
    op.drop_table("delivery_receipts")
    op.drop_index("ix_outbound_files_state_next", table_name="outbound_files")
    op.drop_index(op.f("ix_outbound_files_partner_id"), table_name="outbound_files")
    op.drop_table("outbound_files")
    op.drop_index(op.f("ix_ack_requests_file_id"), table_name="ack_requests")
    op.drop_table("ack_requests")
    op.drop_index("ix_transfer_failures_resolved_at", table_name="transfer_failures")
    op.drop_index(op.f("ix_transfer_failures_partner_id"), table_name="transfer_failures")
    op.drop_table("transfer_failures")
    op.drop_table("ack_control_numbers")
