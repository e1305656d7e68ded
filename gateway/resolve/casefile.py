"""One case's evidence: everything stored about its claim that shows why the money is owed.

The claim's 837 lines, every 835 adjudication of it (CLP with its SVC lines and CAS, the
remittance's TRN and the file it came in), the PLB recoupments matched to it, the provider's
ledger rows, the computation B(c) from those rows, the credit's stored basis, the variances,
the payer refund requests matched to the credit, and the documents (batch files) issued for
the case. Read with SQLAlchemy Core, by provider and patient control number, so nothing of
another provider can appear. ``mask`` replaces the PHI (patient control number, account,
member id, service dates keep only their year) for roles without PHI access.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import (
    AdjustmentRow,
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    InboundFile,
    ProviderAdjustmentRow,
    RemittanceRow,
    ServicePaymentRow,
    tbl,
)
from gateway.read.worklist import (
    Adjudication,
    AttributedCredit,
    CaseDetail,
    Computation,
    WorklistRow,
)
from gateway.reconcile.explain import explain
from gateway.reconcile.tables import (
    ClaimLink,
    Credit,
    LedgerEntry,
    LineVariance,
    PlbMatch,
    PostingVariance,
    RefundRequest,
)
from gateway.resolve.tables import BatchFile, BatchItem, ResolutionBatch
from gateway.resolve.worklist import get_row
from gateway.security.phi import MASK
from mappings.payers import default_directory

CENT = Decimal("0.01")
#: fields of evidence rows that identify the patient (masked without PHI access)
PHI_FIELDS = frozenset(
    {"patient_control_number", "account_id", "subscriber_member_id", "line_control_number"}
)
DATE_FIELDS = frozenset({"service_date", "service_date_end", "statement_from", "statement_to"})


def _m(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _plain(r: Any, *names: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in names:
        v = getattr(r, n)
        if isinstance(v, Decimal | float) and n not in ("units", "quantity"):
            v = str(_m(v))
        elif isinstance(v, Decimal | float):
            v = str(v)
        elif isinstance(v, dt.date):
            v = v.isoformat()
        out[n] = v
    return out


def _claims(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
    cl, ln = tbl(ClaimRow), tbl(ClaimLineRow)
    out: list[dict[str, Any]] = []
    for c in s.execute(
        select(cl)
        .where(cl.c.provider_id == p, cl.c.patient_control_number == pcn)
        .order_by(cl.c.id)
    ):
        for r in s.execute(select(ln).where(ln.c.claim_id == c.id).order_by(ln.c.line_number)):
            row = _plain(
                r,
                "line_number",
                "procedure",
                "revenue_code",
                "charge",
                "units",
                "service_date",
                "service_date_end",
                "line_control_number",
            )
            row.update(
                claim_id=c.id,
                file_id=c.file_id,
                kind=c.kind,
                payer_id=c.payer_id,
                total_charge=str(_m(c.total_charge)),
                frequency_code=c.frequency_code,
            )
            out.append(row)
    return out


def _adjudications(s: Session, p: int, pcn: str) -> list[Adjudication]:
    cp, rm, fl, lk = tbl(ClaimPaymentRow), tbl(RemittanceRow), tbl(InboundFile), tbl(ClaimLink)
    sv, aj = tbl(ServicePaymentRow), tbl(AdjustmentRow)
    linked = select(lk.c.claim_payment_id).where(
        lk.c.provider_id == p, lk.c.patient_control_number == pcn
    )
    stmt = (
        select(cp, rm.c.trace_number, rm.c.payment_date, rm.c.production_date, fl.c.original_name)
        .select_from(cp.join(rm, rm.c.id == cp.c.remittance_id).join(fl, fl.c.id == cp.c.file_id))
        .where(cp.c.provider_id == p)
        .where((cp.c.patient_control_number == pcn) | cp.c.id.in_(linked))
        .order_by(cp.c.id)
    )
    out: list[Adjudication] = []
    for r in s.execute(stmt):
        services = [
            _plain(
                x,
                "seq",
                "procedure",
                "revenue_code",
                "charge",
                "paid",
                "allowed",
                "units",
                "service_date",
                "line_control_number",
            )
            for x in s.execute(select(sv).where(sv.c.claim_payment_id == r.id).order_by(sv.c.seq))
        ]
        adjustments = [
            _plain(x, "level", "service_payment_id", "group_code", "reason", "amount", "quantity")
            for x in s.execute(select(aj).where(aj.c.claim_payment_id == r.id).order_by(aj.c.id))
        ]
        out.append(
            Adjudication(
                claim_payment_id=r.id,
                payer_id=r.payer_id,
                icn=r.payer_claim_control_number,
                status_code=r.status_code,
                charge=_m(r.charge),
                paid=_m(r.paid),
                patient_responsibility=None
                if r.patient_responsibility is None
                else _m(r.patient_responsibility),
                statement_from=r.statement_from,
                statement_to=r.statement_to,
                trace_number=r.trace_number,
                payment_date=r.payment_date,
                production_date=r.production_date,
                file_id=r.file_id,
                file_name=r.original_name or "",
                services=services,
                adjustments=adjustments,
            )
        )
    return out


def _recoupments(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
    pm, pa, rm = tbl(PlbMatch), tbl(ProviderAdjustmentRow), tbl(RemittanceRow)
    stmt = (
        select(
            pa.c.id,
            pa.c.reason,
            pa.c.reference,
            pa.c.amount,
            pa.c.file_id,
            pa.c.fiscal_date,
            pm.c.payer_id,
            pm.c.method,
            rm.c.trace_number,
            rm.c.payment_date,
        )
        .select_from(
            pm.join(pa, pa.c.id == pm.c.provider_adjustment_id).join(
                rm, rm.c.id == pa.c.remittance_id
            )
        )
        .where(pm.c.provider_id == p, pm.c.patient_control_number == pcn)
        .order_by(pa.c.id)
    )
    return [
        _plain(
            r,
            "id",
            "payer_id",
            "reason",
            "reference",
            "amount",
            "fiscal_date",
            "method",
            "trace_number",
            "payment_date",
            "file_id",
        )
        for r in s.execute(stmt)
    ]


def _ledger(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
    le = tbl(LedgerEntry)
    stmt = (
        select(le)
        .where(le.c.provider_id == p, le.c.patient_control_number == pcn)
        .order_by(le.c.posted_date, le.c.id)
    )
    return [
        _plain(
            r,
            "id",
            "file_id",
            "line",
            "account_id",
            "posted_date",
            "type",
            "party",
            "payer_id",
            "amount",
            "reference",
            "procedure_code",
            "service_date",
        )
        for r in s.execute(stmt)
    ]


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


def _variances(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
    pv, lv = tbl(PostingVariance), tbl(LineVariance)
    out = [
        {
            "source": "posting",
            **_plain(
                r, "id", "payer_id", "kind", "posted", "remitted", "difference", "detected_on"
            ),
        }
        for r in s.execute(
            select(pv).where(pv.c.provider_id == p, pv.c.patient_control_number == pcn)
        )
    ]
    out += [
        {
            "source": "line",
            **_plain(
                r,
                "id",
                "payer_id",
                "kind",
                "reason",
                "charge",
                "paid",
                "status",
                "resolution",
                "detected_on",
            ),
        }
        for r in s.execute(
            select(lv).where(lv.c.provider_id == p, lv.c.patient_control_number == pcn)
        )
    ]
    return out


def _requests(s: Session, p: int, credit_id: int, pcn: str) -> list[dict[str, Any]]:
    rr = tbl(RefundRequest)
    out = []
    for r in s.execute(select(rr).where(rr.c.provider_id == p).order_by(rr.c.id)):
        ids = [int(x) for x in (r.credit_ids or [])]
        if credit_id in ids or r.patient_control_number == pcn:
            out.append(
                _plain(
                    r,
                    "id",
                    "payer_id",
                    "payer_claim_control_number",
                    "amount",
                    "reference",
                    "request_date",
                    "verdict",
                    "reason",
                    "valid_amount",
                    "source_name",
                )
            )
    return out


def _documents(s: Session, case_id: int) -> list[dict[str, Any]]:
    bi, bf, rb = tbl(BatchItem), tbl(BatchFile), tbl(ResolutionBatch)
    stmt = (
        select(
            bf.c.id,
            bf.c.batch_id,
            bf.c.name,
            bf.c.role,
            bf.c.sha256,
            bi.c.amount,
            bi.c.cancelled,
            rb.c.state,
        )
        .select_from(bi.join(bf, bf.c.batch_id == bi.c.batch_id).join(rb, rb.c.id == bi.c.batch_id))
        .where(bi.c.case_id == case_id)
        .order_by(bf.c.id)
    )
    return [
        _plain(r, "id", "batch_id", "name", "role", "sha256", "amount", "cancelled", "state")
        for r in s.execute(stmt)
    ]


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
    from gateway.resolve.casework import notes as case_notes
    from gateway.resolve.workflow import get_case

    row = get_row(s, credit_id, scope=scope, today=today)
    full = get_case(s, credit_id)
    row = row.model_copy(update={"history": full.history})
    row._today = today or dt.date.today()
    p, pcn = row.provider_id, row.patient_control_number
    ct = tbl(Credit)
    basis = s.execute(select(ct.c.basis).where(ct.c.id == credit_id)).scalar_one_or_none()
    ledger = _ledger(s, p, pcn)
    adjs = _adjudications(s, p, pcn)
    lines = _claims(s, p, pcn)
    variances = _variances(s, p, pcn)
    requests = _requests(s, p, credit_id, pcn)
    recoup = _recoupments(s, p, pcn)
    docs = _documents(s, row.case_id)
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
