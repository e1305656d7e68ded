"""A case's milestones (last move into resolved and its origin, first move into disputed), kept
by the transition writer and backfilled by migration 0023, on SQLite and PostgreSQL.

Worked by hand: case R moves open → approved (Mar 1) → resolved (Mar 5); a note on the resolved
case (Mar 9) is no move; reopened (Mar 12) and resolved again from open (Mar 20): resolved on
Mar 20, from open. Case D moves open → disputed (Apr 2) → open (Apr 3) → disputed (Apr 8):
first disputed Apr 2, never resolved.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from alembic import command
from sqlalchemy import insert, select, text

from gateway.db.base import Database
from gateway.db.migrate import alembic_config, upgrade
from gateway.db.models import Provider
from gateway.db.types import tbl, utcnow
from gateway.reconcile.tables import Credit
from gateway.resolve.history import record_transition
from gateway.resolve.tables import CaseTransition, ResolutionCase

D = dt.date
R_MOVES = [
    (None, "open", D(2026, 3, 1)),
    ("open", "approved", D(2026, 3, 1)),
    ("approved", "resolved", D(2026, 3, 5)),
    ("resolved", "resolved", D(2026, 3, 9)),
    ("resolved", "open", D(2026, 3, 12)),
    ("open", "resolved", D(2026, 3, 20)),
]
D_MOVES = [
    (None, "open", D(2026, 4, 1)),
    ("open", "disputed", D(2026, 4, 2)),
    ("disputed", "open", D(2026, 4, 3)),
    ("open", "disputed", D(2026, 4, 8)),
]
EXPECTED = {"R": (D(2026, 3, 20), "open", None), "D": (None, None, D(2026, 4, 2))}


def _late_evening(day: dt.date) -> dt.datetime:
    """23:30 UTC: already the next day at UTC+14 (the backfill test's PostgreSQL zone)."""
    return dt.datetime.combine(day, dt.time(23, 30), tzinfo=dt.UTC)


def _cases(db: Database) -> dict[str, int]:
    pt, ct, rc = tbl(Provider), tbl(Credit), tbl(ResolutionCase)
    out = {}
    with db.write() as s:
        pid = s.execute(
            insert(pt)
            .values(key="npi:1234567893", npi="1234567893", name="Clinic", created_at=utcnow())
            .returning(pt.c.id)
        ).scalar_one()
        for n, name in enumerate(("R", "D")):
            credit: dict[str, Any] = {
                "provider_id": pid,
                "patient_control_number": f"MS{n}",
                "owed_to": "payer",
                "payer_id": "ACME01",
                "cause": "overpayment",
                "amount": Decimal("10.00"),
                "government": False,
                "identified_on": D(2026, 3, 1),
                "status": "open",
                "first_run_id": 1,
                "last_run_id": 1,
                "updated_at": utcnow(),
            }
            cid = s.execute(insert(ct).values(**credit).returning(ct.c.id)).scalar_one()
            out[name] = s.execute(
                insert(rc)
                .values(credit_id=cid, provider_id=pid, state="open", updated_at=utcnow())
                .returning(rc.c.id)
            ).scalar_one()
    return out


def _milestones(db: Database, ids: dict[str, int]) -> dict[str, tuple[Any, Any, Any]]:
    rc = tbl(ResolutionCase)
    with db.read() as s:
        rows = s.execute(
            select(rc.c.id, rc.c.resolved_on, rc.c.resolved_from, rc.c.disputed_on)
        ).all()
    by_id = {r.id: (r.resolved_on, r.resolved_from, r.disputed_on) for r in rows}
    return {name: by_id[i] for name, i in ids.items()}


def test_the_writer_keeps_milestones_and_a_note_is_no_move(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        ids = _cases(db)
        with db.write() as s:
            for name, moves in (("R", R_MOVES), ("D", D_MOVES)):
                for frm, to, day in moves:
                    record_transition(
                        s, ids[name], frm, to, actor="pytest", reason="x", at=_late_evening(day)
                    )
        assert _milestones(db, ids) == EXPECTED
    finally:
        db.dispose()


def test_migration_0023_backfills_from_the_transitions(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        cfg = alembic_config(db_url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0022")
        if not db.is_sqlite:  # the day is UTC's whatever the session's zone
            with db.engine.begin() as conn:
                dbname = conn.execute(text("SELECT current_database()")).scalar_one()
                conn.execute(
                    text(f"ALTER DATABASE \"{dbname}\" SET timezone TO 'Pacific/Kiritimati'")
                )
            db.engine.dispose()
        ids = _cases(db)
        tt = tbl(CaseTransition)
        with db.write() as s:
            for name, moves in (("R", R_MOVES), ("D", D_MOVES)):
                for frm, to, day in moves:
                    s.execute(
                        insert(tt).values(
                            case_id=ids[name],
                            from_state=frm,
                            to_state=to,
                            actor="pytest",
                            at=_late_evening(day),
                            reason="x",
                        )
                    )
        upgrade(db)
        assert _milestones(db, ids) == EXPECTED
    finally:
        db.dispose()
