"""Working a case by person: assignment to a named user, notes, and bulk actions with per-case
results. One service under ``gateway cases assign|note|bulk``, ``POST /v1/cases/...`` and the
console's case and worklist pages, so the three check and record the same way.

- An assignee must be an active user whose role works cases (``CASE_WORKERS``) and who may see
  the case: a user of the case's provider, or a gateway-wide one (no provider).
- A note's text is the analyst's free text, so it may name a patient: it is sealed at rest
  with the data keys, masked for roles without PHI access, and never logged or audited (the
  audit entry holds the note's id and length, the case history says "note added").
- A bulk action runs each case in its own savepoint: one refused case (another provider's, an
  approval without a layout, a case in the wrong state) is reported with its reason and leaves
  the others done. Nothing here commits; the caller owns the unit of work.

``scope`` is a provider key: a caller bound to a provider acts only on its cases, and another
provider's case is answered exactly like an unknown one (``case_not_found``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.models import Provider, tbl, utcnow
from gateway.errors import GatewayError, InputError, NotFoundError
from gateway.logging import get_logger
from gateway.read.types import READ
from gateway.read.worklist import CaseNoteRead
from gateway.reconcile.tables import Credit
from gateway.resolve import case_views
from gateway.resolve import workflow as wf
from gateway.resolve.tables import BatchItem, CaseNote, CaseTransition, ResolutionCase
from gateway.security.roles import OPERATORS, Role
from gateway.users.tables import User
from mappings.payers import PayerDirectory, default_directory
from schemas.states import CaseState

log = get_logger("gateway.resolve")

#: roles of people who work cases: may be assigned, assign, note, approve, investigate
CASE_WORKERS = frozenset({Role.ANALYST, Role.OPS, Role.ADMIN})
#: the note context the data keys authenticate (a sealed note cannot be moved to a column)
NOTE_CONTEXT = "case_notes.text"
NOTE_MAX = 4000
MASK = "••••••"
#: the most cases one bulk request may name
BULK_MAX = 500


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


class BulkItem(BaseModel):
    """What one case of a bulk action came to."""

    model_config = READ

    credit_id: int
    ok: bool
    state: CaseState | None = Field(default=None, description="The case's state afterwards")
    code: str | None = Field(default=None, description="Why it was refused (null: done)")
    message: str | None = None
    batch_id: int | None = Field(default=None, description="batch only: the batch it went into")


class BulkResult(BaseModel):
    """Per-case results of a bulk action: which succeeded, which were refused and why."""

    model_config = READ

    action: BulkAction
    done: int
    refused: int
    items: list[BulkItem]


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
    s.execute(
        insert(tbl(CaseTransition)).values(
            case_id=case.case_id,
            from_state=case.state,
            to_state=case.state,
            actor=actor[:128],
            at=utcnow(),
            reason=reason,
            details=details,
        )
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


def _one(
    s: Session,
    action: BulkAction,
    credit_id: int,
    *,
    actor: str,
    scope: str | None,
    reason: str,
    assignee: str | None,
    payers: PayerDirectory,
    opened_on: dt.date,
) -> BulkItem:
    require_case(s, credit_id, scope=scope)
    if action is BulkAction.ASSIGN:
        assign(s, credit_id, assignee, actor=actor, scope=scope, reason=reason)
    elif action is BulkAction.APPROVE:
        wf.approve(s, credit_id, actor=actor, reason=reason, payers=payers)
    elif action is BulkAction.INVESTIGATE:
        wf.investigate(s, credit_id, actor=actor, reason=reason, opened_on=opened_on, payers=payers)
    state = require_case(s, credit_id, scope=scope).state
    return BulkItem(credit_id=credit_id, ok=True, state=CaseState(state))


def _refused(credit_id: int, exc: GatewayError, state: str | None = None) -> BulkItem:
    return BulkItem(
        credit_id=credit_id,
        ok=False,
        state=CaseState(state) if state else None,
        code=exc.code,
        message=exc.message,
    )


def _batch(
    s: Session,
    ids: list[int],
    *,
    actor: str,
    scope: str | None,
    payers: PayerDirectory,
    as_of: dt.date,
    sources: Any,
) -> list[BulkItem]:
    """Issue the selected approved cases as batches.

    Batch creation issues every approved, unbatched case of a provider × payer together (a
    payer's transmittal lists them all; without a payer, every approved case of the provider);
    so a group is issued only when the selection holds all of what batch creation would pick
    up, and otherwise its selected cases are refused naming the cases missing. Nothing is ever
    issued that was not selected."""
    from gateway.resolve.batches.issue import create_batches

    out: dict[int, BulkItem] = {}
    wanted: dict[tuple[int, str | None], list[int]] = {}
    rc, bi, ct = tbl(ResolutionCase), tbl(BatchItem), tbl(Credit)
    for cid in ids:
        try:
            case = require_case(s, cid, scope=scope)
        except GatewayError as exc:
            out[cid] = _refused(cid, exc)
            continue
        if case.state != CaseState.APPROVED.value:
            out[cid] = BulkItem(
                credit_id=cid,
                ok=False,
                state=CaseState(case.state),
                code="not_approved",
                message=f"credit {cid} is {case.state}: only approved cases go into a batch",
            )
            continue
        view = case_views.get_case(s, cid, history=False)
        wanted.setdefault((view.provider_id, view.payer_id), []).append(cid)
    # a payer's group first; a group without a payer last: batch creation without a payer
    # picks up every approved case of the provider, so it may go only once the payer groups
    # have been issued (or when the selection holds them all)
    order = sorted(wanted.items(), key=lambda kv: (kv[0][1] is None, kv[0][0], kv[0][1] or ""))
    for (provider_id, payer_id), members in order:
        # exactly what create_batches(provider_id=..., payer_id=...) would pick up now
        pickup = [
            rc.c.state == CaseState.APPROVED.value,
            ct.c.provider_id == provider_id,
            ~select(bi.c.id).where(bi.c.case_id == rc.c.id, bi.c.cancelled.is_(False)).exists(),
        ]
        if payer_id is not None:
            pickup.append(ct.c.payer_id == payer_id)
        group = {
            int(r[0])
            for r in s.execute(
                select(rc.c.credit_id)
                .select_from(rc.join(ct, ct.c.id == rc.c.credit_id))
                .where(*pickup)
            )
        }
        missing = sorted(group - set(members))
        if missing:
            for cid in members:
                out[cid] = BulkItem(
                    credit_id=cid,
                    ok=False,
                    state=CaseState.APPROVED,
                    code="batch_group_incomplete",
                    message=(
                        f"a batch for {'payer ' + payer_id if payer_id else 'patients'} is issued "
                        "with every approved case it covers; also select credit(s) "
                        f"{', '.join(map(str, missing[:10]))}"
                        + (" ..." if len(missing) > 10 else "")
                    ),
                )
            continue
        try:
            with s.begin_nested():
                res = create_batches(
                    s,
                    as_of=as_of,
                    actor=actor,
                    payers=payers,
                    provider_id=provider_id,
                    payer_id=payer_id,
                    disputes=False,
                    sources=sources,
                )
        except GatewayError as exc:
            for cid in members:
                out[cid] = _refused(cid, exc, CaseState.APPROVED.value)
            continue
        batch_of = {c: b.id for b in res.batches for c in b.credit_ids}
        problem_of = {c: p for p in res.problems for c in p.credit_ids}
        for cid in members:
            state = CaseState(require_case(s, cid, scope=scope).state)
            if cid in batch_of:
                out[cid] = BulkItem(credit_id=cid, ok=True, state=state, batch_id=batch_of[cid])
            else:
                p = problem_of.get(cid)
                out[cid] = BulkItem(
                    credit_id=cid,
                    ok=False,
                    state=state,
                    code=p.code if p else "not_issued",
                    message=p.message if p else "no batch was issued for this case",
                )
    return [out[cid] for cid in ids]


def bulk(
    s: Session,
    action: BulkAction | str,
    credit_ids: Iterable[int],
    *,
    actor: str,
    role: Role,
    scope: str | None,
    reason: str = "",
    assignee: str | None = None,
    payers: PayerDirectory | None = None,
    opened_on: dt.date | None = None,
    as_of: dt.date | None = None,
    sources: Any = None,
) -> BulkResult:
    """Run ``action`` on each case; see the module doc. The role is checked first (403)."""
    act = BulkAction(action)
    require_role(role, act)
    ids = list(dict.fromkeys(int(i) for i in credit_ids))
    if not ids:
        raise InputError("select at least one case", code="no_cases")
    if len(ids) > BULK_MAX:
        raise InputError(f"at most {BULK_MAX} cases at once", code="too_many_cases")
    if act is not BulkAction.ASSIGN:
        wf._require_reason(reason)
    directory = payers or default_directory()
    day = as_of or dt.date.today()
    if act is BulkAction.BATCH:
        items = _batch(
            s, ids, actor=actor, scope=scope, payers=directory, as_of=day, sources=sources
        )
    else:
        items = []
        for cid in ids:
            try:
                with s.begin_nested():
                    items.append(
                        _one(
                            s,
                            act,
                            cid,
                            actor=actor,
                            scope=scope,
                            reason=reason,
                            assignee=assignee,
                            payers=directory,
                            opened_on=opened_on or day,
                        )
                    )
            except GatewayError as exc:
                try:
                    state = require_case(s, cid, scope=scope).state
                except GatewayError:
                    state = None
                items.append(_refused(cid, exc, state))
    done = sum(1 for i in items if i.ok)
    audit.record(
        s,
        actor=actor,
        action="cases_bulk",
        outcome=f"{done}/{len(items)}",
        reason=reason.strip()[:1000] or act.value,
        details={
            "action": act.value,
            "done": [i.credit_id for i in items if i.ok],
            "refused": {str(i.credit_id): i.code for i in items if not i.ok},
        },
    )
    return BulkResult(action=act, done=done, refused=len(items) - done, items=items)


__all__ = [
    "ACTION_ROLES",
    "BULK_MAX",
    "CASE_WORKERS",
    "NOTE_MAX",
    "BulkAction",
    "BulkItem",
    "BulkResult",
    "NoteRead",
    "add_note",
    "assign",
    "bulk",
    "case_workers",
    "may",
    "notes",
    "require_case",
    "require_role",
    "require_worker",
]
