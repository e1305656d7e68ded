"""After a batch is issued: cancelling it (its cases return to approved), or putting its
files on the payer's delivery partner's outbound queue and delivering them."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.base import Database
from gateway.db.types import tbl, utcnow
from gateway.errors import InputError
from gateway.outbound.enqueue import add_to_queue
from gateway.outbound.queue import DrainResult, drain
from gateway.outbound.tables import OutboundFile, OutboundState
from gateway.read.batches import BatchRead
from gateway.resolve.batches.records import batch_content
from gateway.resolve.batches.views import get_batch
from gateway.resolve.tables import BatchFile, BatchItem, ResolutionBatch, ResolutionCase
from gateway.resolve.workflow import ISSUED_STATE, CaseState, ResolutionError, transition
from gateway.store.file import FileRawStore
from mappings.partners import PartnerProfile
from schemas.states import BatchState

#: outbound queue rows are tagged with this kind
QUEUE_KIND = "resolution"


def cancel_batch(s: Session, batch_id: int, *, actor: str, reason: str) -> BatchRead:
    """Withdraw an undelivered batch: its cases go back to approved (audited), queue rows stop."""
    batch = get_batch(s, batch_id)
    if batch.state == BatchState.CANCELLED:
        raise ResolutionError(
            f"batch {batch.batch_key} is already cancelled", code="batch_cancelled"
        )
    if any(f.delivery_state == OutboundState.DELIVERED.value for f in batch.files):
        raise ResolutionError(
            f"batch {batch.batch_key} was already delivered to the payer; "
            "it cannot be cancelled (ask the payer to disregard it and "
            "resolve or reopen its cases)",
            code="batch_delivered",
        )
    if len((reason or "").strip()) < 3:
        raise InputError("a reason is required to cancel a batch", code="reason_required")
    bt, it, ot, rc = tbl(ResolutionBatch), tbl(BatchItem), tbl(OutboundFile), tbl(ResolutionCase)
    s.execute(
        update(bt)
        .where(bt.c.id == batch_id)
        .values(state="cancelled", cancelled_at=utcnow(), cancel_reason=reason.strip()[:1000])
    )
    s.execute(update(it).where(it.c.batch_id == batch_id).values(cancelled=True))
    queued = [f.outbound_id for f in batch.files if f.outbound_id is not None]
    if queued:
        s.execute(
            update(ot)
            .where(
                ot.c.id.in_(queued),
                ot.c.state.in_((OutboundState.QUEUED.value, OutboundState.FAILED.value)),
            )
            .values(
                state=OutboundState.FAILED.value,
                last_error_code="batch_cancelled",
                last_error_message=f"batch {batch.batch_key} cancelled: {reason.strip()[:200]}",
            )
        )
    issued = {st.value for st in ISSUED_STATE.values()}
    for credit_id, state in s.execute(
        select(rc.c.credit_id, rc.c.state).where(rc.c.credit_id.in_(batch.credit_ids))
    ).all():
        if state in issued:
            transition(
                s,
                credit_id,
                CaseState.APPROVED,
                actor=actor,
                reason=f"batch {batch.batch_key} cancelled: {reason.strip()}",
                details={"batch_id": batch_id},
            )
    audit.record(
        s,
        actor=actor,
        action="batch_cancelled",
        outcome="cancelled",
        reason=reason.strip(),
        details={"batch_id": batch_id},
    )
    return get_batch(s, batch_id)


def queue_batch(
    db: Database,
    store: FileRawStore,
    batch_id: int,
    *,
    profiles: Mapping[str, PartnerProfile],
    actor: str,
) -> tuple[BatchRead, list[int]]:
    """Put every file of a batch on its partner's outbound queue (idempotent)."""
    with db.read() as s:
        batch = get_batch(s, batch_id)
        content = batch_content(s, batch_id)
    if batch.state == BatchState.CANCELLED:
        raise ResolutionError(f"batch {batch.batch_key} is cancelled", code="batch_cancelled")
    if batch.kind == "patient_refunds":
        raise ResolutionError(
            f"batch {batch.batch_key} is a patient refund list for the "
            "provider's AP system; export it (`gateway batches export`)",
            code="not_for_payer",
        )
    if not batch.partner_id:
        raise ResolutionError(
            f"payer {batch.payer_id} has no outbound.delivery_partner in its profile; batch "
            f"{batch.batch_key} stays issued (export it with `gateway batches export`, or add "
            "the partner and deliver again)",
            code="no_delivery_partner",
        )
    profile = profiles.get(batch.partner_id)
    if profile is None or profile.outbound_dir is None:
        raise ResolutionError(
            f"delivery partner {batch.partner_id!r} is not configured and enabled (see "
            "mappings/partners, GATEWAY_PARTNERS_DIR); batch stays issued",
            code="partner_not_configured",
        )
    blobs = {name: store.put(io.BytesIO(data)) for name, data in content.items()}
    ids: list[int] = []
    ft = tbl(BatchFile)
    with db.write() as s:
        for name, blob in blobs.items():
            q = add_to_queue(
                s, profile.id, profile.outbound_dir, name, blob.sha256, blob.size, QUEUE_KIND, None
            )
            ids.append(q.id)
            s.execute(
                update(ft)
                .where(ft.c.batch_id == batch_id, ft.c.name == name)
                .values(outbound_file_id=q.id)
            )
        audit.record(
            s,
            actor=actor,
            action="batch_queued",
            outcome="queued",
            reason=f"batch {batch.batch_key} to {profile.id}",
            details={"batch_id": batch_id, "outbound_ids": ids},
        )
    with db.read() as s:
        return get_batch(s, batch_id), ids


def deliver_batch(
    db: Database,
    store: FileRawStore,
    batch_id: int,
    *,
    profiles: Mapping[str, PartnerProfile],
    actor: str,
    now: bool = True,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> tuple[BatchRead, DrainResult]:
    """Queue the batch and (``now``) deliver it at once; undeliverable files stay queued."""
    batch, ids = queue_batch(db, store, batch_id, profiles=profiles, actor=actor)
    result = DrainResult()
    if now and batch.partner_id:
        result = drain(
            db,
            store,
            {batch.partner_id: profiles[batch.partner_id]},
            owner=f"batch-{batch_id}",
            environ=environ,
            stop=stop,
            only_ids=ids,
        )
    with db.read() as s:
        return get_batch(s, batch_id), result


__all__ = ["cancel_batch", "deliver_batch", "queue_batch"]
