"""Read models of the case worklist and of one case's evidence (issue 20).

``WorklistFilter`` is the one description of a filtered, sorted, paged view: the API's query
string, the console's URL and ``gateway cases list`` options all parse into it, so the three
surfaces (and the CSV/XLSX exports) show the same cases in the same order.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.read.credits import CaseRead
from gateway.read.types import READ, Money, Timestamp
from schemas.states import CaseState


class CaseSort(enum.StrEnum):
    """Columns the worklist sorts by; ``worklist``: government first, soonest due first."""

    WORKLIST = "worklist"
    CREDIT = "credit"
    PROVIDER = "provider"
    STATE = "state"
    CLAIM = "claim"
    ACCOUNT = "account"
    OWED_TO = "owed_to"
    PAYER = "payer"
    AMOUNT = "amount"
    CAUSE = "cause"
    GOVERNMENT = "government"
    IDENTIFIED_ON = "identified_on"
    DUE_BY = "due_by"
    ASSIGNEE = "assignee"


class WorklistFilter(BaseModel):
    """Which cases, in what order, which page (every field optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str | None = Field(default=None, max_length=80, description="Provider key")
    payer: str | None = Field(default=None, max_length=80)
    cause: str | None = Field(default=None, max_length=32)
    government: bool | None = None
    due_within: int | None = Field(default=None, ge=0, le=3650)
    overdue: bool | None = None
    state: list[CaseState] = Field(default_factory=list, description="Case state(s)")
    amount_min: Decimal | None = Field(default=None, ge=0, le=10**9)
    amount_max: Decimal | None = Field(default=None, ge=0, le=10**9)
    identified_from: dt.date | None = None
    identified_to: dt.date | None = None
    assignee: str | None = Field(
        default=None,
        max_length=64,
        description="Username of the person working the case; `me`: the signed-in person; "
        "`none`: unassigned",
    )
    q: str | None = Field(
        default=None,
        max_length=50,
        description="Account, patient control number (prefix) or payer claim control number",
    )
    sort: CaseSort = CaseSort.WORKLIST
    desc: bool = False
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class ExportFilter(WorklistFilter):
    """A worklist view to export (every page of it): the filters and the file format."""

    format: Literal["csv", "xlsx"] = "csv"


class WorklistRow(CaseRead):
    """A case on the worklist: the case, whose provider it is, and what may be done to it."""

    provider_key: str
    assignee: str | None = Field(default=None, description="Username working the case")
    root_cause: str | None = Field(
        default=None, description="The analyst's root cause (mappings/root_causes.yaml)"
    )
    actions: tuple[str, ...] = Field(
        default=(), description="Actions that apply to this case now (approve, dispute, ...)"
    )


class StateCount(BaseModel):
    model_config = READ

    state: CaseState
    count: int
    amount: Money


class CaseTotals(BaseModel):
    model_config = READ

    count: int
    amount: Money
    overdue_count: int


class CaseList(BaseModel):
    """One page of cases; ``totals`` cover every match, ``states`` every state's count under
    the same filters (state filter aside), so each state is visible with its count."""

    model_config = READ

    items: list[WorklistRow]
    totals: CaseTotals
    states: list[StateCount]
    limit: int
    offset: int


# ---------------------------------------------------------------- case detail


class Row(BaseModel):
    """A generic evidence row (column → value), in stored order."""

    model_config = ConfigDict(frozen=True, extra="allow")


class Adjudication(BaseModel):
    """One 835 CLP of the claim, with its remittance and file, SVC lines and CAS."""

    model_config = READ

    claim_payment_id: int
    payer_id: str
    icn: str
    status_code: str
    charge: Money
    paid: Money
    patient_responsibility: Money | None
    statement_from: dt.date | None
    statement_to: dt.date | None
    trace_number: str
    payment_date: dt.date | None
    production_date: dt.date | None
    file_id: int
    file_name: str
    services: list[dict[str, Any]]
    adjustments: list[dict[str, Any]]


class AttributedCredit(BaseModel):
    """One credit row attribution makes of the claim's balance, in attribution order."""

    model_config = READ

    owed_to: str
    payer_id: str | None
    amount: Money
    cause: str


class Computation(BaseModel):
    """B(c) = charges - W - N - (patient payments - patient refunds) - provider adjustments,
    computed by reconciliation's own model (``gateway.reconcile.explain``); B(c) < 0 is a
    credit of -B(c), attributed as ``attribution`` lists."""

    model_config = READ

    charges: Money
    write_offs: dict[str, Money] = Field(description="W(c,p): counted CAS CO/PI/OA/CR")
    net_payments: dict[str, Money] = Field(
        description="N(c,p): the 835s' CLP04, less PLB recoupments and ledger refunds"
    )
    recoupments: dict[str, Money]
    payer_refunds: dict[str, Money]
    patient_responsibility: Money
    patient_payments: Money
    patient_refunds: Money
    provider_adjustments: Money
    balance: Money
    cob_order: list[str]
    wrongful_primaries: list[str]
    attribution: list[AttributedCredit]


class CaseNoteRead(BaseModel):
    """One analyst's note on a case (``text`` masked for roles without PHI access)."""

    model_config = READ

    id: int
    author: str
    at: Timestamp
    text: str


class CaseDetail(BaseModel):
    """Why the money is owed: everything stored about the case's claim (PHI masked for roles
    without PHI access)."""

    model_config = READ

    case: WorklistRow
    phi_masked: bool
    claim_lines: list[dict[str, Any]]
    adjudications: list[Adjudication]
    recoupments: list[dict[str, Any]]
    ledger: list[dict[str, Any]]
    computation: Computation
    basis: dict[str, Any] | None
    variances: list[dict[str, Any]]
    refund_requests: list[dict[str, Any]]
    documents: list[dict[str, Any]]
    notes: list[CaseNoteRead] = Field(
        default_factory=list, description="Analysts' notes (text masked without PHI access)"
    )


__all__ = [
    "Adjudication",
    "AttributedCredit",
    "CaseDetail",
    "CaseList",
    "CaseNoteRead",
    "CaseSort",
    "CaseTotals",
    "Computation",
    "ExportFilter",
    "Row",
    "StateCount",
    "WorklistFilter",
    "WorklistRow",
]
