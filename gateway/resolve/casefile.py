"""One case's file: the case with its evidence, the computation B(c) and its notes.

The evidence rows (the claim's 837 lines, its 835 adjudications, PLB recoupments, ledger rows,
variances, refund requests and documents) are read by ``gateway.resolve.case_evidence``; this
module adds the computation from reconciliation's model, the credit's stored basis and the
notes, and masks the PHI (patient control number, account, member id, service dates keep only
their year) for roles without PHI access (``mask_case`` and the row masking).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.read.worklist import AttributedCredit, CaseDetail, Computation, WorklistRow
from gateway.reconcile.explain import explain
from gateway.reconcile.tables import Credit
from gateway.resolve import case_evidence as ev
from gateway.resolve.case_evidence import CENT
from gateway.resolve.worklist import get_row
from gateway.security.phi import MASK
from mappings.payers import default_directory

#: fields of evidence rows that identify the patient (masked without PHI access)
PHI_FIELDS = frozenset(
    {"patient_control_number", "account_id", "subscriber_member_id", "line_control_number"}
)
DATE_FIELDS = frozenset({"service_date", "service_date_end", "statement_from", "statement_to"})


def _money(d: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k or "?": v.quantize(CENT) for k, v in sorted(d.items())}


def compute(s: Session, provider_id: int, pcn: str, as_of: dt.date) -> Computation:
    """The claim's B(c) and attribution, by reconciliation's model as of ``as_of``."""
    x = explain(s, provider_id, pcn, default_directory(), as_of)
    f, b = x.facts, x.balance
    return Computation(
        charges=f.charges,
        write_offs=_money(x.write_offs),
        net_payments=_money(b.net_payments),
        recoupments=_money(f.recoupments),
        payer_refunds=_money(f.payer_refunds),
        patient_responsibility=b.patient_responsibility,
        patient_payments=f.patient_payments,
        patient_refunds=f.patient_refunds,
        provider_adjustments=f.provider_adjustments,
        balance=b.balance,
        cob_order=list(b.cob_order),
        wrongful_primaries=sorted(b.wrongful_primaries),
        attribution=[
            AttributedCredit(
                owed_to=c.owed_to, payer_id=c.payer_id or None, amount=c.amount, cause=c.cause
            )
            for c in x.credits
        ],
    )


def _mask_value(key: str, value: Any) -> Any:
    if value in (None, ""):
        return value
    if key in PHI_FIELDS:
        return MASK
    if key in DATE_FIELDS and isinstance(value, str):
        return value[:4] + "-••-••"
    return value


def _mask_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _mask_value(k, v) for k, v in r.items()} for r in rows]


def mask_case(row: WorklistRow) -> WorklistRow:
    """The worklist row without the patient's identifiers."""
    return row.model_copy(
        update={
            "patient_control_number": MASK,
            "account_id": MASK if row.account_id else row.account_id,
            "history": tuple(t.model_copy(update={"details": None}) for t in row.history),
        }
    )


def case_detail(
    s: Session, credit_id: int, *, scope: str | None, phi: bool, today: dt.date | None = None
) -> CaseDetail:
    """The case of ``credit_id`` with its evidence; 404 outside ``scope``; PHI masked unless
    ``phi``."""
    from gateway.resolve.case_views import get_case
    from gateway.resolve.casework import notes as case_notes

    row = get_row(s, credit_id, scope=scope, today=today)
    full = get_case(s, credit_id)
    row = row.model_copy(update={"history": full.history})
    row._today = today or dt.date.today()
    p, pcn = row.provider_id, row.patient_control_number
    ct = tbl(Credit)
    basis = s.execute(select(ct.c.basis).where(ct.c.id == credit_id)).scalar_one_or_none()
    ledger = ev.ledger_rows(s, p, pcn)
    adjs = ev.adjudications(s, p, pcn)
    lines = ev.claim_lines(s, p, pcn)
    variances = ev.variances(s, p, pcn)
    requests = ev.refund_requests(s, p, credit_id, pcn)
    recoup = ev.recoupments(s, p, pcn)
    docs = ev.documents(s, row.case_id)
    comp = compute(s, p, pcn, today or dt.date.today())
    if not phi:
        row = mask_case(row)
        ledger, lines, variances = _mask_rows(ledger), _mask_rows(lines), _mask_rows(variances)
        requests, recoup = _mask_rows(requests), _mask_rows(recoup)
        adjs = [
            a.model_copy(
                update={
                    "statement_from": None,
                    "statement_to": None,
                    "services": _mask_rows(a.services),
                }
            )
            for a in adjs
        ]
    return CaseDetail(
        case=row,
        phi_masked=not phi,
        claim_lines=lines,
        adjudications=adjs,
        recoupments=recoup,
        ledger=ledger,
        computation=comp,
        basis=basis if isinstance(basis, dict) or basis is None else {"value": basis},
        variances=variances,
        refund_requests=requests,
        documents=docs,
        notes=case_notes(s, row.case_id, phi=phi),
    )


__all__ = ["case_detail", "compute", "mask_case"]
