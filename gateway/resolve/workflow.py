"""The credit-balance case workflow: each credit is a case moved through audited transitions.

States and who moves a case (``TRANSITIONS`` is the whole contract)::

    open ──approve──▶ approved ──batch──▶ refund_sent | offset_requested | patient_refund_issued
      │                  │                         │
      ├─dispute─▶ disputed                         └──▶ resolved (PLB recoupment / refund seen
      ├─escheat─▶ escheat_pending (patient credits      by reconciliation, or confirmed by ops)
      └─resolve─▶ resolved          past the state's dormancy period)

Nothing is ever undone in place: a reversal (revoke an approval, cancel a batch, reopen a
dispute or a resolved case) is a new transition with its own actor and reason. Every transition
is a ``case_transitions`` row and an entry in the hash-chained audit log, in the caller's
transaction. Cases are keyed by the credit's id (one case per ``credits`` row); reading them
is ``case_views``, keeping them in step with reconciliation ``case_sync``. Functions take a
session and never commit (the caller owns the unit of work).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import tbl, utcnow
from gateway.errors import InputError, PermanentError
from gateway.logging import get_logger
from gateway.read.credits import ACTIVE_CASE_STATES
from gateway.reconcile.queries import record_investigation
from gateway.resolve.case_views import CaseView, get_case
from gateway.resolve.history import record_transition
from gateway.resolve.tables import ResolutionCase
from schemas.states import CaseState, CreditStatus

if TYPE_CHECKING:  # payer and layout YAML load where they are used: listing cases needs neither
    from mappings.payers import PayerDirectory

log = get_logger("gateway.resolve")


S = CaseState
#: from → the states a case may move to. Reversals are ordinary, audited transitions.
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.OPEN: frozenset({S.APPROVED, S.DISPUTED, S.ESCHEAT_PENDING, S.RESOLVED}),
    S.APPROVED: frozenset(
        {
            S.REFUND_SENT,
            S.OFFSET_REQUESTED,
            S.PATIENT_REFUND_ISSUED,
            S.OPEN,
            S.DISPUTED,
            S.ESCHEAT_PENDING,
            S.RESOLVED,
        }
    ),
    S.REFUND_SENT: frozenset({S.RESOLVED, S.APPROVED}),
    S.OFFSET_REQUESTED: frozenset({S.RESOLVED, S.APPROVED}),
    S.PATIENT_REFUND_ISSUED: frozenset({S.RESOLVED, S.ESCHEAT_PENDING, S.APPROVED}),
    S.DISPUTED: frozenset({S.OPEN, S.RESOLVED}),
    S.ESCHEAT_PENDING: frozenset({S.RESOLVED, S.OPEN}),
    S.RESOLVED: frozenset({S.OPEN}),
}
#: the state a case reaches when its batch is issued, by resolution method
ISSUED_STATE = {
    "refund": S.REFUND_SENT,
    "offset": S.OFFSET_REQUESTED,
    "patient_refund": S.PATIENT_REFUND_ISSUED,
}
#: states whose money is still with the provider (worklists, overdue warnings)
ACTIVE_STATES = ACTIVE_CASE_STATES
#: the system actor of transitions driven by reconciliation results
RECONCILE_ACTOR = "reconcile"


class ResolutionError(PermanentError):
    """The resolution step cannot be done."""

    code = "resolution_error"


class InvalidTransitionError(ResolutionError):
    """This case cannot move to that state from where it is."""

    code = "invalid_transition"


class NoLayoutError(ResolutionError):
    """The payer has no outbound layout for the chosen resolution method."""

    code = "no_layout"


# ---------------------------------------------------------------- writing


def _record(
    s: Session,
    case_id: int,
    credit_id: int,
    frm: str | None,
    to: str,
    *,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> None:
    record_transition(s, case_id, frm, to, actor=actor, reason=reason, details=details)
    audit.record(
        s,
        actor=actor,
        action=f"case_{to}" if frm != to else "case_note",
        outcome=to,
        reason=reason,
        details={
            "case_id": case_id,
            "credit_id": credit_id,
            "from": frm,
            "to": to,
            **(details or {}),
        },
    )


def require_reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) < 3:
        raise InputError(
            "a reason of at least 3 characters is required (it is audited)", code="reason_required"
        )
    return text[:1000]


def transition(
    s: Session,
    credit_id: int,
    to: CaseState | str,
    *,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
    method: str | None = None,
    reference: str | None = None,
) -> CaseView:
    """Move the case of ``credit_id`` to ``to`` (checked against ``TRANSITIONS``), audited."""
    target = CaseState(to)
    why = require_reason(reason)
    case = get_case(s, credit_id, history=False)
    current = CaseState(case.state)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(t.value for t in TRANSITIONS[current])) or "none"
        raise InvalidTransitionError(
            f"credit {credit_id}: a case that is {current.value} cannot become {target.value} "
            f"(from {current.value} it may become: {allowed})",
            location={"credit_id": credit_id, "state": current.value},
        )
    rc = tbl(ResolutionCase)
    values: dict[str, Any] = {"state": target.value, "updated_at": utcnow()}
    if target is S.APPROVED and current is S.OPEN:
        values.update(approved_by=actor[:128], approved_at=utcnow(), method=method)
    elif target is S.OPEN:
        values.update(approved_by=None, approved_at=None, method=None)
    if reference is not None:
        values["reference"] = reference[:80]
    # conditional on the state we read: two operators acting at once cannot both win
    done = s.execute(
        update(rc).where(rc.c.id == case.case_id, rc.c.state == current.value).values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidTransitionError(
            f"credit {credit_id}: the case changed while this request ran; reload and try again"
        )
    _record(
        s,
        case.case_id,
        credit_id,
        current.value,
        target.value,
        actor=actor,
        reason=why,
        details={
            **(details or {}),
            **({"method": method} if method else {}),
            **({"reference": reference} if reference else {}),
        }
        or None,
    )
    log.info(
        "case_transition",
        case_id=case.case_id,
        credit_id=credit_id,
        from_state=current.value,
        to_state=target.value,
    )
    return get_case(s, credit_id)


def resolution_method(
    case: CaseView, payers: PayerDirectory, override: str | None = None
) -> tuple[str, str]:
    """(method, layout name) for returning this credit; ``NoLayoutError`` when there is none."""
    if case.owed_to == "patient":
        return "patient_refund", "patient_refund_csv"
    if case.owed_to != "payer" or not case.payer_id:
        raise ResolutionError(
            f"credit {case.credit_id} is owed to no known party ({case.cause}): fix it "
            "internally and resolve it, or dispute it; it cannot be refunded",
            code="unknown_owner",
        )
    profile = payers.get(case.payer_id)
    if profile is None:
        raise NoLayoutError(
            f"payer {case.payer_id} has no profile in mappings/payers, so there is no refund or "
            "offset layout to send it; add a profile with outbound.refund_layout or "
            "outbound.offset_layout",
            location={"payer_id": case.payer_id},
        )
    method = override or profile.resolution
    if method not in ("refund", "offset"):
        raise InputError(f"method must be refund or offset, not {method!r}", code="bad_method")
    name = profile.outbound.refund_layout if method == "refund" else profile.outbound.offset_layout
    if not name:
        raise NoLayoutError(
            f"payer {profile.payer_id} ({profile.name}) has no {method}_layout in its profile; "
            f"add outbound.{method}_layout to mappings/payers or choose the other method",
            location={"payer_id": profile.payer_id, "method": method},
        )
    from mappings.loader import MappingError
    from mappings.outbound_layouts import get_layout

    try:
        get_layout(name, document="refund_transmittal" if method == "refund" else "offset")
    except MappingError as exc:
        raise NoLayoutError(
            f"payer {profile.payer_id}: {exc}",
            location={"payer_id": profile.payer_id, "layout": name},
        ) from None
    return method, name


def approve(
    s: Session,
    credit_id: int,
    *,
    actor: str,
    reason: str,
    payers: PayerDirectory,
    method: str | None = None,
) -> CaseView:
    """Approve returning the credit (an ops decision); checks there is a way to send it."""
    case = get_case(s, credit_id, history=False)
    if case.credit_status != CreditStatus.OPEN:
        raise InvalidTransitionError(
            f"credit {credit_id} is {case.credit_status}, not open: only open credits can be "
            "approved (a pending credit may still be cancelled by a reversal)"
        )
    if S.APPROVED not in TRANSITIONS[CaseState(case.state)]:
        raise InvalidTransitionError(
            f"credit {credit_id}: a case that is {case.state} cannot become approved",
            location={"credit_id": credit_id, "state": case.state},
        )
    chosen, layout = resolution_method(case, payers, method)
    return transition(
        s,
        credit_id,
        S.APPROVED,
        actor=actor,
        reason=reason,
        method=chosen,
        details={"layout": layout},
    )


def dispute(s: Session, credit_id: int, *, actor: str, reason: str) -> CaseView:
    return transition(s, credit_id, S.DISPUTED, actor=actor, reason=reason)


def resolve(
    s: Session, credit_id: int, *, actor: str, reason: str, reference: str | None = None
) -> CaseView:
    """Close a case by hand: refund confirmed by the payer, remitted to the state, fixed."""
    return transition(s, credit_id, S.RESOLVED, actor=actor, reason=reason, reference=reference)


def reopen(s: Session, credit_id: int, *, actor: str, reason: str) -> CaseView:
    return transition(s, credit_id, S.OPEN, actor=actor, reason=reason)


def investigation_days(case: CaseView, payers: PayerDirectory) -> tuple[int, str]:
    """(days an investigation may suspend this credit's deadline, why).

    42 CFR 401.305's 180 days are for Medicare Parts A and B only; another programme gets a
    suspension only where its payer profile sets ``investigation_days`` (Medicaid states
    differ); anywhere else the deadline does not move.
    """
    from mappings.payers import MEDICARE_INVESTIGATION_DAYS

    if case.medicare_part:
        return MEDICARE_INVESTIGATION_DAYS, (
            f"Medicare Part {case.medicare_part}: up to "
            f"{MEDICARE_INVESTIGATION_DAYS} days "
            "(42 CFR 401.305)"
        )
    profile = payers.get(case.payer_id) if case.payer_id else None
    if profile is not None and profile.investigation_suspension:
        return profile.investigation_suspension, (
            f"payer {profile.payer_id} ({profile.programme}): up to "
            f"{profile.investigation_suspension} days (its profile's investigation_days)"
        )
    who = (
        (
            f"payer {case.payer_id}"
            + (f" ({profile.programme})" if profile else " (no payer profile)")
        )
        if case.payer_id
        else f"a credit owed to {case.owed_to}"
    )
    return 0, (
        f"{who}: no investigation suspension (only Medicare Parts A and B have one by "
        "law; set investigation_days in the payer profile where the programme's rules "
        "allow one)"
    )


def investigate(
    s: Session,
    credit_id: int,
    *,
    actor: str,
    reason: str,
    opened_on: dt.date,
    closed_on: dt.date | None = None,
    payers: PayerDirectory | None = None,
) -> CaseView:
    """Record a good-faith investigation (always, for the audit trail); its days suspend the
    deadline only as far as ``investigation_days`` allows (0: the deadline does not move)."""
    why = require_reason(reason)
    case = get_case(s, credit_id, history=False)
    from mappings.payers import default_directory

    days, basis = investigation_days(case, payers or default_directory())
    new_due = record_investigation(
        s, credit_id, opened_on=opened_on, closed_on=closed_on, max_days=days
    )
    _record(
        s,
        case.case_id,
        credit_id,
        case.state,
        case.state,
        actor=actor,
        reason=why,
        details={
            "investigation_opened_on": opened_on.isoformat(),
            "investigation_closed_on": closed_on.isoformat() if closed_on else None,
            "investigation_days": days,
            "suspension": basis,
            "due_by_before": case.due_by.isoformat() if case.due_by else None,
            "due_by": new_due.isoformat() if new_due else None,
        },
    )
    return get_case(s, credit_id)


__all__ = [
    "ACTIVE_STATES",
    "ISSUED_STATE",
    "TRANSITIONS",
    "CaseState",
    "InvalidTransitionError",
    "NoLayoutError",
    "ResolutionError",
    "approve",
    "dispute",
    "investigate",
    "investigation_days",
    "reopen",
    "require_reason",
    "resolution_method",
    "resolve",
    "transition",
]
