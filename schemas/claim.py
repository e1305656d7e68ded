"""Canonical 837 (P, I, D) claim models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.common import Entity, Reference
from schemas.envelope import TransactionHeader
from schemas.remittance import Adjustment


@dataclass(slots=True)
class ClaimLine:
    """A 2400 service line: SV1 (837P), SV2 (837I) or SV3 (837D)."""

    line_number: int
    procedure: str
    charge: Decimal
    revenue_code: str = ""
    units: Decimal | None = None
    unit_basis: str = ""
    place_of_service: str = ""
    non_covered: Decimal | None = None
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None
    line_control_number: str = ""
    references: list[Reference] = field(default_factory=list)
    segment_index: int = 0


@dataclass(slots=True)
class OtherPayer:
    """A 2320/2330B other-payer loop: prior payer's sequence, filing indicator, paid amount."""

    sequence: str
    filing_indicator: str
    payer_id: str = ""
    payer_name: str = ""
    paid: Decimal | None = None
    adjustments: list[Adjustment] = field(default_factory=list)


@dataclass(slots=True)
class Subscriber:
    """2000B/2010BA subscriber with SBR (payer sequence and claim filing indicator)."""

    sequence: str
    relationship: str
    group_number: str
    filing_indicator: str
    person: Entity | None = None
    date_of_birth: dt.date | None = None
    gender: str = ""


@dataclass(slots=True)
class Claim:
    """A CLM loop (2300) with everything needed to match it to remittances."""

    patient_control_number: str
    total_charge: Decimal
    facility_code: str
    facility_qualifier: str
    frequency_code: str
    billing_provider: Entity | None = None
    subscriber: Subscriber | None = None
    payer: Entity | None = None
    patient: Entity | None = None
    patient_date_of_birth: dt.date | None = None
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None
    #: DTP*435 (D8, or DT: with the hour in ``admission_time``)
    admission_date: dt.date | None = None
    #: DTP*096 (D8 or DT; 837I sends only the hour, TM, in ``discharge_time``)
    discharge_date: dt.date | None = None
    admission_time: dt.time | None = None
    discharge_time: dt.time | None = None
    original_claim_number: str = ""
    prior_authorization: str = ""
    diagnosis_codes: list[str] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    other_payers: list[OtherPayer] = field(default_factory=list)
    lines: list[ClaimLine] = field(default_factory=list)
    segment_index: int = 0

    @property
    def payer_id(self) -> str:
        """Payer identity rule for 837: the 2010BB NM1*PR NM109."""
        return self.payer.id if self.payer is not None else ""

    @property
    def filing_indicator(self) -> str:
        return self.subscriber.filing_indicator if self.subscriber is not None else ""


@dataclass(slots=True)
class ClaimSubmission:
    """One 837 transaction set: the submitter, receiver and its claims."""

    header: TransactionHeader
    kind: str
    purpose_code: str = ""
    reference_id: str = ""
    created_date: dt.date | None = None
    submitter: Entity | None = None
    receiver: Entity | None = None
    claims: list[Claim] = field(default_factory=list)
