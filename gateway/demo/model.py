"""What the demo generator plans before anything is written: claims, adjudications, postings.

Every figure here is decided by the scenario that creates it (amounts in cents, dates fixed);
the X12 and ledger writers only render these plans, so the planted credits in the answer file
follow from construction, not from running the reconciliation rules.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.demo.payers import DemoPayer, Patient
from schemas.remittance import Adjustment

ZERO = Decimal(0)
CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """An exact 2-decimal amount."""
    return Decimal(value).quantize(CENT)


@dataclass(frozen=True, slots=True)
class Line:
    """A billed service line (837 2400), with its REF*6R line control number."""

    number: int
    procedure: str  # "HC:99213"
    charge: Decimal
    service_date: dt.date
    control: str
    revenue_code: str = ""
    units: Decimal = Decimal(1)


@dataclass(slots=True)
class LinePayment:
    """One SVC loop: the payer's decision on one line."""

    line: Line
    paid: Decimal
    adjustments: list[Adjustment]
    allowed: Decimal | None = None
    remarks: tuple[str, ...] = ()

    def negated(self) -> LinePayment:
        return LinePayment(
            self.line,
            -self.paid,
            [Adjustment(a.group, a.reason, -a.amount) for a in self.adjustments],
            -self.allowed if self.allowed is not None else None,
            self.remarks,
        )


@dataclass(slots=True)
class Adjudication:
    """One CLP loop in the 835 of ``payer`` dated ``date`` (BPR16)."""

    payer: DemoPayer
    date: dt.date
    status: str  # CLP02
    icn: str  # CLP07
    lines: list[LinePayment]
    crossover: DemoPayer | None = None
    remarks: tuple[str, ...] = ()
    #: a DRG-priced inpatient claim: CLP11, MIA, claim-level CAS and the DRG payment
    drg: str = ""
    claim_adjustments: list[Adjustment] = field(default_factory=list)
    drg_payment: Decimal | None = None

    @property
    def paid(self) -> Decimal:
        if self.drg_payment is not None:
            return self.drg_payment
        return sum((lp.paid for lp in self.lines), ZERO)

    @property
    def charge(self) -> Decimal:
        sign = -1 if self.status == "22" else 1
        return sum((lp.line.charge for lp in self.lines), ZERO) * sign

    @property
    def patient_responsibility(self) -> Decimal:
        claim_level = sum((a.amount for a in self.claim_adjustments if a.group == "PR"), ZERO)
        return claim_level + sum(
            (a.amount for lp in self.lines for a in lp.adjustments if a.group == "PR"), ZERO
        )

    def adjustment_totals(self) -> list[Adjustment]:
        """Claim-level totals by (group, reason), for the 837 2320 loop of a secondary claim."""
        totals: dict[tuple[str, str], Decimal] = {}
        for lp in self.lines:
            for a in lp.adjustments:
                totals[(a.group, a.reason)] = totals.get((a.group, a.reason), ZERO) + a.amount
        return [Adjustment(g, r, amt) for (g, r), amt in totals.items() if amt]

    def reversal(self, date: dt.date) -> Adjudication:
        """CLP02 = 22 with the same CLP07, every amount and CAS negated."""
        return Adjudication(self.payer, date, "22", self.icn, [lp.negated() for lp in self.lines])


@dataclass(frozen=True, slots=True)
class Submission:
    """The claim as billed to one payer in one 837 (sequence P or S, with the prior payer)."""

    payer: DemoPayer
    date: dt.date
    sequence: str = "P"
    prior: Adjudication | None = None


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger row in the practice-management export (positive amounts, a type code)."""

    date: dt.date
    code: str  # C, IP, PP, CA, WO, IR, PR
    amount: Decimal
    payer_id: str = ""
    reference: str = ""
    #: a charge posted with its line detail (CPT, date of service, line control number)
    line: Line | None = None


@dataclass(frozen=True, slots=True)
class PlbEntry:
    """A provider-level adjustment in the payer's 835 of ``date``."""

    payer: DemoPayer
    date: dt.date
    reason: str
    reference: str
    amount: Decimal


@dataclass(slots=True)
class DemoClaim:
    """One claim (patient control number) with everything that happens to it in the month."""

    pcn: str
    patient: Patient
    kind: str  # 837P | 837I
    facility: str  # place of service (837P) or facility type (837I)
    lines: list[Line]
    diagnoses: list[str]
    scenario: str = "clean"
    submissions: list[Submission] = field(default_factory=list)
    adjudications: list[Adjudication] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)

    @property
    def account_id(self) -> str:
        return self.patient.account_id

    @property
    def charge(self) -> Decimal:
        return sum((ln.charge for ln in self.lines), ZERO)


@dataclass(frozen=True, slots=True)
class ExpectedCredit:
    """One row of the answer file, in the ``gateway credits --json`` shape."""

    claim: DemoClaim
    owed_to: str
    payer: DemoPayer | None
    amount: Decimal
    cause: str
    government: bool
    identified_on: dt.date
    status: str

    @property
    def due_by(self) -> dt.date | None:
        days = (
            60
            if self.government and self.payer is None
            else (self.payer.deadline_days if self.payer is not None else None)
        )
        return None if days is None else self.identified_on + dt.timedelta(days=days)

    def as_json(self) -> dict[str, object]:
        due = self.due_by
        return {
            # the account number comes from the ledger: a claim it never posted has none
            "account_id": self.claim.account_id if self.claim.postings else None,
            "patient_control_number": self.claim.pcn,
            "owed_to": self.owed_to,
            "payer_id": self.payer.payer_id if self.payer is not None else None,
            "amount": f"{self.amount:.2f}",
            "cause": self.cause,
            "government": self.government,
            "identified_on": self.identified_on.isoformat(),
            "due_by": due.isoformat() if due is not None else None,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class ExpectedVariance:
    """A posting variance: the ledger's payer postings for a claim differ from the 835s."""

    claim: DemoClaim
    payer: DemoPayer
    kind: str
    posted: Decimal
    remitted: Decimal

    def as_json(self) -> dict[str, object]:
        return {
            "account_id": self.claim.account_id,
            "patient_control_number": self.claim.pcn,
            "payer_id": self.payer.payer_id,
            "kind": self.kind,
            "posted": f"{self.posted:.2f}",
            "remitted": f"{self.remitted:.2f}",
            "difference": f"{self.posted - self.remitted:.2f}",
        }


@dataclass(frozen=True, slots=True)
class ExpectedLineVariance:
    """A line variance (``unposted_line`` or ``charge_mismatch``): the line's charge and payment."""

    claim: DemoClaim
    payer: DemoPayer
    kind: str
    charge: Decimal
    paid: Decimal
    status: str = "open"

    def as_json(self) -> dict[str, object]:
        return {
            "account_id": self.claim.account_id,
            "patient_control_number": self.claim.pcn,
            "payer_id": self.payer.payer_id,
            "kind": self.kind,
            "charge": f"{self.charge:.2f}",
            "paid": f"{self.paid:.2f}",
            "status": self.status,
        }
