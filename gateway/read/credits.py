"""Read models of a credit balance and of its resolution case.

The credit's own fields are declared once (``CreditFields``); the worklist's ``CreditRead``
and the case's ``CaseRead`` extend it, so the CLI, the API and the console print the same
names for the same facts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, computed_field, field_serializer

from gateway.read.types import READ, Money, Timestamp
from schemas.states import UNVERIFIED_MEDICARE_PAYER, CaseState, CreditStatus

CENT = Decimal("0.01")

#: case states whose money is still with the provider (worklists, overdue warnings)
ACTIVE_CASE_STATES = frozenset(
    {CaseState.OPEN, CaseState.APPROVED, CaseState.DISPUTED, CaseState.ESCHEAT_PENDING}
)


class CreditFields(BaseModel):
    """What a credit balance is: whose money, how much, why, and by when it must go back."""

    model_config = READ

    provider_id: int
    account_id: str | None
    patient_control_number: str
    owed_to: str = Field(description="payer | patient | unknown")
    payer_id: str | None
    amount: Money = Field(description="Decimal string, 2 places")
    cause: str
    government: bool
    identified_on: dt.date
    due_by: dt.date | None
    medicare_part: str | None = Field(default=None, description="A or B: Medicare's money")
    return_method: str | None = Field(
        default=None,
        description="How it was or will be returned: report (CMS-838), "
        "claim_adjustment, refund; null while its owner is unknown",
    )


def credit_fields(r: Any) -> dict[str, Any]:
    """The ``CreditFields`` of a database row of ``credits`` (money quantized, blanks as None)."""
    return {
        "provider_id": r.provider_id,
        "account_id": r.account_id,
        "patient_control_number": r.patient_control_number,
        "owed_to": r.owed_to,
        "payer_id": r.payer_id or None,
        "amount": Decimal(r.amount).quantize(CENT),
        "cause": r.cause,
        "government": bool(r.government),
        "identified_on": r.identified_on,
        "due_by": r.due_by,
        "medicare_part": r.medicare_part,
        "return_method": r.return_method,
    }


class CreditRead(CreditFields):
    """A credit on the worklist (``gateway credits --json``, ``GET /v1/credits``)."""

    id: int
    status: CreditStatus
    pending_until: dt.date | None = None
    resolved_on: dt.date | None = None
    resolution: str | None = None
    deadline_days: int | None = None
    pending_reason: str | None = None
    claim_kind: str = ""
    medicare_verified: bool | None = Field(default=None, exclude=True)
    days_left: int | None = Field(
        default=None, description="Days until due_by from today (negative: overdue)"
    )

    @field_serializer("claim_kind")
    def _claim_kind(self, value: str) -> str | None:
        return value or None

    @computed_field(  # type: ignore[prop-decorator]
        description="unverified_medicare_payer: Medicare by the claim's filing "
        "indicator (CLP06/SBR09), but the payer is not a known Medicare contractor"
    )
    @property
    def warnings(self) -> list[str]:
        return (
            [UNVERIFIED_MEDICARE_PAYER]
            if self.medicare_part and self.medicare_verified is False
            else []
        )


class TransitionRead(BaseModel):
    """One audited move of a case."""

    model_config = READ

    from_state: CaseState | None = Field(serialization_alias="from")
    to_state: CaseState = Field(serialization_alias="to")
    actor: str
    at: Timestamp
    reason: str
    details: dict[str, Any] | None


class CaseRead(CreditFields):
    """A case with the credit it is about (worklists, ``gateway cases --json``, the API's
    action answers). ``days_left`` and ``overdue`` count from ``on(day)`` (default today)."""

    case_id: int
    credit_id: int
    provider_npi: str | None
    state: CaseState
    method: str | None
    reference: str | None
    approved_by: str | None
    credit_status: CreditStatus
    investigation_opened_on: dt.date | None
    investigation_closed_on: dt.date | None
    #: the most days the recorded investigation suspends the deadline (0: it does not move)
    investigation_days: int | None = None
    history: tuple[TransitionRead, ...] = ()
    _today: dt.date | None = PrivateAttr(default=None)

    def on(self, day: dt.date) -> CaseRead:
        """This case with ``days_left``/``overdue`` counted from ``day``."""
        out = self.model_copy()
        out._today = day
        return out

    def days_left(self, today: dt.date) -> int | None:
        return (self.due_by - today).days if self.due_by else None

    def overdue(self, today: dt.date) -> bool:
        return self.due_by is not None and self.due_by < today and self.state in ACTIVE_CASE_STATES

    @computed_field(  # type: ignore[prop-decorator]
        alias="days_left", description="Days until due_by (negative: overdue)"
    )
    @property
    def days_left_now(self) -> int | None:
        return self.days_left(self._today or dt.date.today())

    @computed_field(alias="overdue")  # type: ignore[prop-decorator]
    @property
    def overdue_now(self) -> bool:
        return self.overdue(self._today or dt.date.today())


__all__ = [
    "ACTIVE_CASE_STATES",
    "CaseRead",
    "CreditFields",
    "CreditRead",
    "TransitionRead",
]
