"""Canonical 835 (health care claim payment/advice) models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.common import Entity, Reference
from schemas.envelope import TransactionHeader


@dataclass(slots=True)
class Adjustment:
    """One CAS triplet: group (CO/OA/PI/PR, legacy CR), reason code, amount, quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class ServicePayment:
    """An SVC loop (2110)."""

    procedure: str
    charge: Decimal
    paid: Decimal
    revenue_code: str = ""
    units: Decimal | None = None
    original_procedure: str = ""
    original_units: Decimal | None = None
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None
    line_control_number: str = ""
    allowed: Decimal | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remark_codes: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    segment_index: int = 0


@dataclass(slots=True)
class ClaimPayment:
    """A CLP loop (2100): one payer's adjudication of one claim."""

    patient_control_number: str
    status_code: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal | None
    filing_indicator: str
    payer_claim_control_number: str
    facility_code: str = ""
    frequency_code: str = ""
    drg_code: str = ""
    drg_weight: Decimal | None = None
    discharge_fraction: Decimal | None = None
    patient: Entity | None = None
    insured: Entity | None = None
    corrected_patient: Entity | None = None
    rendering_provider: Entity | None = None
    crossover_carrier: Entity | None = None
    inpatient_adjudication: list[str] = field(default_factory=list)
    outpatient_adjudication: list[str] = field(default_factory=list)
    statement_from: dt.date | None = None
    statement_to: dt.date | None = None
    received_date: dt.date | None = None
    dates: dict[str, dt.date] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    quantities: dict[str, Decimal] = field(default_factory=dict)
    adjustments: list[Adjustment] = field(default_factory=list)
    services: list[ServicePayment] = field(default_factory=list)
    segment_index: int = 0

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"


@dataclass(slots=True)
class ProviderAdjustment:
    """One PLB adjustment pair: reason (PLB03-1), reference (PLB03-2) and amount.

    A positive amount reduces the payment (e.g. WO overpayment recovery), as with CAS.
    """

    provider_id: str
    fiscal_period_date: dt.date | None
    reason: str
    reference: str
    amount: Decimal
    segment_index: int = 0


@dataclass(slots=True)
class Remittance:
    """One 835 transaction set (ST..SE): a payment and its claim detail."""

    header: TransactionHeader
    handling_code: str
    payment_amount: Decimal
    credit_debit: str
    payment_method: str
    payment_format: str = ""
    payment_date: dt.date | None = None
    trace_type: str = ""
    trace_number: str = ""
    originator_id: str = ""
    #: TRN04: part of the trace when the originator sends it (a resend carries the same)
    originator_supplemental: str = ""
    production_date: dt.date | None = None
    receiver_id: str = ""
    payer: Entity | None = None
    payee: Entity | None = None
    references: list[Reference] = field(default_factory=list)
    claims: list[ClaimPayment] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)

    @property
    def payer_id(self) -> str:
        """Payer identity rule: REF*2U if present, else N1*PR N104, else TRN03."""
        if self.payer is not None:
            ref = self.payer.ref("2U")
            if ref:
                return ref
            if self.payer.id:
                return self.payer.id
        return self.originator_id
