"""Cases follow reconciliation: every open credit gets a case, and a case whose credit
reconciliation resolved (a PLB recoupment, a refund it saw) is resolved by the system actor.

Run after each reconciliation (``gateway cases sync``, the worker, the demo); idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import tbl, utcnow
from gateway.logging import get_logger
from gateway.reconcile.tables import Credit
from gateway.resolve.tables import CaseTransition, ResolutionCase
from gateway.resolve.workflow import RECONCILE_ACTOR, transition
from schemas.states import CaseState, CreditStatus

log = get_logger("gateway.resolve")
S = CaseState


@dataclass
class SyncSummary:
    opened: int = 0
    resolved: int = 0


def sync_cases(s: Session, *, actor: str = RECONCILE_ACTOR) -> SyncSummary:
    """Open a case for every open credit; resolve cases whose credit reconciliation resolved.

    Idempotent; cheap when nothing changed (two anti-joins).
    """
    rc, ct = tbl(ResolutionCase), tbl(Credit)
    out = SyncSummary()
    missing = s.execute(
        select(ct.c.id, ct.c.provider_id)
        .where(
            ct.c.status == CreditStatus.OPEN,
            ~select(rc.c.id).where(rc.c.credit_id == ct.c.id).exists(),
        )
        .order_by(ct.c.id)
    ).all()
    now = utcnow()
    for i in range(0, len(missing), 1000):
        part = missing[i : i + 1000]
        s.execute(
            insert(rc),
            [
                {
                    "credit_id": r.id,
                    "provider_id": r.provider_id,
                    "state": S.OPEN.value,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in part
            ],
        )
        ids = {
            r.credit_id: r.id
            for r in s.execute(
                select(rc.c.credit_id, rc.c.id).where(rc.c.credit_id.in_([r.id for r in part]))
            )
        }
        s.execute(
            insert(tbl(CaseTransition)),
            [
                {
                    "case_id": ids[r.id],
                    "from_state": None,
                    "to_state": S.OPEN.value,
                    "actor": actor,
                    "at": now,
                    "reason": "credit identified by reconciliation",
                    "details": None,
                }
                for r in part
            ],
        )
    out.opened = len(missing)
    if missing:
        audit.record(
            s,
            actor=actor,
            action="cases_opened",
            outcome="open",
            reason="open credits without a case",
            details={
                "cases": len(missing),
                "first_credit_id": missing[0].id,
                "last_credit_id": missing[-1].id,
            },
        )
    gone = s.execute(
        select(rc.c.credit_id, ct.c.resolution, ct.c.resolved_on)
        .select_from(rc.join(ct, ct.c.id == rc.c.credit_id))
        .where(ct.c.status == CreditStatus.RESOLVED, rc.c.state != S.RESOLVED.value)
        .order_by(rc.c.id)
    ).all()
    for r in gone:
        transition(
            s,
            r.credit_id,
            S.RESOLVED,
            actor=actor,
            reason=f"reconciliation resolved the credit ({r.resolution or 'gone'})",
            details={
                "resolution": r.resolution,
                "resolved_on": r.resolved_on.isoformat() if r.resolved_on else None,
            },
        )
    out.resolved = len(gone)
    if out.opened or out.resolved:
        log.info("cases_synced", opened=out.opened, resolved=out.resolved)
    return out


__all__ = ["SyncSummary", "sync_cases"]
