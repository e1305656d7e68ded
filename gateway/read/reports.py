"""Read models of the reports: open credits grouped (root cause and aging) and the CMS-838
preview."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from gateway.read.types import READ, Money


class ReportRowRead(BaseModel):
    """One group of open credits: its key, how many, how much."""

    model_config = READ

    key: str
    count: int
    amount: Money


class CreditReportRead(BaseModel):
    """``GET /v1/reports/credits``: open credits grouped by one section."""

    model_config = READ

    as_of: dt.date
    by: str
    rows: list[ReportRowRead]


class Cms838WarningRead(BaseModel):
    """Something about a credit the person filing the CMS-838 must look at."""

    model_config = READ

    code: str = Field(
        description="pending_credit | unverified_medicare_payer | owner_unknown | claim_adjustment"
    )
    message: str
    credit_id: int | None = None
    patient_control_number: str | None = None
    payer_id: str | None = None


class Cms838Read(BaseModel):
    """One provider number's CMS-838 for one quarter (the preview ``GET /v1/reports/cms838``
    and ``gateway report cms838 --json`` print)."""

    model_config = READ

    provider_number: str | None
    provider_name: str | None
    ptan: str | None
    npis: list[str]
    provider_ids: list[int]
    provider_id: int
    provider_npi: str | None
    quarter: str
    quarter_ended: dt.date
    certification: dict[str, Any]
    missing_fields: list[str]
    record_count: int
    amount: Money
    part_a: list[dict[str, Any]]
    part_b: list[dict[str, Any]]
    warnings: list[Cms838WarningRead]
    beneficiary_names_missing: int
    files: list[str]


__all__ = ["Cms838Read", "Cms838WarningRead", "CreditReportRead", "ReportRowRead"]
