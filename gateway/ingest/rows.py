"""Canonical models to table rows. Pure: no session, no I/O.

Header rows are dicts (a few per file); the per-claim rows are lists in a fixed column order.

Patient names never leave here: only the patient control number is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from parsers.codes import procedure_code, revenue_code
from schemas import (
    Adjustment,
    Claim,
    ClaimLine,
    ClaimPayment,
    Entity,
    FunctionalGroup,
    Interchange,
    OtherPayer,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
    TransactionHeader,
)

Row = dict[str, Any]


def provider_identity(entity: Entity | None) -> tuple[str | None, str | None, str]:
    """(NPI, TIN, name) of an 835 payee (N1*PE, REF*TJ) or 837 billing provider (NM1*85)."""
    if entity is None:
        return None, None, ""
    npi = entity.id if entity.id_qualifier == "XX" and entity.id else None
    tin = entity.id if entity.id_qualifier in ("FI", "24", "34", "EI") and entity.id else None
    if tin is None:
        tin = entity.ref("TJ") or entity.ref("EI") or None
    return npi, tin, entity.name


def interchange_row(file_id: int, ic: Interchange, forced: bool) -> Row:
    return {
        "file_id": file_id,
        "sender_qualifier": ic.sender_qualifier,
        "sender_id": ic.sender_id,
        "receiver_qualifier": ic.receiver_qualifier,
        "receiver_id": ic.receiver_id,
        "control_number": ic.control_number,
        "date": ic.date,
        "usage": ic.usage_indicator,
        "forced": forced,
    }


def group_row(file_id: int, interchange_id: int, g: FunctionalGroup) -> Row:
    return {
        "file_id": file_id,
        "interchange_id": interchange_id,
        "functional_id": g.functional_id,
        "sender_id": g.sender_id,
        "receiver_id": g.receiver_id,
        "control_number": g.control_number,
        "version": g.version,
        "date": g.date,
    }


def transaction_row(file_id: int, group_id: int, h: TransactionHeader) -> Row:
    return {
        "file_id": file_id,
        "group_id": group_id,
        "control_number": h.control_number,
        "kind": h.kind,
        "guide": h.implementation_reference,
        "segment_count": 0,
    }


def remittance_row(
    file_id: int, transaction_id: int, provider_id: int | None, r: Remittance
) -> Row:
    npi, tin, name = provider_identity(r.payee)
    return {
        "file_id": file_id,
        "transaction_id": transaction_id,
        "provider_id": provider_id,
        "payer_id": r.payer_id,
        "payer_name": r.payer.name if r.payer else "",
        "payee_name": name,
        "payee_npi": npi,
        "payee_tin": tin,
        "amount": r.payment_amount,
        "credit_debit": r.credit_debit,
        "method": r.payment_method,
        "payment_format": r.payment_format,
        "payment_date": r.payment_date,
        "trace_number": r.trace_number,
        "trace_originator": r.originator_id,
        "trace_supplemental": r.originator_supplemental,
        "production_date": r.production_date,
    }


#: column order of the bulk rows below (``id`` first: ids are allocated by the loader)
CLAIM_PAYMENT_COLUMNS = (
    "id",
    "file_id",
    "remittance_id",
    "provider_id",
    "payer_id",
    "seq",
    "patient_control_number",
    "status_code",
    "charge",
    "paid",
    "patient_responsibility",
    "filing_indicator",
    "payer_claim_control_number",
    "facility_code",
    "frequency_code",
    "statement_from",
    "statement_to",
    "received_date",
    "interest",
    "drg_code",
    "inpatient",
    "split",
    "resend_key",
    "resend_twin",
)
SERVICE_PAYMENT_COLUMNS = (
    "id",
    "file_id",
    "claim_payment_id",
    "seq",
    "procedure",
    "revenue_code",
    "charge",
    "paid",
    "allowed",
    "units",
    "service_date",
    "service_date_end",
    "line_control_number",
    "code",
)
ADJUSTMENT_COLUMNS = (
    "file_id",
    "claim_payment_id",
    "service_payment_id",
    "level",
    "group_code",
    "reason",
    "amount",
    "quantity",
)
CLAIM_COLUMNS = (
    "id",
    "file_id",
    "transaction_id",
    "provider_id",
    "kind",
    "seq",
    "payer_id",
    "patient_control_number",
    "total_charge",
    "filing_indicator",
    "facility_code",
    "frequency_code",
    "original_claim_number",
    "service_date",
    "service_date_end",
    "subscriber_member_id",
)
CLAIM_LINE_COLUMNS = (
    "file_id",
    "claim_id",
    "line_number",
    "procedure",
    "revenue_code",
    "charge",
    "units",
    "unit_basis",
    "place_of_service",
    "service_date",
    "service_date_end",
    "line_control_number",
)
OTHER_PAYER_COLUMNS = (
    "file_id",
    "claim_id",
    "sequence",
    "filing_indicator",
    "payer_id",
    "payer_name",
    "paid",
)

# The bulk rows are lists (not dicts) in the column order above: the loader converts values in
# place per column and hands them to the driver's executemany / COPY as they are.


#: remark code "claim separated to expedite handling" (MOA03–07 or a line's LQ*HE)
SPLIT_CLAIM_REMARK = "MA15"


def included_interest(c: ClaimPayment) -> Decimal:
    """The part of CLP04 that is claim interest (AMT*I), or 0 when the payer pays it apart.

    A payer that includes interest in the claim payment balances CLP03 − ΣCAS = CLP04 − AMT*I;
    one that pays it elsewhere (PLB L6) balances CLP03 − ΣCAS = CLP04.
    """
    interest = c.amounts.get("I")
    if not interest:
        return Decimal(0)
    cas = sum((a.amount for a in c.adjustments), Decimal(0)) + sum(
        (a.amount for s in c.services for a in s.adjustments), Decimal(0)
    )
    return interest if c.charge - cas == c.paid - interest else Decimal(0)


def is_split_part(c: ClaimPayment) -> bool:
    """The payer says this CLP loop is one part of a claim it split (remark MA15)."""
    if (
        SPLIT_CLAIM_REMARK in c.outpatient_adjudication[2:]
        or SPLIT_CLAIM_REMARK in c.inpatient_adjudication
    ):
        return True
    return any(r.endswith(f":{SPLIT_CLAIM_REMARK}") for s in c.services for r in s.remark_codes)


def billed_codes(s: ServicePayment) -> tuple[str, str]:
    """(procedure code, revenue code) the provider billed, as ledgers name them: SVC06 when
    the payer changed the code, else SVC01, without qualifier and modifiers; SVC04, or SVC01
    itself when it is a revenue code (qualifier NU)."""
    text = s.original_procedure or s.procedure
    if text.startswith("NU:"):
        return "", revenue_code(text)
    return procedure_code(text)[:48], revenue_code(s.revenue_code)


def claim_payment_row(
    row_id: int,
    file_id: int,
    remittance_id: int,
    provider_id: int | None,
    payer_id: str,
    seq: int,
    c: ClaimPayment,
    resend_key: str | None = None,
    resend_twin: bool = False,
) -> list[Any]:
    return [
        row_id,
        file_id,
        remittance_id,
        provider_id,
        payer_id,
        seq,
        c.patient_control_number,
        c.status_code,
        c.charge,
        c.paid,
        c.patient_responsibility,
        c.filing_indicator,
        c.payer_claim_control_number,
        c.facility_code,
        c.frequency_code,
        c.statement_from,
        c.statement_to,
        c.received_date,
        included_interest(c),
        c.drg_code[:8],
        bool(c.inpatient_adjudication),
        is_split_part(c),
        resend_key,
        resend_twin,
    ]


def service_payment_row(
    row_id: int, file_id: int, claim_payment_id: int, seq: int, s: ServicePayment
) -> list[Any]:
    code, revenue = billed_codes(s)
    return [
        row_id,
        file_id,
        claim_payment_id,
        seq,
        s.procedure,
        revenue,
        s.charge,
        s.paid,
        s.allowed,
        s.units,
        s.service_date,
        s.service_date_end,
        s.line_control_number,
        code,
    ]


def adjustment_row(
    file_id: int, claim_payment_id: int, service_payment_id: int | None, a: Adjustment
) -> list[Any]:
    return [
        file_id,
        claim_payment_id,
        service_payment_id,
        "line" if service_payment_id is not None else "claim",
        a.group,
        a.reason,
        a.amount,
        a.quantity,
    ]


def provider_adjustment_row(
    file_id: int,
    remittance_id: int,
    provider_id: int | None,
    p: ProviderAdjustment,
    resend_key: str | None = None,
) -> Row:
    return {
        "file_id": file_id,
        "remittance_id": remittance_id,
        "provider_id": provider_id,
        "provider_identifier": p.provider_id,
        "reason": p.reason,
        "reference": p.reference,
        "amount": p.amount,
        "fiscal_date": p.fiscal_period_date,
        "resend_key": resend_key,
        "resend_twin": False,
    }


def claim_row(
    row_id: int,
    file_id: int,
    transaction_id: int,
    provider_id: int | None,
    kind: str,
    seq: int,
    c: Claim,
    seal: Callable[[str | None, str], str | None] | None = None,
) -> list[Any]:
    member = c.subscriber.person.id if c.subscriber and c.subscriber.person else None
    if seal is not None and member:
        member = seal(member, "claims.subscriber_member_id")
    return [
        row_id,
        file_id,
        transaction_id,
        provider_id,
        kind,
        seq,
        c.payer_id,
        c.patient_control_number,
        c.total_charge,
        c.filing_indicator,
        c.facility_code,
        c.frequency_code,
        c.original_claim_number,
        c.service_date,
        c.service_date_end,
        member or None,
    ]


def claim_line_row(file_id: int, claim_id: int, ln: ClaimLine) -> list[Any]:
    return [
        file_id,
        claim_id,
        ln.line_number,
        ln.procedure,
        ln.revenue_code,
        ln.charge,
        ln.units,
        ln.unit_basis,
        ln.place_of_service,
        ln.service_date,
        ln.service_date_end,
        ln.line_control_number,
    ]


def other_payer_row(file_id: int, claim_id: int, o: OtherPayer) -> list[Any]:
    return [file_id, claim_id, o.sequence, o.filing_indicator, o.payer_id, o.payer_name, o.paid]
