"""Working a case by person: assignment to a named user, notes, and who may do which bulk
action. One service under ``gateway cases assign|note|bulk``, ``POST /v1/cases/...`` and the
console's case and worklist pages, so the three check and record the same way.

- An assignee must be an active user whose role works cases (``CASE_WORKERS``) and who may see
  the case: a user of the case's provider, or a gateway-wide one (no provider).
- A note's text is the analyst's free text, so it may name a patient: it is sealed at rest
  with the data keys, masked for roles without PHI access, and never logged or audited (the
  audit entry holds the note's id and length, the case history says "note added").
- Bulk actions (``gateway.resolve.bulk_actions``) run these, and approval, investigation and
  batching, case by case. Nothing here commits; the caller owns the unit of work.

``scope`` is a provider key: a caller bound to a provider acts only on its cases, and another
provider's case is answered exactly like an unknown one (``case_not_found``).
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.models import Provider
from gateway.db.types import tbl, utcnow
from gateway.errors import InputError, NotFoundError
from gateway.logging import get_logger
from gateway.read.worklist import CaseNoteRead
from gateway.reconcile.tables import Credit
from gateway.resolve.history import record_transition
from gateway.resolve.tables import CaseNote, ResolutionCase
from gateway.security.roles import OPERATORS, Role
from gateway.users.tables import User

log = get_logger("gateway.resolve")

#: roles of people who work cases: may be assigned, assign, note, approve, investigate
CASE_WORKERS = frozenset({Role.ANALYST, Role.OPS, Role.ADMIN})
#: the note context the data keys authenticate (a sealed note cannot be moved to a column)
NOTE_CONTEXT = "case_notes.text"
NOTE_MAX = 4000
MASK = "••••••"


class BulkAction(enum.StrEnum):
    ASSIGN = "assign"
    APPROVE = "approve"
    INVESTIGATE = "investigate"
    BATCH = "batch"


#: who may run each bulk action (API keys: only ops keys work cases)
ACTION_ROLES: dict[BulkAction, frozenset[Role]] = {
    BulkAction.ASSIGN: CASE_WORKERS,
    BulkAction.APPROVE: CASE_WORKERS,
    BulkAction.INVESTIGATE: CASE_WORKERS,
    BulkAction.BATCH: OPERATORS,
}


#: the read model of a note lives in gateway.read.worklist
NoteRead = CaseNoteRead


def may(role: Role, action: BulkAction | str) -> bool:
    return role in ACTION_ROLES[BulkAction(action)]


def require_role(role: Role, action: BulkAction | str) -> None:
    """Refuse (403 ``role_forbidden``) a role that may not do ``action``."""
    if not may(role, action):
        allowed = ", ".join(sorted(r.value for r in ACTION_ROLES[BulkAction(action)]))
        raise InputError(
            f"the {role.value} role may not {BulkAction(action).value} cases (allowed: {allowed})",
            code="role_forbidden",
        )


def require_worker(role: Role) -> None:
    """Refuse (403 ``role_forbidden``) a role that does not work cases (auditor, uploader)."""
    if role not in CASE_WORKERS:
        raise InputError(
            f"the {role.value} role does not work cases (allowed: admin, analyst, ops)",
            code="role_forbidden",
        )


# ---------------------------------------------------------------- reading


def require_case(s: Session, credit_id: int, *, scope: str | None) -> Any:
    """(case_id, credit_id, state, provider_key, assignee) of the case, or the one
    ``case_not_found`` error: outside ``scope`` a case is answered like an unknown one."""
    rc, ct, pt = tbl(ResolutionCase), tbl(Credit), tbl(Provider)
    stmt = (
        select(
            rc.c.id.label("case_id"),
            rc.c.credit_id,
            rc.c.state,
            rc.c.assignee,
            pt.c.key.label("provider_key"),
        )
        .select_from(rc.join(ct, ct.c.id == rc.c.credit_id).join(pt, pt.c.id == ct.c.provider_id))
        .where(rc.c.credit_id == credit_id)
    )
    if scope is not None:
        stmt = stmt.where(pt.c.key == scope)
    row = s.execute(stmt).one_or_none()
    if row is None:
        raise NotFoundError(f"no case for credit {credit_id}", code="case_not_found")
    return row


def _cipher() -> Any:
    from gateway.security.columns import column_cipher

    return column_cipher()


def notes(s: Session, case_id: int, *, phi: bool) -> list[NoteRead]:
    """The case's notes, oldest first (text masked unless ``phi``)."""
    nt = tbl(CaseNote)
    cipher = _cipher() if phi else None
    out = []
    for r in s.execute(select(nt).where(nt.c.case_id == case_id).order_by(nt.c.id)):
        text = cipher.open(r.text_sealed, NOTE_CONTEXT) if cipher is not None else MASK
        out.append(NoteRead(id=r.id, author=r.author, at=r.at, text=text or ""))
    return out


def case_workers(s: Session, *, provider_key: str | None) -> list[str]:
    """Usernames that may be assigned a case of ``provider_key`` (for the console's picker)."""
    stmt = (
        select(User.username)
        .where(User.disabled_at.is_(None), User.role.in_([r.value for r in CASE_WORKERS]))
        .order_by(User.username)
    )
    if provider_key is not None:
        stmt = stmt.where((User.provider_key.is_(None)) | (User.provider_key == provider_key))
    return [str(r[0]) for r in s.execute(stmt)]


# ---------------------------------------------------------------- writing


def _history(s: Session, case: Any, *, actor: str, reason: str, details: dict[str, Any]) -> None:
    record_transition(
        s, case.case_id, case.state, case.state, actor=actor, reason=reason, details=details
    )


def _assignable(s: Session, username: str, provider_key: str) -> str:
    from gateway.users.service import normalise_username

    name = normalise_username(username)
    user = s.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None or user.disabled_at is not None:
        raise InputError(f"no active user named {name!r}", code="bad_assignee")
    if user.role not in {r.value for r in CASE_WORKERS}:
        raise InputError(
            f"user {name!r} is {user.role}: only analyst, ops and admin users work cases",
            code="bad_assignee",
        )
    if user.provider_key is not None and user.provider_key != provider_key:
        raise InputError(
            f"user {name!r} works another provider's cases and cannot be assigned this one",
            code="bad_assignee",
        )
    return name


def assign(
    s: Session,
    credit_id: int,
    assignee: str | None,
    *,
    actor: str,
    scope: str | None,
    reason: str = "",
) -> str | None:
    """Assign the case to ``assignee`` (None: unassign); audited; returns the new assignee."""
    case = require_case(s, credit_id, scope=scope)
    name = _assignable(s, assignee, case.provider_key) if assignee else None
    if name == case.assignee:
        return name  # nothing changes; nothing to record
    rc = tbl(ResolutionCase)
    s.execute(
        update(rc)
        .where(rc.c.id == case.case_id)
        .values(assignee=name, assigned_at=utcnow() if name else None, updated_at=utcnow())
    )
    why = (reason or "").strip()[:1000] or (f"assigned to {name}" if name else "unassigned")
    details = {"assignee": name, "previous_assignee": case.assignee}
    _history(s, case, actor=actor, reason=why, details=details)
    audit.record(
        s,
        actor=actor,
        action="case_assigned" if name else "case_unassigned",
        outcome=name or "unassigned",
        reason=why,
        details={"case_id": case.case_id, "credit_id": credit_id, **details},
    )
    return name


def add_note(s: Session, credit_id: int, text: str, *, actor: str, scope: str | None) -> NoteRead:
    """Add a note to the case (sealed at rest; the audit log and the log get no text)."""
    body = (text or "").strip()
    if not body:
        raise InputError("a note needs some text", code="note_empty")
    if len(body) > NOTE_MAX:
        raise InputError(f"a note is at most {NOTE_MAX} characters", code="note_too_long")
    case = require_case(s, credit_id, scope=scope)
    now = utcnow()
    sealed = _cipher().seal(body, NOTE_CONTEXT)
    note_id = int(
        s.execute(
            insert(tbl(CaseNote))
            .values(case_id=case.case_id, author=actor[:128], at=now, text_sealed=sealed)
            .returning(tbl(CaseNote).c.id)
        ).scalar_one()
    )
    _history(s, case, actor=actor, reason="note added", details={"note_id": note_id})
    audit.record(
        s,
        actor=actor,
        action="case_note_added",
        outcome="added",
        details={
            "case_id": case.case_id,
            "credit_id": credit_id,
            "note_id": note_id,
            "length": len(body),
        },
    )
    log.info("case_note_added", case_id=case.case_id, note_id=note_id)
    return NoteRead(id=note_id, author=actor[:128], at=now, text=body)


__all__ = [
    "ACTION_ROLES",
    "CASE_WORKERS",
    "NOTE_MAX",
    "BulkAction",
    "NoteRead",
    "add_note",
    "assign",
    "case_workers",
    "may",
    "notes",
    "require_case",
    "require_role",
    "require_worker",
]
