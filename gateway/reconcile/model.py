"""Inputs and outputs of the credit-balance computation (pure data, no database).

The accounting rules live in ``credit.py``; the service layer loads these records with
set-based SQL and hands only the claims that may hold a credit to the pure functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.reconcile.medicare import MedicareFacts

ZERO = Decimal(0)

#: CLP02 → position in coordination-of-benefits order (primary < secondary < tertiary)
COB_RANK = {"1": 1, "19": 1, "2": 2, "20": 2, "3": 3, "21": 3}
#: CAS groups that are write-offs for the provider (legacy CR included)
WRITE_OFF_GROUPS = frozenset({"CO", "PI", "OA", "CR"})
#: CARC 23: impact of prior payer adjudication; informational, not a write-off
PRIOR_PAYER_REASON = "23"
#: PLB reasons that recoup an overpayment from the provider
RECOUPMENT_REASONS = frozenset({"WO", "72"})

CAUSES = (
    "duplicate_payment",
    "coordination_of_benefits",
    "overpayment",
    "patient_overpayment",
    "unexplained",
)


@dataclass(slots=True)
class Adjudication:
    """One CLP loop of one payer for the claim (reversals included, with their negative paid)."""

    key: int
    payer_id: str
    status_code: str
    paid: Decimal
    payer_claim_control_number: str
    remittance_date: dt.date
    filing_indicator: str = ""
    #: (group, reason, amount) of claim- and line-level CAS
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"

    @property
    def cob_rank(self) -> int:
        return COB_RANK.get(self.status_code, 9)


@dataclass(slots=True)
class ClaimFacts:
    """Everything known about one claim (patient control number) of one provider."""

    provider_id: int
    account_id: str
    patient_control_number: str
    charges: Decimal = ZERO
    patient_payments: Decimal = ZERO
    patient_refunds: Decimal = ZERO
    provider_adjustments: Decimal = ZERO
    #: payer id → ledger refunds the provider returned to that payer for this claim
    payer_refunds: dict[str, Decimal] = field(default_factory=dict)
    #: payer id → PLB WO/72 recoupments that reference this claim
    recoupments: dict[str, Decimal] = field(default_factory=dict)
    adjudications: list[Adjudication] = field(default_factory=list)
    #: 837 SBR09 when the 835 carries no CLP06
    claim_filing_indicator: str = ""
    #: claim kind, type of bill, payer loops, adjustment claims (gateway.reconcile.medicare)
    medicare: MedicareFacts = field(default_factory=MedicareFacts)


@dataclass(frozen=True, slots=True)
class CreditRow:
    """One attributed part of a claim's credit balance."""

    provider_id: int
    account_id: str
    patient_control_number: str
    owed_to: str  # payer | patient | unknown
    payer_id: str | None
    amount: Decimal
    cause: str
    government: bool
    status: str  # pending | open
    deadline_days: int | None
    pending_until: dt.date | None = None
    #: 837I | 837P | 837D | '' (gateway.reconcile.medicare.annotate fills these four)
    claim_kind: str = ""
    #: A | B for money of Medicare (or, owed to unknown, of a claim Medicare paid); else None
    medicare_part: str | None = None
    #: the payer's profile is a Medicare contractor (False: Medicare by indicator only)
    medicare_verified: bool | None = None
    #: report | claim_adjustment | refund | None (owner unknown)
    return_method: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimBalance:
    """The computed figures of one claim, for explanation and tests."""

    balance: Decimal
    net_payments: dict[str, Decimal]
    counted_write_offs: Decimal
    patient_responsibility: Decimal
    effective: dict[str, Adjudication]
    wrongful_primaries: frozenset[str]
    cob_order: tuple[str, ...]
