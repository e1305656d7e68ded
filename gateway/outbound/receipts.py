"""Delivery receipts and transfer failures, kept in the database.

``DeliveryLedger`` is the port ``deliver_file`` asks "delivered already?" and tells "delivered
now". ``DbDeliveryLedger`` answers from ``delivery_receipts`` and, when it delivers a queued
file, writes the receipt and marks the queue row delivered in ONE transaction: a crash leaves
either both or neither, and "neither" is repaired by the next attempt finding the identical
remote file (see ``deliver``). ``DbFailureLog`` is the ``FailureSink`` of the SFTP adapter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.db.base import Database
from gateway.db.types import tbl, utcnow
from gateway.logging import get_logger
from gateway.outbound.tables import DeliveryReceipt, OutboundFile, OutboundState, TransferFailure

if TYPE_CHECKING:  # paramiko behind it: reading the failure ledger needs no SFTP
    from gateway.sftp import FailureRecord

log = get_logger("gateway.outbound")

#: operations of the delivery side; everything else a partner fails at is intake
OUTBOUND_OPERATIONS = frozenset({"deliver", "send_ack", "upload", "rename", "stat"})


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one delivery: which partner, where, how many bytes, which content, when."""

    partner_id: str
    remote_path: str
    size: int
    sha256: str
    delivered_at: dt.datetime = field(default_factory=utcnow)


class DeliveryLedger(Protocol):
    def already_delivered(self, partner_id: str, sha256: str, remote_name: str) -> Receipt | None:
        """The receipt for this content at this remote path (``remote_name``), if any."""

    def record(self, receipt: Receipt) -> None:
        """Persist a receipt durably before returning."""


def insert_ignore(
    session: Session, table: Table, values: Mapping[str, Any], conflict: list[str]
) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id; None when the row already existed."""
    dialect = session.get_bind().dialect.name
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = (
            postgresql.insert(table)
            .values(dict(values))
            .on_conflict_do_nothing(index_elements=conflict)
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(table)
            .values(dict(values))
            .on_conflict_do_nothing(index_elements=conflict)
        )
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(dialect)
    value = session.execute(stmt.returning(table.c.id)).scalar_one_or_none()
    return int(value) if value is not None else None


def _receipt(row: DeliveryReceipt) -> Receipt:
    return Receipt(row.partner_id, row.remote_path, row.size, row.sha256, row.delivered_at)


class DbDeliveryLedger:
    """Receipts in ``delivery_receipts``; ``outbound_id`` ties them to a queue row."""

    def __init__(self, db: Database, outbound_id: int | None = None) -> None:
        self.db = db
        self.outbound_id = outbound_id

    def already_delivered(self, partner_id: str, sha256: str, remote_name: str) -> Receipt | None:
        with self.db.read() as s:
            row = s.execute(
                select(DeliveryReceipt).where(
                    DeliveryReceipt.partner_id == partner_id,
                    DeliveryReceipt.sha256 == sha256,
                    DeliveryReceipt.remote_path == remote_name,
                )
            ).scalar_one_or_none()
            return _receipt(row) if row is not None else None

    def record(self, receipt: Receipt) -> None:
        with self.db.write() as s:
            insert_ignore(
                s,
                tbl(DeliveryReceipt),
                {
                    "partner_id": receipt.partner_id,
                    "remote_path": receipt.remote_path,
                    "size": receipt.size,
                    "sha256": receipt.sha256,
                    "delivered_at": receipt.delivered_at,
                    "outbound_file_id": self.outbound_id,
                },
                ["partner_id", "sha256", "remote_path"],
            )
            if self.outbound_id is not None:
                s.execute(
                    update(OutboundFile)
                    .where(OutboundFile.id == self.outbound_id)
                    .values(
                        state=OutboundState.DELIVERED.value,
                        delivered_at=receipt.delivered_at,
                        lease_owner=None,
                        lease_expires_at=None,
                        last_error_code=None,
                        last_error_message=None,
                    )
                )
            # a delivery that went through settles earlier failures for the same target
            s.execute(
                update(TransferFailure)
                .where(
                    TransferFailure.partner_id == receipt.partner_id,
                    TransferFailure.remote_path == receipt.remote_path,
                    TransferFailure.resolved.is_(False),
                )
                .values(resolved=True, resolved_at=utcnow())
            )
            if self.outbound_id is not None:  # outbox: the same transaction as the delivery
                from gateway.webhooks import events as webhook_events  # the outbox, when used

                webhook_events.batch_delivered(s, self.outbound_id)

    def receipts(self, partner_id: str | None = None) -> list[Receipt]:
        with self.db.read() as s:
            stmt = select(DeliveryReceipt).order_by(DeliveryReceipt.id)
            if partner_id is not None:
                stmt = stmt.where(DeliveryReceipt.partner_id == partner_id)
            return [_receipt(r) for r in s.execute(stmt).scalars()]


def direction_of(operation: str) -> str:
    return "outbound" if operation in OUTBOUND_OPERATIONS else "inbound"


class DbFailureLog:
    """The SFTP adapter's failure sink, writing ``transfer_failures`` rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record_failure(self, failure: FailureRecord) -> None:
        with self.db.write() as s:
            s.execute(
                tbl(TransferFailure)
                .insert()
                .values(
                    partner_id=failure.partner_id[:64],
                    direction=direction_of(failure.operation),
                    operation=failure.operation[:32],
                    error_code=failure.code[:64],
                    message=failure.reason,
                    remote_path=failure.remote_path,
                    at=failure.at,
                    resolved=False,
                )
            )

    def read(
        self, *, include_resolved: bool = True, partner_id: str | None = None
    ) -> list[TransferFailure]:
        return transfer_failures(self.db, include_resolved=include_resolved, partner_id=partner_id)


def transfer_failures(
    db: Database,
    *,
    include_resolved: bool = False,
    partner_id: str | None = None,
    since: dt.date | None = None,
) -> list[TransferFailure]:
    """Failure records, oldest first (unresolved only unless asked)."""
    stmt = select(TransferFailure).order_by(TransferFailure.id)
    if not include_resolved:
        stmt = stmt.where(TransferFailure.resolved.is_(False))
    if partner_id is not None:
        stmt = stmt.where(TransferFailure.partner_id == partner_id)
    if since is not None:
        stmt = stmt.where(
            TransferFailure.at >= dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        )
    with db.read() as s:
        return list(s.execute(stmt).scalars())


def count_transfer_failures(db: Database) -> int:
    """How many failure records are unresolved: ``len(transfer_failures(db))`` as one Core
    count (no ORM mapper configured for a number)."""
    ft = tbl(TransferFailure)
    stmt = select(func.count()).select_from(ft).where(ft.c.resolved.is_(False))
    with db.read() as s:
        return int(s.execute(stmt).scalar_one())


def resolve_failures(
    db: Database,
    ids: list[int] | None = None,
    *,
    partner_id: str | None = None,
    operation: str | None = None,
) -> int:
    """Mark failure records resolved (an operator fixed it, or a later poll went through)."""
    stmt = update(TransferFailure).where(TransferFailure.resolved.is_(False))
    if ids is not None:
        stmt = stmt.where(TransferFailure.id.in_(ids))
    if partner_id is not None:
        stmt = stmt.where(TransferFailure.partner_id == partner_id)
    if operation is not None:
        stmt = stmt.where(TransferFailure.operation == operation)
    with db.write() as s:
        res = s.execute(stmt.values(resolved=True, resolved_at=utcnow()))
        return int(res.rowcount or 0)  # type: ignore[attr-defined]


__all__ = [
    "DbDeliveryLedger",
    "DbFailureLog",
    "DeliveryLedger",
    "Receipt",
    "count_transfer_failures",
    "direction_of",
    "insert_ignore",
    "resolve_failures",
    "transfer_failures",
]
