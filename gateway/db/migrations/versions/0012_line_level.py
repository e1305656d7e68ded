"""Line-level reconciliation: ledger line detail, 835 pricing facts, line variances.

Revision ID: 0012
Revises: 0011

- ``ledger_entries`` gains the line columns an export may carry (procedure, revenue code,
  modifiers, service date, units, line_ref = the 837's REF*6R); they are not part of the
  row's dedupe key.
- ``claim_payments`` gains what says how a payer priced a claim (DRG, MIA) and whether it is a
  split part (MA15), and the interest included in CLP04; ``service_payments`` the billed code.
- ``credits.pending_reason`` says why a pending credit is held.
- ``line_variances``: uncharged lines and unmatched charges, with the analyst's answer.
- ``claim_waits``: claims paid with no posted charge, waiting out the ledger lag.
- indexes on (provider, CLP07) and (provider, patient control number): each claim lookup one
  probe, whatever the planner knows.
Rows loaded before this revision keep the defaults (no DRG, no MIA, no interest, no code):
replay a file to fill them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2)
LINE_CHARGE = "type = 'charge' AND (line_ref <> '' OR procedure_code <> '' OR revenue_code <> '')"


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(
            sa.Column("procedure_code", sa.String(48), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("revenue_code", sa.String(8), nullable=False, server_default=""))
        batch.add_column(sa.Column("modifiers", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("service_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("units", sa.Numeric(15, 4), nullable=True))
        batch.add_column(sa.Column("line_ref", sa.String(50), nullable=False, server_default=""))
    op.create_index(
        "ix_ledger_entries_line_charges",
        "ledger_entries",
        ["provider_id", "patient_control_number"],
        sqlite_where=sa.text(LINE_CHARGE),
        postgresql_where=sa.text(LINE_CHARGE),
    )
    with op.batch_alter_table("claim_payments") as batch:
        batch.add_column(sa.Column("interest", MONEY, nullable=True))
        batch.add_column(sa.Column("drg_code", sa.String(8), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("inpatient", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("split", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # claim keys and CLP07 within a provider: without statistics SQLite probed the provider_id
    # index and walked a provider's every row per claim (an unmatched 835 of 20,000 claims
    # took 243 s to reconcile); both columns make each lookup one index probe
    op.create_index(
        "ix_claim_payments_provider_icn",
        "claim_payments",
        ["provider_id", "payer_claim_control_number"],
    )
    op.create_index(
        "ix_claim_payments_provider_pcn",
        "claim_payments",
        ["provider_id", "patient_control_number"],
    )
    op.create_index("ix_claims_provider_pcn", "claims", ["provider_id", "patient_control_number"])
    with op.batch_alter_table("service_payments") as batch:
        batch.add_column(sa.Column("code", sa.String(48), nullable=False, server_default=""))
    with op.batch_alter_table("credits") as batch:
        batch.add_column(sa.Column("pending_reason", sa.String(24), nullable=True))
    op.create_table(
        "line_variances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("providers.id"), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("patient_control_number", sa.String(38), nullable=False),
        sa.Column("payer_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("group_key", sa.String(160), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("charge", MONEY, nullable=False),
        sa.Column("paid", MONEY, nullable=False),
        sa.Column("lines", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_line_variances_identity",
        "line_variances",
        ["provider_id", "patient_control_number", "payer_id", "kind", "group_key"],
        unique=True,
    )
    op.create_index("ix_line_variances_status", "line_variances", ["status"])
    op.create_table(
        "claim_waits",
        sa.Column("provider_id", sa.Integer(), sa.ForeignKey("providers.id"), primary_key=True),
        sa.Column("patient_control_number", sa.String(38), primary_key=True),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("payer_id", sa.String(80), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
    )
    op.create_index("ix_claim_waits_until", "claim_waits", ["until"])


def downgrade() -> None:
    op.drop_index("ix_claim_waits_until", table_name="claim_waits")
    op.drop_table("claim_waits")
    op.drop_index("ix_line_variances_status", table_name="line_variances")
    op.drop_index("uq_line_variances_identity", table_name="line_variances")
    op.drop_table("line_variances")
    with op.batch_alter_table("credits") as batch:
        batch.drop_column("pending_reason")
    with op.batch_alter_table("service_payments") as batch:
        batch.drop_column("code")
    op.drop_index("ix_claims_provider_pcn", table_name="claims")
    op.drop_index("ix_claim_payments_provider_pcn", table_name="claim_payments")
    op.drop_index("ix_claim_payments_provider_icn", table_name="claim_payments")
    with op.batch_alter_table("claim_payments") as batch:
        for name in ("split", "inpatient", "drg_code", "interest"):
            batch.drop_column(name)
    op.drop_index("ix_ledger_entries_line_charges", table_name="ledger_entries")
    with op.batch_alter_table("ledger_entries") as batch:
        for name in (
            "line_ref",
            "units",
            "service_date",
            "modifiers",
            "revenue_code",
            "procedure_code",
        ):
            batch.drop_column(name)
