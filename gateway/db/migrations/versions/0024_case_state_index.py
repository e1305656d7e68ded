"""The case worklist's indexes: two covering ones for the per-state counts, one in its order.

Revision ID: 0024
Revises: 0023

Issue 20: the worklist counts every state's cases under the filters on each request. Walking
``ix_resolution_cases_state`` (state, provider_id) it read each case row for its credit id;
``ix_resolution_cases_state_credit`` (state, credit_id, assignee) answers the scan from the
index alone (the assignee filter included), 4× faster at 100,000 cases on SQLite; when a
filter drives the scan from ``credits`` (a due-date range), ``ix_resolution_cases_credit_state``
(credit_id, state, assignee) is the covering probe of each credit's case. The page
sorted every matching case by (government first, dated before undated, due day, provider,
claim); ``ix_credits_case_worklist`` holds that order, so the first page is an index walk that
stops after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_resolution_cases_state_credit",
        "resolution_cases",
        ["state", "credit_id", "assignee"],
    )
    op.create_index(
        "ix_resolution_cases_credit_state",
        "resolution_cases",
        ["credit_id", "state", "assignee"],
    )
    op.create_index(
        "ix_credits_case_worklist",
        "credits",
        [
            sa.text("government DESC"),
            sa.text("(due_by IS NULL)"),
            "due_by",
            "provider_id",
            "patient_control_number",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_credits_case_worklist", table_name="credits")
    op.drop_index("ix_resolution_cases_credit_state", table_name="resolution_cases")
    op.drop_index("ix_resolution_cases_state_credit", table_name="resolution_cases")
