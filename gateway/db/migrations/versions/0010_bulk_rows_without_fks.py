"""Per-claim bulk rows without foreign-key constraints (their indexes stay).

Revision ID: 0010
Revises: 0009

PostgreSQL checks each foreign key with a trigger per inserted row: for a 20,000-claim 835 that
was about 390,000 checks and 60 % of the load time. These rows are written only by the loader,
in one transaction per file from ids it allocates, and deleted only with their file; see
gateway/db/models.py and ``gateway db check``, which finds orphans set-wise.

The constraints were created unnamed: PostgreSQL named them ``<table>_<column>_fkey``; SQLite
keeps no names, so batch mode names the reflected ones by convention before dropping them.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table → (column, referred table) of every constraint dropped here
DROPPED: dict[str, tuple[tuple[str, str], ...]] = {
    "adjustments": (
        ("file_id", "inbound_files"),
        ("claim_payment_id", "claim_payments"),
        ("service_payment_id", "service_payments"),
    ),
    "service_payments": (("file_id", "inbound_files"), ("claim_payment_id", "claim_payments")),
    "claim_payments": (
        ("file_id", "inbound_files"),
        ("remittance_id", "remittances"),
        ("provider_id", "providers"),
    ),
    "claim_lines": (("file_id", "inbound_files"), ("claim_id", "claims")),
    "other_payer_payments": (("file_id", "inbound_files"), ("claim_id", "claims")),
    "claims": (
        ("file_id", "inbound_files"),
        ("transaction_id", "transactions"),
        ("provider_id", "providers"),
    ),
}
SQLITE_FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, fks in DROPPED.items():
            for column, _ in fks:
                op.drop_constraint(f"{table}_{column}_fkey", table, type_="foreignkey")
        return
    for table, fks in DROPPED.items():
        with op.batch_alter_table(table, naming_convention=SQLITE_FK_NAMES) as batch:
            for column, referred in fks:
                batch.drop_constraint(f"fk_{table}_{column}_{referred}", type_="foreignkey")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, fks in reversed(DROPPED.items()):
        with op.batch_alter_table(table) as batch:
            for column, referred in fks:
                name = f"{table}_{column}_fkey" if postgres else f"fk_{table}_{column}_{referred}"
                batch.create_foreign_key(name, referred, [column], ["id"])
