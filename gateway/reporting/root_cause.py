"""Record the analyst's root cause of a credit on its case (audited like any case change)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import utcnow
from gateway.errors import InputError
from gateway.reporting.base import RC
from gateway.resolve.case_views import CaseView, get_case
from gateway.resolve.history import record_transition
from mappings.root_causes import RootCauses, default_root_causes


def set_root_cause(
    s: Session,
    credit_id: int,
    code: str,
    *,
    actor: str,
    reason: str = "",
    codes: RootCauses | None = None,
) -> CaseView:
    """Set (or change) the root cause of the case of ``credit_id`` to ``code``.

    The code must be one of ``mappings/root_causes.yaml`` (else ``InputError``: exit 2 / 400);
    the change is a case-history note and an audit entry, in the caller's transaction.
    """
    known = codes or default_root_causes()
    if not known.is_code(code):
        raise InputError(
            f"unknown root cause {code[:40]!r}; use one of {', '.join(known.codes)}",
            code="bad_root_cause",
            location={"root_cause": code[:40]},
        )
    case = get_case(s, credit_id, history=False)
    s.execute(
        update(RC).where(RC.c.id == case.case_id).values(root_cause=code, updated_at=utcnow())
    )
    why = (reason or "").strip()[:1000] or f"root cause {code}"
    details = {"root_cause": code}
    record_transition(
        s, case.case_id, case.state, case.state, actor=actor, reason=why, details=details
    )
    audit.record(
        s,
        actor=actor,
        action="case_root_cause",
        outcome=case.state,
        reason=why,
        details={"case_id": case.case_id, "credit_id": credit_id, **details},
    )
    return case


__all__ = ["set_root_cause"]
