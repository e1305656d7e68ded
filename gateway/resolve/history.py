"""Writing a case's history: one ``case_transitions`` row, and the milestones the case keeps.

A case keeps the UTC day of its last move *into* ``resolved`` (and the state it came from) and
of its first move into ``disputed`` (migration 0023), so the KPI reports read them from the case
row instead of probing the transitions of every credit. Every transition that can reach those
states is written here; a same-state entry (a note, an assignment) is history, not a milestone.
The bulk opening of new cases (``case_sync``) inserts its ``None → open`` rows directly: opening
is no milestone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from gateway.db.types import tbl, utcnow
from gateway.resolve.tables import CaseTransition, ResolutionCase
from schemas.states import CaseState


def record_transition(
    s: Session,
    case_id: int,
    frm: str | None,
    to: str,
    *,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Append the transition (``at`` defaults to now; a data set may give a past instant)."""
    when = at or utcnow()
    s.execute(
        insert(tbl(CaseTransition)).values(
            case_id=case_id,
            from_state=frm,
            to_state=to,
            actor=actor[:128],
            at=when,
            reason=reason,
            details=details,
        )
    )
    if frm == to:
        return
    rc = tbl(ResolutionCase)
    day = when.astimezone(dt.UTC).date()
    if to == CaseState.RESOLVED:
        s.execute(update(rc).where(rc.c.id == case_id).values(resolved_on=day, resolved_from=frm))
    elif to == CaseState.DISPUTED:
        s.execute(
            update(rc).where(rc.c.id == case_id, rc.c.disputed_on.is_(None)).values(disputed_on=day)
        )


__all__ = ["record_transition"]
