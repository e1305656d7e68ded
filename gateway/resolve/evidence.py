"""What a letter cites: the payer's request it answers, and the remittances behind a dispute.

``solicited_by_credit`` maps each credit a payer asked back (a ``valid`` or ``partially_valid``
refund request, gateway.reconcile.refunds) to that request's letter number and date, so its
refund is titled and filed as a response. ``dispute_evidence`` names, for one disputed request,
the 835s that settle it: the PLB recoupments (TRN, date, amount) that already took the money
back, the ledger refunds already posted, or the payer's own adjudications of the claim (TRN,
date, paid) that show what was, or was not, paid. It says "no remittance from you" when the
payer never paid the claim at all. Only ids, dates and amounts: no PHI.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.reconcile import sql
from gateway.resolve.letters import Solicited
from mappings.payers import PayerDirectory
from schemas.serialize import money

_REQUESTS = text(
    "SELECT id, credit_ids, reference, request_date FROM refund_requests "
    "WHERE provider_id = :p AND verdict IN ('valid', 'partially_valid') ORDER BY id"
)
_RECOUPED = text(
    "SELECT pa.reason, pa.reference, pa.amount, r.trace_number, r.payment_date, "
    "r.production_date, pm.payer_id FROM plb_matches pm JOIN provider_adjustments pa "
    "ON pa.id = pm.provider_adjustment_id JOIN remittances r ON r.id = pa.remittance_id "
    "WHERE pm.provider_id = :p AND pm.patient_control_number = :n ORDER BY pa.id"
)
_REFUNDED = text(
    "SELECT le.payer_id, le.amount, le.posted_date, le.reference FROM ledger_entries le "
    "WHERE le.provider_id = :p AND le.patient_control_number = :n AND le.type = 'refund' "
    "AND le.party = 'payer' ORDER BY le.id"
)


def solicited_by_credit(s: Session, provider_id: int) -> dict[int, Solicited]:
    """credit id → the (newest) payer request that asked for it back."""
    out: dict[int, Solicited] = {}
    for r in s.execute(_REQUESTS, {"p": provider_id}):
        ids = json.loads(r.credit_ids) if isinstance(r.credit_ids, str) else r.credit_ids
        for cid in ids or ():
            out[int(cid)] = Solicited(str(r.reference or ""), _day(r.request_date))
    return out


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _on(r: Any) -> str:
    day = _day(r.payment_date) or _day(r.production_date)
    return day.strftime("%m/%d/%Y") if day else "undated"


def claim_key(
    s: Session, provider_id: int, pcn: str, icn: str, payer: str, payers: PayerDirectory
) -> str:
    """Our PCN of a request that may name only the payer's claim number ('' if unknown)."""
    if pcn or not icn:
        return pcn
    rows = s.execute(text(sql.CLAIM_KEYS_BY_ICN), {"p": provider_id, "icn": icn}).all()
    keys = sorted({str(r[1]) for r in rows if payers.canonical(str(r[0])) == payer})
    return keys[0] if keys else ""


def dispute_evidence(
    s: Session, provider_id: int, pcn: str, payer: str, payers: PayerDirectory
) -> str:
    """The remittances (and postings) that show why a request is disputed, as one line."""
    if not pcn:
        return "No claim of ours carries this claim number; no remittance from you pays it."
    mine = payers.canonical
    parts: list[str] = []
    for r in s.execute(_RECOUPED, {"p": provider_id, "n": pcn}):
        if mine(str(r.payer_id)) == payer:
            parts.append(
                f"Recouped: 835 TRN {r.trace_number} of {_on(r)}, PLB {r.reason} "
                f"{money(Decimal(r.amount))} (ref {r.reference})"
            )
    for r in s.execute(_REFUNDED, {"p": provider_id, "n": pcn}):
        if mine(str(r.payer_id or "")) == payer:
            day = _day(r.posted_date)
            parts.append(
                f"Refunded {money(abs(Decimal(r.amount)))} on "
                f"{day.strftime('%m/%d/%Y') if day else 'undated'} (ref {r.reference})"
            )
    # the claim's counted payments (a re-sent ERA's copy is cited once), as the letters read them
    paid = [
        r
        for r in s.execute(text(sql.CLAIM_FACT_PAYMENTS), {"p": provider_id, "n": pcn})
        if mine(r.payer_id) == payer
    ]
    for r in paid:
        what = "reversed" if r.status_code == "22" else "paid"
        parts.append(
            f"835 TRN {r.trace_number} of {_on(r)}: ICN {r.icn} {what} {money(Decimal(r.paid))}"
        )
    if not paid:
        parts.append("No remittance (835) from you pays this claim.")
    return "; ".join(parts)


__all__ = ["claim_key", "dispute_evidence", "solicited_by_credit"]
