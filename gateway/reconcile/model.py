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
#: CAS groups at claim level that make a claim claim-priced (OA-23 aside)
CLAIM_PRICING_GROUPS = frozenset({"CO", "PI", "PR"})
#: why a credit is held back (``pending``) from approval
PENDING_REASONS = ("hold_window", "unposted_line", "replacement_claim", "no_posted_charges")
#: an analyst's answer to an uncharged line (``gateway variances resolve --as``)


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One SVC loop of an adjudication, as reconciliation groups and matches it."""

    #: REF*6R, the line item control number (or the 837's LX number a payer echoes)
    line_ref: str
    #: the submitted procedure code: SVC06 when present, else SVC01, without qualifier/modifiers
    code: str
    revenue_code: str
    #: DTM*472; None when the line is dated by the claim's statement period
    service_date: dt.date | None
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    #: (group, reason, amount) of this line's CAS
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()
    procedure: str = ""  # SVC01 as sent (qualifier and modifiers included), for explanations


@dataclass(frozen=True, slots=True)
class LedgerCharge:
    """A posted charge (or charge reversal, negative) with whatever line detail the export has."""

    amount: Decimal
    line_ref: str = ""
    code: str = ""
    revenue_code: str = ""
    service_date: dt.date | None = None

    @property
    def has_line_detail(self) -> bool:
        return bool(self.line_ref or self.code or self.revenue_code)


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
    #: CLP03, the charge the payer adjudicated (0 when unknown)
    charge: Decimal = ZERO
    #: the SVC loops; empty when the payer answered at claim level only
    lines: list[ServiceLine] = field(default_factory=list)
    #: (group, reason, amount) of the claim-level CAS only (a subset of ``adjustments``)
    claim_adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    drg_code: str = ""  # CLP11
    inpatient: bool = False  # an MIA segment was sent
    #: MA15 in the MOA or a line's LQ: this adjudication is one part of a split claim
    split: bool = False
    statement_from: dt.date | None = None
    statement_to: dt.date | None = None
    #: keys of the split-claim parts this adjudication combines (empty: a single CLP loop)
    parts: tuple[int, ...] = ()

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"

    @property
    def cob_rank(self) -> int:
        return COB_RANK.get(self.status_code, 9)

    @property
    def claim_priced(self) -> bool:
        """DRG, per diem or any claim-level CO/PI/PR: the payer priced the claim as a whole."""
        if self.drg_code or self.inpatient or not self.lines:
            return True
        return any(g in CLAIM_PRICING_GROUPS for g, _, _ in self.claim_adjustments)


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
    #: every posted charge row (``charges`` is their sum); empty when none was posted
    ledger_charges: list[LedgerCharge] = field(default_factory=list)
    #: whether the ledger has any charge row for the claim (even one netted to zero)
    has_charge_rows: bool = True
    #: line group key → the analyst's decision on it (``LINE_DECISIONS``)
    line_decisions: dict[str, str] = field(default_factory=dict)
    #: (CLP07 named by REF*F8, date sent) of each replacement or void 837 (CLM05-3 = 7 or 8)
    replacements: list[tuple[str, dt.date]] = field(default_factory=list)
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
    #: why a ``pending`` row is held (``PENDING_REASONS``)
    pending_reason: str | None = None
    #: 837I | 837P | 837D | '' (gateway.reconcile.medicare.annotate fills these four)
    claim_kind: str = ""
    #: A | B for money of Medicare (or, owed to unknown, of a claim Medicare paid); else None
    medicare_part: str | None = None
    #: the payer's profile is a Medicare contractor (False: Medicare by indicator only)
    medicare_verified: bool | None = None
    #: report | claim_adjustment | refund | None (owner unknown)
    return_method: str | None = None


@dataclass(frozen=True, slots=True)
class LineGroup:
    """Service lines of one adjudication that are one billed line (same 6R, else code+date)."""

    key: str
    lines: tuple[ServiceLine, ...]

    @property
    def charge(self) -> Decimal:
        return sum((ln.charge for ln in self.lines), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((ln.paid for ln in self.lines), ZERO)


@dataclass(frozen=True, slots=True)
class LineVariance:
    """A billed line the ledger does not carry (``unposted_line``) or a claim whose posted
    charges cannot be matched to its lines (``charge_mismatch``)."""

    kind: str  # unposted_line | charge_mismatch
    payer_id: str
    group_key: str  # '' for a claim-level mismatch
    reason: str
    #: one dict per service line: procedure, revenue_code, service_date, charge, paid, line_ref
    lines: tuple[dict[str, str | None], ...] = ()
    charge: Decimal = ZERO
    paid: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """Everything reconciliation concludes about one claim."""

    credits: list[CreditRow]
    variances: list[LineVariance]
    #: set while a claim with remittances but no posted charge waits for its ledger
    no_charges_until: dt.date | None = None
    #: the payer and net payment of such a claim, and its newest remittance (for the listing)
    waiting: tuple[str, Decimal, dt.date] | None = None


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
