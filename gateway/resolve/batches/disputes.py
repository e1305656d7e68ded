"""Dispute batches: the payer refund requests found invalid or partially valid, per provider
and payer, with the letter that says why and the evidence for each claim."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import tbl
from gateway.read.batches import BatchRead
from gateway.reconcile.tables import RefundRequest
from gateway.resolve import letters
from gateway.resolve.batches.records import new_batch, store_files
from gateway.resolve.batches.views import get_batch
from gateway.resolve.documents import CENT, DISPUTE_TEXT, Sources, provider_header
from gateway.resolve.evidence import claim_key, dispute_evidence
from gateway.resolve.parties import parties
from gateway.resolve.pdf import render_letter
from gateway.resolve.render import render
from gateway.resolve.tables import BatchItem
from mappings.outbound_layouts import get_layout
from mappings.payers import PayerDirectory

DISPUTE_LAYOUT = "dispute_csv"


def issue_disputes(
    s: Session,
    as_of: dt.date,
    actor: str,
    payers: PayerDirectory,
    provider_id: int | None,
    payer_id: str | None,
    src: Sources,
) -> list[BatchRead]:
    """A dispute batch per provider × payer for the requests not yet in one (the same
    ``provider_id``/``payer_id`` filters as ``create_batches``)."""
    rt, it = tbl(RefundRequest), tbl(BatchItem)
    taken = select(it.c.refund_request_id).where(
        it.c.refund_request_id.is_not(None), it.c.cancelled.is_(False)
    )
    stmt = (
        select(rt)
        .where(rt.c.verdict.in_(("invalid", "partially_valid")), rt.c.id.not_in(taken))
        .order_by(rt.c.id)
    )
    if provider_id is not None:
        stmt = stmt.where(rt.c.provider_id == provider_id)
    groups: dict[tuple[int, str], list[Any]] = {}
    for r in s.execute(stmt):
        payer = payers.canonical(r.payer_id)
        if payer_id is None or payer == payer_id:
            groups.setdefault((r.provider_id, payer), []).append(r)
    out = []
    layout = get_layout(DISPUTE_LAYOUT, document="dispute")
    for (pid, payer), reqs in sorted(groups.items()):
        profile = payers.get(payer)
        batch_id, key, ref = new_batch(
            s,
            provider_id=pid,
            payer_id=payer,
            kind="dispute",
            msp=False,
            as_of=as_of,
            reference=None,
            partner_id=profile.outbound.delivery_partner if profile else None,
            actor=actor,
        )
        header: dict[str, Any] = {
            **provider_header(s, pid),
            "payer_id": payer,
            "payer_name": profile.name if profile else "",
            "batch_id": key,
            "created_on": as_of,
            "reference": ref,
            "msp_flag": "N",
            "method_code": "D",
        }
        rows = []
        keys = [
            claim_key(s, pid, r.patient_control_number, r.payer_claim_control_number, payer, payers)
            for r in reqs
        ]
        people = parties(s, src.store, pid, keys, src.limits)
        for r, pcn in zip(reqs, keys, strict=True):
            requested = Decimal(r.amount).quantize(CENT)
            agreed = Decimal(r.valid_amount).quantize(CENT)
            rows.append(
                {
                    "request_reference": r.reference,
                    "patient_control_number": r.patient_control_number,
                    "payer_claim_control_number": r.payer_claim_control_number,
                    "requested": requested,
                    "agreed": agreed,
                    "amount": requested - agreed,
                    "verdict": r.verdict,
                    "reason": DISPUTE_TEXT.get(r.reason or r.verdict, r.reason or r.verdict),
                    "request_date": r.request_date,
                    "patient_name": people.get(pcn).name,
                    "evidence": dispute_evidence(s, pid, pcn, payer, payers),
                }
            )
        data = render(layout, header, rows)
        sender = letters.Sender.of(header, src.directory().for_npi(header["provider_npi"]))
        letter = render_letter(
            letters.dispute(batch=header, rows=rows, profile=profile, sender=sender)
        )
        store_files(
            s,
            batch_id,
            header,
            data,
            letter,
            "dispute",
            [],
            [
                {
                    "batch_id": batch_id,
                    "case_id": None,
                    "refund_request_id": r.id,
                    "line": n,
                    "amount": row["amount"],
                    "cancelled": False,
                }
                for n, (r, row) in enumerate(zip(reqs, rows, strict=True), start=1)
            ],
        )
        audit.record(
            s,
            actor=actor,
            action="batch_issued",
            outcome="dispute",
            reason=f"batch {key}",
            details={"batch_id": batch_id, "requests": len(reqs)},
        )
        out.append(get_batch(s, batch_id))
    return out


__all__ = ["issue_disputes"]
