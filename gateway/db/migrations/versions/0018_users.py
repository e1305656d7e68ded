"""Per-person console users; a console session belongs to a user or (as before) an API key.

Revision ID: 0018
Revises: 0017

``users`` holds an argon2id hash of each password, never the password. ``console_sessions``
gains ``user_id`` and its ``api_key_id`` may now be empty (a person's session names no key);
SQLite changes a column's nullability only by rebuilding the table (batch mode; nothing refers
to console_sessions, and its rows are short-lived sessions).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("provider_key", sa.String(length=80), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    with op.batch_alter_table("users") as batch:
        batch.create_index(batch.f("ix_users_provider_key"), ["provider_key"], unique=False)
    with op.batch_alter_table("console_sessions") as batch:
        batch.alter_column("api_key_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_console_sessions_user_id_users", "users", ["user_id"], ["id"])
        batch.create_index(batch.f("ix_console_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM console_sessions WHERE user_id IS NOT NULL"))
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_index(batch.f("ix_console_sessions_user_id"))
        batch.drop_constraint("fk_console_sessions_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
        batch.alter_column("api_key_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("users") as batch:
        batch.drop_index(batch.f("ix_users_provider_key"))
    op.drop_table("users")
