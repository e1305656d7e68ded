"""Line variances: billed lines the ledger does not carry, and the analyst's answer to each.

Reconciliation records them (``gateway.reconcile.steps``); here they are listed, each open
one with the other claims' posted charges it may have been posted to by mistake (transfer
candidates), and answered (``missed``, ``transfer``, ``billed_in_error``): the next run applies
the answer. CLI, API and console share these.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import tbl
from gateway.errors import InputError, NotFoundError
from gateway.read.variances import LineVarianceRead
from gateway.reconcile.tables import LedgerEntry, LineVariance
from parsers.codes import procedure_code
from schemas.serialize import money
from schemas.states import LINE_DECISIONS

#: the read model of a line variance (gateway.read.variances)
LineVarianceView = LineVarianceRead


def list_line_variances(
    session: Session,
    *,
    provider_id: int | None = None,
    status: str = "active",
    variance_id: int | None = None,
) -> list[LineVarianceView]:
    """Line variances: ``active`` (open and resolved), ``open``, ``resolved``, ``cleared``,
    ``all``. Open ones come with transfer candidates: other claims' posted charges of the same
    provider with the same code, service date and amount."""
    wanted = {
        "active": ("open", "resolved"),
        "open": ("open",),
        "resolved": ("resolved",),
        "cleared": ("cleared",),
        "all": ("open", "resolved", "cleared"),
    }
    if status not in wanted:
        raise InputError(
            f"unknown status {status!r}; use one of {', '.join(wanted)}", code="bad_filter"
        )
    vt = tbl(LineVariance)
    stmt = select(vt).where(vt.c.status.in_(wanted[status]))
    if provider_id is not None:
        stmt = stmt.where(vt.c.provider_id == provider_id)
    if variance_id is not None:
        stmt = stmt.where(vt.c.id == variance_id)
    cent = Decimal("0.01")
    out = []
    for r in session.execute(
        stmt.order_by(
            vt.c.provider_id, vt.c.patient_control_number, vt.c.payer_id, vt.c.kind, vt.c.group_key
        )
    ):
        lines = list(r.lines or [])
        out.append(
            LineVarianceView(
                id=r.id,
                provider_id=r.provider_id,
                account_id=r.account_id,
                patient_control_number=r.patient_control_number,
                payer_id=r.payer_id,
                kind=r.kind,
                group_key=r.group_key,
                reason=r.reason,
                charge=Decimal(r.charge).quantize(cent),
                paid=Decimal(r.paid).quantize(cent),
                lines=lines,
                status=r.status,
                resolution=r.resolution,
                resolved_by=r.resolved_by,
                detected_on=r.detected_on,
                candidates=_transfer_candidates(
                    session, r.provider_id, r.patient_control_number, lines
                )
                if r.status == "open" and r.kind == "unposted_line"
                else [],
            )
        )
    return out


def _transfer_candidates(
    session: Session, provider_id: int, pcn: str, lines: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    le = tbl(LedgerEntry)
    found: list[dict[str, Any]] = []
    for line in lines:
        code = procedure_code(str(line.get("procedure") or ""))
        day = line.get("service_date")
        if not code or not day:
            continue
        for r in session.execute(
            select(
                le.c.account_id,
                le.c.patient_control_number,
                le.c.posted_date,
                le.c.amount,
                le.c.line_ref,
            )
            .where(
                le.c.provider_id == provider_id,
                le.c.type == "charge",
                le.c.patient_control_number != pcn,
                le.c.procedure_code == code,
                le.c.service_date == dt.date.fromisoformat(str(day)),
                le.c.amount == Decimal(str(line.get("charge") or "0")),
            )
            .limit(5)
        ):
            found.append(
                {
                    "account_id": r.account_id,
                    "patient_control_number": r.patient_control_number,
                    "posted_date": r.posted_date.isoformat(),
                    "amount": money(Decimal(r.amount)),
                    "line_ref": r.line_ref or None,
                    "procedure": code,
                    "service_date": day,
                }
            )
    return found


def resolve_line_variance(
    session: Session, variance_id: int, decision: str, *, actor: str, note: str = ""
) -> LineVarianceView:
    """Record the analyst's answer; the next reconciliation applies it (``missed`` and
    ``transfer``: the line counts as charged until the ledger carries it; ``billed_in_error``:
    the uncharged credit is released for approval)."""
    if decision not in LINE_DECISIONS:
        raise InputError(
            f"--as must be one of {', '.join(LINE_DECISIONS)}, not {decision!r}",
            code="bad_decision",
        )
    vt = tbl(LineVariance)
    row = session.execute(select(vt).where(vt.c.id == variance_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"no line variance with id {variance_id}")
    if row.status == "cleared":
        raise InputError(
            f"line variance {variance_id} was cleared by a later run (the "
            "charge was posted or the lines changed): nothing to resolve",
            code="variance_cleared",
        )
    if not row.group_key:
        raise InputError(
            f"line variance {variance_id} names no line (the claim's charges "
            "could not be matched at all): fix the charges in the ledger",
            code="variance_without_line",
        )
    session.execute(
        update(vt)
        .where(vt.c.id == variance_id)
        .values(
            status="resolved",
            resolution=decision,
            resolved_by=actor[:128],
            resolved_at=dt.datetime.now(dt.UTC),
            note=note or None,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="line_variance_resolved",
        outcome=decision,
        reason=note,
        details={
            "variance_id": variance_id,
            "kind": row.kind,
            "provider_id": row.provider_id,
            "patient_control_number": row.patient_control_number,
        },
    )
    return list_line_variances(session, status="all", variance_id=variance_id)[0]


__all__ = ["LineVarianceView", "list_line_variances", "resolve_line_variance"]
