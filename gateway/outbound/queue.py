"""The outbound queue: files waiting for delivery to a partner, drained by workers.

``gateway.outbound.enqueue`` stores the bytes in the outbound blob store and adds a ``queued``
row, idempotently. ``drain`` claims due rows one at a time under a lease (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; on SQLite the ``BEGIN IMMEDIATE`` write lock serialises claims) and
delivers each with ``deliver_file``. A worker that dies mid-delivery leaves a ``delivering``
row whose lease expires; the next claim resumes it, and ``deliver_file``'s receipt and remote
checks make the resumption converge without a second copy at the partner.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.base import Database
from gateway.db.types import utcnow
from gateway.errors import GatewayError, TransientError
from gateway.logging import get_logger
from gateway.outbound.deliver import DeliveryResult, deliver_file
from gateway.outbound.receipts import DbDeliveryLedger, DbFailureLog
from gateway.outbound.tables import OutboundFile, OutboundState
from gateway.sftp import PollCancelledError, report_failure
from gateway.store.file import FileRawStore
from mappings.partners import PartnerProfile

log = get_logger("gateway.outbound")

#: deliveries of one file that ended in a transient failure before it is marked failed
MAX_ATTEMPTS = 12
#: delay before the n-th retry of a queued delivery: BASE·2^(n-1), capped
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
LEASE_SECONDS = 600.0
#: error codes ``deliver_file`` raises before it touches the partner's server
LOCAL_FAILURES = frozenset(
    {"input_error", "config_error", "outbound_blob_mismatch", "raw_not_found"}
)


def _due(at: dt.datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboundFile.state == OutboundState.QUEUED.value, OutboundFile.next_attempt_at <= at),
        and_(
            OutboundFile.state == OutboundState.DELIVERING.value, OutboundFile.lease_expires_at < at
        ),
    )


def claim_next(
    db: Database,
    owner: str,
    partner_ids: list[str],
    *,
    lease_seconds: float = LEASE_SECONDS,
    only_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """Take the oldest due row of these partners under a lease; None when nothing is due."""
    if not partner_ids:
        return None
    at = now or utcnow()
    due = _due(at)
    pick = select(OutboundFile.id).where(OutboundFile.partner_id.in_(partner_ids), due)
    if only_ids is not None:
        pick = pick.where(OutboundFile.id.in_(only_ids))
    with db.read() as s:  # the common case, nothing due, takes no write lock
        if s.execute(pick.limit(1)).first() is None:
            return None
    pick = pick.order_by(OutboundFile.id).limit(1).with_for_update(skip_locked=True)
    with db.write() as s:
        row_id = s.execute(pick).scalar_one_or_none()
        if row_id is None:
            return None
        done = s.execute(
            update(OutboundFile)
            .where(OutboundFile.id == row_id, due)
            .values(
                state=OutboundState.DELIVERING.value,
                lease_owner=owner[:128],
                lease_expires_at=at + dt.timedelta(seconds=lease_seconds),
                attempts=OutboundFile.attempts + 1,
            )
        )
        return row_id if done.rowcount == 1 else None  # type: ignore[attr-defined]


@dataclass
class DrainResult:
    delivered: list[DeliveryResult] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (id, code, message)


def retry_delay(attempts: int) -> float:
    return float(min(RETRY_BASE_SECONDS * 2.0 ** max(0, attempts - 1), RETRY_MAX_SECONDS))


def deliver_one(
    db: Database,
    store: FileRawStore,
    profile: PartnerProfile,
    outbound_id: int,
    *,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    result: DrainResult | None = None,
) -> None:
    """Deliver one claimed row; afterwards it is delivered, re-queued for later, or failed."""
    out = result if result is not None else DrainResult()
    with db.read() as s:
        row = s.execute(select(OutboundFile).where(OutboundFile.id == outbound_id)).scalar_one()
    failures = DbFailureLog(db)
    try:
        local = store.path_for(row.sha256)
        res = deliver_file(
            profile,
            local,
            ledger=DbDeliveryLedger(db, row.id),
            failures=failures,
            remote_dir=row.remote_dir,
            remote_name=row.remote_name,
            environ=environ,
            stop=stop,
            expected=(row.size, row.sha256),
        )
    except PollCancelledError:
        _requeue(db, row.id, row.attempts, None, None, delay=0.0)
        return
    except TransientError as exc:
        if row.attempts >= MAX_ATTEMPTS:
            _fail(db, row.id, exc)
            out.failed.append((row.id, exc.code, exc.message))
        else:
            _requeue(
                db, row.id, row.attempts, exc.code, exc.message, delay=retry_delay(row.attempts)
            )
            out.retrying.append(row.id)
        return
    except GatewayError as exc:
        if exc.code in LOCAL_FAILURES:  # raised before any remote step: not recorded yet
            report_failure(
                profile,
                "deliver",
                exc,
                failures=failures,
                remote_path=f"{row.remote_dir}/{row.remote_name}",
            )
        _fail(db, row.id, exc)
        out.failed.append((row.id, exc.code, exc.message))
        return
    if res.already_delivered:
        # an earlier run delivered and recorded it but died before updating the row
        DbDeliveryLedger(db, row.id).record(res.receipt)
    out.delivered.append(res)


def _requeue(
    db: Database, row_id: int, attempts: int, code: str | None, message: str | None, *, delay: float
) -> None:
    with db.write() as s:
        s.execute(
            update(OutboundFile)
            .where(OutboundFile.id == row_id)
            .values(
                state=OutboundState.QUEUED.value,
                lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
                attempts=attempts if code is not None else max(0, attempts - 1),
                last_error_code=code,
                last_error_message=message,
            )
        )


def _fail(db: Database, row_id: int, exc: GatewayError) -> None:
    with db.write() as s:
        s.execute(
            update(OutboundFile)
            .where(OutboundFile.id == row_id)
            .values(
                state=OutboundState.FAILED.value,
                lease_owner=None,
                lease_expires_at=None,
                last_error_code=exc.code[:64],
                last_error_message=exc.message,
            )
        )


def drain(
    db: Database,
    store: FileRawStore,
    profiles: Mapping[str, PartnerProfile],
    *,
    owner: str,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    only_ids: list[int] | None = None,
    max_files: int | None = None,
) -> DrainResult:
    """Deliver every due queued file of the configured partners (one at a time)."""
    result = DrainResult()
    partner_ids = [p.id for p in profiles.values()]
    handled = 0
    while not (stop is not None and stop.is_set()):
        if max_files is not None and handled >= max_files:
            break
        row_id = claim_next(db, owner, partner_ids, only_ids=only_ids)
        if row_id is None:
            break
        with db.read() as s:
            partner_id = s.execute(
                select(OutboundFile.partner_id).where(OutboundFile.id == row_id)
            ).scalar_one()
        deliver_one(
            db, store, profiles[partner_id], row_id, environ=environ, stop=stop, result=result
        )
        handled += 1
    return result


def requeue_failed(db: Database, ids: list[int]) -> int:
    """Put failed rows back in the queue (an operator fixed the cause)."""
    with db.write() as s:
        res = s.execute(
            update(OutboundFile)
            .where(OutboundFile.id.in_(ids), OutboundFile.state == OutboundState.FAILED.value)
            .values(state=OutboundState.QUEUED.value, attempts=0, next_attempt_at=utcnow())
        )
        return int(res.rowcount or 0)  # type: ignore[attr-defined]


def queue_rows(
    db: Database, *, states: list[str] | None = None, partner_id: str | None = None
) -> list[OutboundFile]:
    stmt = select(OutboundFile).order_by(OutboundFile.id)
    if states:
        stmt = stmt.where(OutboundFile.state.in_(states))
    if partner_id is not None:
        stmt = stmt.where(OutboundFile.partner_id == partner_id)
    with db.read() as s:
        return list(s.execute(stmt).scalars())


__all__ = [
    "MAX_ATTEMPTS",
    "DrainResult",
    "claim_next",
    "deliver_one",
    "drain",
    "queue_rows",
    "requeue_failed",
    "retry_delay",
]
