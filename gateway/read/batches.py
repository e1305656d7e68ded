"""Read models of a resolution batch: its files with control totals, delivery and receipts,
and the groups that could not be issued."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field, field_serializer

from gateway.read.types import READ, Money, Timestamp
from schemas.states import BatchDelivery, BatchState, OutboundState


class ReceiptRead(BaseModel):
    """The partner's side of a delivered file (what was written where, and its hash)."""

    model_config = READ

    partner_id: str
    remote_path: str
    size: int
    sha256: str
    delivered_at: Timestamp


class BatchFileRead(BaseModel):
    """One file of a batch (the payer file, its control report...)."""

    model_config = READ

    name: str
    role: str
    sha256: str
    size: int
    record_count: int
    amount_sum: Money
    outbound_id: int | None
    delivery_state: OutboundState | None
    last_error: str | None
    receipt: ReceiptRead | None


class BatchRead(BaseModel):
    """A batch (``gateway batches --json``, ``GET /v1/batches``)."""

    model_config = READ

    id: int
    batch_key: str
    provider_id: int
    provider_npi: str | None
    payer_id: str
    kind: str = Field(description="refund_transmittal | offset | patient_refunds | dispute")
    msp: bool
    state: BatchState
    delivery: BatchDelivery
    as_of: dt.date
    reference: str
    partner_id: str | None
    record_count: int
    amount: Money
    created_by: str
    created_at: Timestamp
    credit_ids: tuple[int, ...] = ()
    files: tuple[BatchFileRead, ...] = ()

    @field_serializer("payer_id")
    def _payer(self, value: str) -> str | None:
        return value or None  # a dispute batch has no single payer


class BatchProblemRead(BaseModel):
    """A group that could not be issued (its cases stay approved)."""

    model_config = READ

    provider_id: int
    payer_id: str
    kind: str
    credit_ids: tuple[int, ...]
    code: str
    message: str


class BatchesCreatedRead(BaseModel):
    """What one ``POST /v1/batches`` issued, and the groups it could not issue."""

    model_config = READ

    batches: tuple[BatchRead, ...] = ()
    problems: tuple[BatchProblemRead, ...] = ()


__all__ = ["BatchFileRead", "BatchProblemRead", "BatchRead", "BatchesCreatedRead", "ReceiptRead"]
