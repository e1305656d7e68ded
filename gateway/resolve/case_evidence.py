"""The evidence rows of one case: everything stored about its claim that shows why the money
is owed, as plain JSON-ready dicts (money as cent strings, dates ISO).

The claim's 837 lines, every 835 adjudication of it (CLP with its SVC lines and CAS, the
remittance's TRN and the file it came in), the PLB recoupments matched to it, the provider's
ledger rows, the variances, the payer refund requests matched to the credit, and the documents
(batch files) issued for the case. Read with SQLAlchemy Core, by provider and patient control
number, so nothing of another provider can appear. Unmasked: ``gateway.resolve.casefile``
assembles the case and masks the PHI. Split from it so the queries read on their own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.claim_rows import ClaimLineRow, ClaimRow
from gateway.db.models import InboundFile
from gateway.db.remittance_rows import (
    AdjustmentRow,
    ClaimPaymentRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    ServicePaymentRow,
)
from gateway.db.types import tbl
from gateway.read.worklist import Adjudication
from gateway.reconcile.tables import (
    ClaimLink,
    LedgerEntry,
    LineVariance,
    PlbMatch,
    PostingVariance,
    RefundRequest,
)
from gateway.resolve.tables import BatchFile, BatchItem, ResolutionBatch

CENT = Decimal("0.01")


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


def claim_lines(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
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


def adjudications(s: Session, p: int, pcn: str) -> list[Adjudication]:
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


def recoupments(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
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


def ledger_rows(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
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


def variances(s: Session, p: int, pcn: str) -> list[dict[str, Any]]:
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


def refund_requests(s: Session, p: int, credit_id: int, pcn: str) -> list[dict[str, Any]]:
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


def documents(s: Session, case_id: int) -> list[dict[str, Any]]:
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


__all__ = [
    "CENT",
    "adjudications",
    "claim_lines",
    "documents",
    "ledger_rows",
    "recoupments",
    "refund_requests",
    "variances",
]
