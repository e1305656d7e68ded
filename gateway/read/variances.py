"""Read models of the posting variances (ledger vs 835) and of the line variances (a billed
line without a posted charge) that wait for an analyst's answer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field, computed_field

from gateway.read.types import READ, Money
from schemas.states import LINE_DECISIONS


class VarianceRead(BaseModel):
    """A claim whose ledger postings and 835 payments disagree."""

    model_config = READ

    kind: str = Field(
        description="unposted_payment | posted_twice | wrong_amount | posted_without_remittance"
    )
    provider_id: int
    account_id: str | None
    patient_control_number: str
    payer_id: str
    posted: Money
    remitted: Money
    difference: Money
    postings: int
    detected_on: dt.date


class VarianceLineRead(BaseModel):
    """One billed line of a line variance (as stored with it)."""

    model_config = READ

    procedure: str | None = None
    revenue_code: str | None = None
    service_date: dt.date | None = None
    charge: Decimal
    paid: Decimal
    line_ref: str | None = None


class TransferCandidateRead(BaseModel):
    """A charge on another account that may be the missing line (an answer of ``transfer``)."""

    model_config = READ

    account_id: str
    patient_control_number: str
    posted_date: dt.date
    amount: Money
    line_ref: str | None
    procedure: str
    service_date: dt.date


class LineVarianceRead(BaseModel):
    """An uncharged billed line (``unposted_line``) or unmatched charges (``charge_mismatch``),
    with what the analyst can answer and, for a transfer, the charges that may be its."""

    model_config = READ

    id: int
    kind: str = Field(description="unposted_line | charge_mismatch")
    provider_id: int
    account_id: str | None
    patient_control_number: str
    payer_id: str
    status: str = Field(description="open | resolved | cleared")
    resolution: str | None = Field(description="missed | transfer | billed_in_error")
    resolved_by: str | None
    reason: str
    charge: Money
    paid: Money
    lines: list[VarianceLineRead]
    candidates: list[TransferCandidateRead]
    detected_on: dt.date
    group_key: str = Field(default="", exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def choices(self) -> list[str]:
        return list(LINE_DECISIONS) if self.group_key and self.status == "open" else []


class ExceptionRead(BaseModel):
    """A claim that reconciliation cannot fully account for (not a credit)."""

    model_config = READ

    kind: str = Field(description="unmatched_remittance | no_remittance | payment_without_charges")
    provider_id: int
    patient_control_number: str
    account_id: str | None
    payer_id: str | None
    amount: Money
    since: dt.date | None
    #: payment_without_charges on a claim: the day its payments become pending credits
    until: dt.date | None = None


__all__ = [
    "ExceptionRead",
    "LineVarianceRead",
    "TransferCandidateRead",
    "VarianceLineRead",
    "VarianceRead",
]
