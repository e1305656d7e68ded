"""What the outbound documents say about each claim (the letters: gateway.resolve.letters).

``claim_facts`` gathers, for one claim and the payer owed, what refund and offset forms ask for:
the payer claim control number (CLP07 of the payer's latest adjudication that is not a
reversal), dates of service (835 statement dates, else the 837's), the amount originally paid
and when, the member id (837 NM1*IL; PHI, used only in documents the payer or CMS requires),
the type of bill and the CARC codes. Rows are plain dicts keyed by the names layouts use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gateway.reconcile import sql
from gateway.security.columns import MEMBER_ID, column_cipher
from gateway.store.base import RawStore
from mappings.payers import PayerDirectory, PayerProfile
from mappings.providers import ProviderDirectory
from mappings.providers import default_directory as default_providers
from parsers.x12.lexer import Limits

CENT = Decimal("0.01")
#: overpayment refund form reason codes: 01 duplicate, 02 other primary payer (MSP), 03 other
REASON_CODES = {"duplicate_payment": "01", "coordination_of_benefits": "02"}
REASON_TEXT = {
    "duplicate_payment": "Duplicate payment",
    "coordination_of_benefits": "Other payer primary (coordination of benefits)",
    "overpayment": "Paid in excess of the allowed amount",
    "patient_overpayment": "Patient paid more than their responsibility",
    "unexplained": "Credit balance under review",
}
DISPUTE_TEXT = {
    "claim_not_found": "We have no record of this claim.",
    "wrong_payer": "This claim was not paid by you, or the credit is owed to another payer.",
    "already_recouped": "The overpayment was already recouped by offset (PLB) in a remittance.",
    "already_refunded": "The overpayment was already refunded.",
    "no_credit": "Our records show no overpayment on this claim.",
    "partially_valid": "Only part of the amount requested was overpaid; the rest is disputed.",
}


@dataclass(frozen=True, slots=True)
class Sources:
    """Where documents read what the database does not keep: the raw store (patient names,
    member ids and addresses, read when the document is written) with the limits its files
    were parsed under, and the provider profiles (address, CCN/PTAN, contact, signer)."""

    store: RawStore | None = None
    limits: Limits = field(default_factory=Limits)
    providers: ProviderDirectory | None = None

    def directory(self) -> ProviderDirectory:
        return self.providers if self.providers is not None else default_providers()


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    payer_claim_control_number: str = ""
    service_from: dt.date | None = None
    service_to: dt.date | None = None
    original_paid: Decimal = Decimal("0.00")
    #: the charge the payer adjudicated (CLP03), else the 837's total charge (CLM02)
    billed: Decimal = Decimal("0.00")
    paid_date: dt.date | None = None
    member_id: str = ""
    type_of_bill: str = ""
    carcs: tuple[str, ...] = field(default=())


def claim_facts(
    s: Session, provider_id: int, pcn: str, payer_id: str | None, payers: PayerDirectory
) -> ClaimFacts:
    """Facts of one claim for the payer owed (any payer for patient credits)."""
    rows = s.execute(text(sql.CLAIM_FACT_PAYMENTS), {"p": provider_id, "n": pcn}).all()
    mine = [r for r in rows if not payer_id or payers.canonical(r.payer_id) == payer_id]
    standing = [r for r in mine if r.status_code != "22"] or mine
    latest = max(
        standing,
        key=lambda r: (_day(r.payment_date) or _day(r.production_date) or dt.date.min, r.id),
        default=None,
    )
    claim = s.execute(
        text(
            "SELECT service_date, service_date_end, subscriber_member_id, facility_code, "
            "frequency_code, kind FROM claims WHERE provider_id = :p AND "
            "patient_control_number = :n ORDER BY id DESC LIMIT 1"
        ),
        {"p": provider_id, "n": pcn},
    ).first()
    carcs: set[str] = set()
    if mine:
        stmt = text(
            "SELECT DISTINCT group_code, reason FROM adjustments WHERE claim_payment_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        for a in s.execute(stmt, {"ids": [int(r.id) for r in mine]}):
            carcs.add(f"{a.group_code}-{a.reason}")
    service_from = _day(latest.statement_from) if latest is not None else None
    service_to = _day(latest.statement_to) if latest is not None else None
    if service_from is None and claim is not None:
        service_from = _day(claim.service_date)
        service_to = _day(claim.service_date_end) or service_from
    billed = Decimal("0.00")
    if latest is not None:
        billed = Decimal(
            s.execute(
                text("SELECT charge FROM claim_payments WHERE id = :i"), {"i": int(latest.id)}
            ).scalar_one()
        ).quantize(CENT)
    elif claim is not None:
        charge = s.execute(
            text(
                "SELECT total_charge FROM claims WHERE provider_id = :p AND "
                "patient_control_number = :n ORDER BY id DESC LIMIT 1"
            ),
            {"p": provider_id, "n": pcn},
        ).scalar_one_or_none()
        billed = Decimal(charge or 0).quantize(CENT)
    tob = ""
    if latest is not None and latest.facility_code and latest.frequency_code:
        tob = f"{latest.facility_code}{latest.frequency_code}"
    elif claim is not None and claim.kind == "837I" and claim.facility_code:
        tob = f"{claim.facility_code}{claim.frequency_code}"
    return ClaimFacts(
        payer_claim_control_number=(latest.icn or "") if latest is not None else "",
        service_from=service_from,
        service_to=service_to or service_from,
        original_paid=(
            Decimal(latest.paid).quantize(CENT) if latest is not None else Decimal("0.00")
        ),
        billed=billed,
        paid_date=(_day(latest.payment_date) or _day(latest.production_date))
        if latest is not None
        else None,
        member_id=(column_cipher().open(claim.subscriber_member_id, MEMBER_ID) or "")
        if claim is not None
        else "",
        type_of_bill=tob,
        carcs=tuple(sorted(carcs)),
    )


def _day(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def provider_header(s: Session, provider_id: int) -> dict[str, str]:
    row = s.execute(
        text("SELECT key, npi, tin, name FROM providers WHERE id = :p"), {"p": provider_id}
    ).one()
    return {
        "provider_npi": row.npi or row.key,
        "provider_tin": row.tin or "",
        "provider_name": row.name or f"Provider {row.npi or row.key}",
    }


def recipient_lines(profile: PayerProfile | None, payer_id: str) -> list[str]:
    if profile is None:
        return [f"Payer {payer_id}"]
    lines = [profile.name]
    addr = profile.outbound.refund_address
    if addr is not None:
        if addr.attention:
            lines.append(f"Attn: {addr.attention}")
        lines.extend(addr.lines)
        lines.append(f"{addr.city}, {addr.state} {addr.postal_code}".strip(", "))
    lines.append(f"Payer ID {profile.payer_id}")
    return lines


__all__ = [
    "DISPUTE_TEXT",
    "REASON_CODES",
    "REASON_TEXT",
    "ClaimFacts",
    "claim_facts",
    "provider_header",
    "recipient_lines",
]
