"""Read side of reconciliation: credits, posting variances and exception reports (line
variances, which an analyst also answers, are in ``line_variances``).

These are the functions the CLI and the HTTP layer share; they take a session and return plain
read models (``gateway.read``) whose JSON keeps the issue's stable field names.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.errors import InputError, NotFoundError
from gateway.read.credits import CreditRead
from gateway.read.variances import ExceptionRead, VarianceRead
from gateway.reconcile import sql
from gateway.reconcile.credit import due_by
from gateway.reconcile.tables import (
    ClaimWait,
    Credit,
    PostingVariance,
    ReconcileRun,
)
from schemas.states import CreditStatus

CAUSE_ORDER = {
    c: i
    for i, c in enumerate(
        (
            "duplicate_payment",
            "coordination_of_benefits",
            "overpayment",
            "patient_overpayment",
            "unexplained",
        )
    )
}
STATUS_FILTERS = {
    "active": (CreditStatus.PENDING, CreditStatus.OPEN),
    "open": (CreditStatus.OPEN,),
    "pending": (CreditStatus.PENDING,),
    "resolved": (CreditStatus.RESOLVED,),
    "all": tuple(CreditStatus),
}


#: the read model of a credit (gateway.read.credits): CLI, API and console print the same
CreditView = CreditRead


def list_credits(
    session: Session,
    *,
    status: str = "active",
    provider_id: int | None = None,
    due_within: int | None = None,
    as_of: dt.date | None = None,
    patient_control_number: str | None = None,
) -> list[CreditView]:
    """Credits filtered by status (active = pending + open), provider, claim and deadline.

    ``due_within``: only credits with a due date at most that many days after ``as_of``
    (default today), overdue ones included.
    """
    if status not in STATUS_FILTERS:
        raise InputError(
            f"unknown status {status!r}; use one of {', '.join(STATUS_FILTERS)}", code="bad_filter"
        )
    day = as_of or dt.date.today()
    ct = tbl(Credit)
    stmt = select(ct).where(ct.c.status.in_(STATUS_FILTERS[status]))
    if provider_id is not None:
        stmt = stmt.where(ct.c.provider_id == provider_id)
    if patient_control_number is not None:
        stmt = stmt.where(ct.c.patient_control_number == patient_control_number)
    if due_within is not None:
        limit = day + dt.timedelta(days=due_within)
        stmt = stmt.where(ct.c.due_by.is_not(None), ct.c.due_by <= limit)
    rows = [
        CreditView(
            id=r.id,
            provider_id=r.provider_id,
            account_id=r.account_id,
            patient_control_number=r.patient_control_number,
            owed_to=r.owed_to,
            payer_id=r.payer_id or None,
            amount=Decimal(r.amount).quantize(Decimal("0.01")),
            cause=r.cause,
            government=bool(r.government),
            identified_on=r.identified_on,
            due_by=r.due_by,
            status=r.status,
            pending_until=r.pending_until,
            resolved_on=r.resolved_on,
            resolution=r.resolution,
            deadline_days=r.deadline_days,
            pending_reason=r.pending_reason,
            claim_kind=r.claim_kind or "",
            medicare_part=r.medicare_part,
            medicare_verified=r.medicare_verified,
            return_method=r.return_method,
            days_left=(r.due_by - day).days if r.due_by else None,
        )
        for r in session.execute(stmt)
    ]
    rows.sort(key=worklist_order)
    return rows


def worklist_order(c: CreditView) -> tuple[Any, ...]:
    """Government credits first, soonest due first; then the rest, soonest due first (none
    last); then reconciliation's order (provider, account, claim, identified on, cause)."""
    return (
        not c.government,
        c.due_by is None,
        c.due_by or dt.date.max,
        c.provider_id,
        c.account_id or "",
        c.patient_control_number,
        c.identified_on,
        CAUSE_ORDER.get(c.cause, 9),
        c.owed_to,
        c.payer_id or "",
        c.id,
    )


def record_investigation(
    session: Session,
    credit_id: int,
    *,
    opened_on: dt.date,
    closed_on: dt.date | None = None,
    max_days: int = 180,
) -> dt.date | None:
    """Record a timely, good-faith investigation on a credit; returns the (new) due date.

    Its days (to ``closed_on``, or to today while open) suspend the deadline, at most
    ``max_days``: 180 for Medicare Parts A and B, a payer profile's ``investigation_days``,
    or 0, when it is recorded for the audit trail only and the deadline does not move.
    """
    ct = tbl(Credit)
    row = session.execute(select(ct).where(ct.c.id == credit_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"no credit with id {credit_id}")
    if closed_on is not None and closed_on < opened_on:
        raise InputError("an investigation cannot close before it opens", code="bad_dates")
    end = closed_on or dt.date.today()
    cap = min(max(max_days, 0), 180)
    new_due = due_by(
        row.identified_on, row.deadline_days, max((end - opened_on).days, 0), suspension_cap=cap
    )
    session.execute(
        update(ct)
        .where(ct.c.id == credit_id)
        .values(
            investigation_opened_on=opened_on,
            investigation_closed_on=closed_on,
            due_by=new_due,
            investigation_days=cap,
        )
    )
    return new_due


#: the read models of the variances live in gateway.read.variances
VarianceView = VarianceRead


def list_variances(session: Session, *, provider_id: int | None = None) -> list[VarianceView]:
    vt = tbl(PostingVariance)
    stmt = select(vt)
    if provider_id is not None:
        stmt = stmt.where(vt.c.provider_id == provider_id)
    cent = Decimal("0.01")
    out = [
        VarianceView(
            provider_id=r.provider_id,
            account_id=r.account_id,
            patient_control_number=r.patient_control_number,
            payer_id=r.payer_id,
            kind=r.kind,
            posted=Decimal(r.posted).quantize(cent),
            remitted=Decimal(r.remitted).quantize(cent),
            difference=Decimal(r.difference).quantize(cent),
            postings=r.postings,
            detected_on=r.detected_on,
        )
        for r in session.execute(stmt)
    ]
    out.sort(
        key=lambda v: (v.provider_id, v.account_id or "", v.patient_control_number, v.payer_id)
    )
    return out


#: the read model of an exception lives in gateway.read.variances
ExceptionView = ExceptionRead


def _exception(
    kind: str,
    provider_id: int,
    pcn: str,
    account_id: str | None,
    payer_id: str | None,
    amount: Decimal,
    since: dt.date | None,
    until: dt.date | None = None,
) -> ExceptionRead:
    return ExceptionRead(
        kind=kind,
        provider_id=provider_id,
        patient_control_number=pcn,
        account_id=account_id,
        payer_id=payer_id,
        amount=amount,
        since=since,
        until=until,
    )


def latest_as_of(session: Session) -> dt.date | None:
    """The as-of date of the latest finished reconcile run (None before the first)."""
    runs = tbl(ReconcileRun)
    day: dt.date | None = session.execute(
        select(func.max(runs.c.as_of)).where(runs.c.finished_at.is_not(None))
    ).scalar_one()
    return day


def list_exceptions(
    session: Session, *, as_of: dt.date | None = None, stale_days: int = 45
) -> list[ExceptionView]:
    """Unmatched 835 claims, 837 claims unanswered after ``stale_days``, payments on
    accounts with no posted charges, and known claims paid with no posted charge that are
    still inside their payer's ``ledger_lag_days`` as the last run saw them (``claim_waits``).
    """
    day = as_of or dt.date.today()
    out: list[ExceptionView] = []
    cent = Decimal("0.01")

    def dec(cents: Any) -> Decimal:
        return (Decimal(int(cents or 0)) * cent).quantize(cent)

    unmatched = text(sql.UNMATCHED_REMITTANCES).columns(since=Date)
    for r in session.execute(unmatched):
        out.append(
            _exception("unmatched_remittance", r.pid, r.pcn, None, r.payer, dec(r.c), r.since)
        )
    stale = (
        text(
            "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, "
            "MIN(c.payer_id) AS payer, "
            "SUM(CAST(ROUND(c.total_charge * 100) AS BIGINT)) AS c, MIN(g.date) AS since "
            "FROM claims c JOIN transactions t ON t.id = c.transaction_id "
            "JOIN functional_groups g ON g.id = t.group_id "
            "WHERE c.provider_id IS NOT NULL AND g.date <= :cutoff "
            "AND NOT EXISTS (SELECT 1 FROM claim_payments cp WHERE cp.provider_id = c.provider_id "
            "AND cp.patient_control_number = c.patient_control_number) "
            "AND NOT EXISTS (SELECT 1 FROM claim_links l WHERE l.provider_id = c.provider_id "
            "AND l.patient_control_number = c.patient_control_number) "
            "GROUP BY c.provider_id, c.patient_control_number"
        )
        .bindparams(bindparam("cutoff", type_=Date))
        .columns(since=Date)
    )
    for r in session.execute(stale, {"cutoff": day - dt.timedelta(days=stale_days)}):
        out.append(_exception("no_remittance", r.pid, r.pcn, None, r.payer, dec(r.c), r.since))
    no_charges = text(
        "SELECT le.provider_id AS pid, le.account_id AS account, "
        "MIN(le.patient_control_number) AS pcn, "
        "SUM(CASE WHEN le.type = 'payment' THEN CAST(ROUND(le.amount * 100) AS BIGINT) "
        "ELSE 0 END) AS c, MIN(le.posted_date) AS since "
        "FROM ledger_entries le GROUP BY le.provider_id, le.account_id "
        "HAVING SUM(CASE WHEN le.type = 'charge' THEN 1 ELSE 0 END) = 0 "
        "AND SUM(CASE WHEN le.type = 'payment' THEN 1 ELSE 0 END) > 0"
    ).columns(since=Date)
    for r in session.execute(no_charges):
        out.append(
            _exception("payment_without_charges", r.pid, r.pcn, r.account, None, dec(r.c), r.since)
        )
    wt = tbl(ClaimWait)
    for r in session.execute(select(wt).where(wt.c.until > day)):
        out.append(
            _exception(
                "payment_without_charges",
                r.provider_id,
                r.patient_control_number,
                None,
                r.payer_id,
                Decimal(r.amount).quantize(cent),
                r.since,
                r.until,
            )
        )
    out.sort(key=lambda e: (e.kind, e.provider_id, e.patient_control_number))
    return out


__all__ = [
    "CreditView",
    "ExceptionView",
    "VarianceView",
    "list_credits",
    "list_exceptions",
    "list_variances",
    "record_investigation",
    "worklist_order",
]
