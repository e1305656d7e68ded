"""Response and request models of the API (what OpenAPI documents)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without a zone; they are UTC (``utcnow``)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


#: a timestamp that always serialises with its offset, as OpenAPI ``date-time`` requires
#: (found by the schemathesis campaign: naive SQLite timestamps broke the documented schema)
UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]


class Page(BaseModel, Generic[T]):
    """One page of a list; ``total`` counts every match of the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


class UploadResult(BaseModel):
    id: int = Field(description="File id in the registry")
    state: str = Field(description="received | processing | processed | failed")
    duplicate: bool = Field(description="True when these exact bytes were already registered")
    sha256: str
    size: int
    kind: str = Field(description="What sniffing found: 835, 837, x12 or ledger")


class FileSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str
    size: int
    source: str
    original_name: str
    kind: str
    state: str
    attempts: int
    claim_count: int
    error_code: str | None
    received_at: UtcDatetime
    processed_at: UtcDatetime | None
    provider_id: int | None


class FileEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_state: str | None
    to_state: str
    at: UtcDatetime
    actor: str
    reason: str


class FileDetail(FileSummary):
    error_message: str | None
    error_location: dict[str, Any] | None
    findings: list[dict[str, Any]]
    provider_key: str | None
    history: list[FileEventOut]
    resend_of: list[int] = Field(
        default_factory=list,
        description="Files whose 835 transactions this file re-sends: "
        "its claim payments were already loaded there and are not counted again",
    )
    resent_by: list[int] = Field(
        default_factory=list, description="Files that re-send this file's 835 transactions"
    )


class FailureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    original_name: str
    source: str
    kind: str
    received_at: UtcDatetime
    attempts: int
    error_code: str | None
    error_message: str | None
    error_location: dict[str, Any] | None


class ReplayRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log")
    force: bool = Field(
        default=False,
        description="Accept a repeated interchange control number or a "
        "conflicting remittance this time",
    )


class ReplayResult(BaseModel):
    id: int
    previous_state: str
    state: str = Field(description="received: queued for the workers")


class AckOut(BaseModel):
    kind: str = Field(description="TA1 or 999")
    status: str = Field(description="TA104 or AK901 (A, E, R, ...)")
    note: str
    interchange_control_number: str
    group_control_number: str
    control_number: int
    content: str = Field(description="The acknowledgment interchange, X12 text")


class AcksOut(BaseModel):
    file_id: int
    acknowledgments: list[AckOut]


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    name: str
    role: str
    provider_key: str | None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None
    last_used_at: UtcDatetime | None


class WhoAmI(BaseModel):
    key_id: str
    name: str
    role: str
    provider_key: str | None


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: UtcDatetime
    actor: str
    action: str
    file_id: int | None
    outcome: str
    reason: str
    details: dict[str, Any] | None


class Health(BaseModel):
    status: str
    schema_revision: str | None = None
    detail: str | None = None
