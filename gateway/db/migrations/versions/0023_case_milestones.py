"""A case keeps the days of its milestones: last resolved (and from which state), first disputed.

Revision ID: 0023
Revises: 0022

Issue 21: the recovery and days-to-resolve reports found each case's last transition to
``resolved`` and first to ``disputed`` with a correlated probe of ``case_transitions`` per
credit, most of their time at 100,000 credits. The transition writer
(``gateway.resolve.history.record_transition``) now keeps these three columns on the case in
the same statement batch; this backfills them from the transitions already there (the UTC
day of each transition's ``at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CASES = sa.table(
    "resolution_cases",
    sa.column("id"),
    sa.column("resolved_on"),
    sa.column("resolved_from"),
    sa.column("disputed_on"),
)
MOVES = sa.table(
    "case_transitions",
    sa.column("id"),
    sa.column("case_id"),
    sa.column("from_state"),
    sa.column("to_state"),
    sa.column("at"),
)


def _backfill() -> None:
    """Each case's last move into ``resolved`` and first into ``disputed`` (a same-state
    entry, a note or an assignment, is no move), as correlated subqueries of one UPDATE."""
    sqlite = op.get_bind().dialect.name == "sqlite"

    def move(agg: Any, to_state: str) -> Any:
        x = MOVES.alias("x")
        return (
            sa.select(agg(x.c.id))
            .where(
                x.c.case_id == CASES.c.id,
                x.c.to_state == to_state,
                sa.or_(x.c.from_state.is_(None), x.c.from_state != to_state),
            )
            .correlate(CASES)
            .scalar_subquery()
        )

    def pick(what: str, agg: Any, to_state: str) -> Any:
        t = MOVES.alias("t")
        if what == "from":
            col: Any = t.c.from_state
        elif sqlite:
            col = sa.func.date(t.c.at)
        else:
            col = sa.cast(sa.func.timezone("UTC", t.c.at), sa.Date)
        return (
            sa.select(col).where(t.c.id == move(agg, to_state)).correlate(CASES).scalar_subquery()
        )

    op.execute(
        sa.update(CASES).values(
            resolved_on=pick("day", sa.func.max, "resolved"),
            resolved_from=pick("from", sa.func.max, "resolved"),
            disputed_on=pick("day", sa.func.min, "disputed"),
        )
    )


def upgrade() -> None:
    with op.batch_alter_table("resolution_cases") as batch:
        batch.add_column(sa.Column("resolved_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("resolved_from", sa.String(24), nullable=True))
        batch.add_column(sa.Column("disputed_on", sa.Date(), nullable=True))
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("resolution_cases") as batch:
        batch.drop_column("disputed_on")
        batch.drop_column("resolved_from")
        batch.drop_column("resolved_on")
