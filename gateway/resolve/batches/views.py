"""A batch as its read model (``gateway.read.batches``): its files with their delivery state
on the outbound queue and their receipts, and the batch's delivery summarised from them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.errors import NotFoundError
from gateway.outbound.tables import DeliveryReceipt, OutboundFile, OutboundState
from gateway.read.batches import BatchFileRead, BatchRead, ReceiptRead
from gateway.resolve.documents import CENT
from gateway.resolve.tables import BatchFile, BatchItem, ResolutionBatch, ResolutionCase
from schemas.states import BatchDelivery, BatchState


def _delivery(files: tuple[BatchFileRead, ...], state: str) -> BatchDelivery:
    if state == BatchState.CANCELLED:
        return BatchDelivery.CANCELLED
    states = [f.delivery_state for f in files]
    if not files or all(st is None for st in states):
        return BatchDelivery.NOT_QUEUED
    if all(st == OutboundState.DELIVERED for st in states):
        return BatchDelivery.DELIVERED
    if any(st == OutboundState.FAILED for st in states):
        return BatchDelivery.FAILED
    return BatchDelivery.QUEUED


def get_batch(s: Session, batch_id: int, *, files: bool = True) -> BatchRead:
    bt, pt = tbl(ResolutionBatch), tbl(Provider)
    row = s.execute(
        select(bt, pt.c.npi).join(pt, pt.c.id == bt.c.provider_id).where(bt.c.id == batch_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no batch with id {batch_id}", code="batch_not_found")
    return _batch_view(s, row, files)


def _batch_view(s: Session, row: Any, with_files: bool) -> BatchRead:
    ft, ot, dr, it = tbl(BatchFile), tbl(OutboundFile), tbl(DeliveryReceipt), tbl(BatchItem)
    fviews: list[BatchFileRead] = []
    for f in s.execute(
        select(
            ft.c.name,
            ft.c.role,
            ft.c.sha256,
            ft.c.size,
            ft.c.record_count,
            ft.c.amount_sum,
            ft.c.outbound_file_id,
            ot.c.state,
            ot.c.last_error_message,
        )
        .select_from(ft.outerjoin(ot, ot.c.id == ft.c.outbound_file_id))
        .where(ft.c.batch_id == row.id)
        .order_by(ft.c.id)
    ):
        receipt = None
        if f.outbound_file_id is not None:
            rec = s.execute(
                select(dr)
                .where(dr.c.outbound_file_id == f.outbound_file_id)
                .order_by(dr.c.id)
                .limit(1)
            ).first()
            if rec is not None:
                receipt = ReceiptRead(
                    partner_id=rec.partner_id,
                    remote_path=rec.remote_path,
                    size=rec.size,
                    sha256=rec.sha256,
                    delivered_at=rec.delivered_at,
                )
        fviews.append(
            BatchFileRead(
                name=f.name,
                role=f.role,
                sha256=f.sha256,
                size=f.size,
                record_count=f.record_count,
                amount_sum=Decimal(f.amount_sum).quantize(CENT),
                outbound_id=f.outbound_file_id,
                delivery_state=f.state,
                last_error=f.last_error_message,
                receipt=receipt,
            )
        )
    rc = tbl(ResolutionCase)
    credit_ids = tuple(
        int(r[0])
        for r in s.execute(
            select(rc.c.credit_id)
            .join(it, it.c.case_id == rc.c.id)
            .where(it.c.batch_id == row.id)
            .order_by(it.c.line)
        )
    )
    files = tuple(fviews)
    return BatchRead(
        id=row.id,
        batch_key=row.batch_key,
        provider_id=row.provider_id,
        provider_npi=row.npi,
        payer_id=row.payer_id,
        kind=row.kind,
        msp=bool(row.msp),
        state=row.state,
        delivery=_delivery(files, row.state),
        as_of=row.as_of,
        reference=row.reference,
        partner_id=row.partner_id,
        record_count=row.record_count,
        amount=Decimal(row.amount).quantize(CENT),
        created_by=row.created_by,
        created_at=row.created_at,
        credit_ids=credit_ids,
        files=files if with_files else (),
    )


def list_batches(
    s: Session, *, provider_id: int | None = None, kind: str | None = None, limit: int = 500
) -> list[BatchRead]:
    bt, pt = tbl(ResolutionBatch), tbl(Provider)
    stmt = select(bt, pt.c.npi).join(pt, pt.c.id == bt.c.provider_id).order_by(bt.c.id.desc())
    if provider_id is not None:
        stmt = stmt.where(bt.c.provider_id == provider_id)
    if kind is not None:
        stmt = stmt.where(bt.c.kind == kind)
    return [_batch_view(s, r, True) for r in s.execute(stmt.limit(limit))]


__all__ = ["get_batch", "list_batches"]
