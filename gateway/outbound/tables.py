"""Tables of gateway.outbound (registered through gateway.registry).

* ``outbound_files``: the delivery queue. One row per (partner, content, remote path); the bytes
  live in the outbound blob store under their sha256. States ``queued → delivering → delivered``
  or ``failed``; a ``delivering`` row whose lease expired (a crashed worker) is claimed again.
* ``delivery_receipts``: proof that a file reached a partner. Unique per (partner, sha256,
  remote path), and written in the same transaction that marks the queue row delivered, so a
  crash can never leave a delivered row without its receipt (or the reverse).
* ``transfer_failures``: every SFTP operation that finally failed, in either direction, for
  operators (``gateway transfers failures``); ids, codes and reasons only, never file contents.
* ``ack_requests``: a pulled file whose partner wants TA1/999 back; unique per (partner, file)
  so a file pulled twice (crash before the remote archive move) is acknowledged once.
* ``ack_control_numbers``: the next ISA13/GS06 we use per partner, so they increase across runs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import utcnow
from schemas.states import OutboundState


class OutboundFile(Base):
    """A file queued for delivery to one partner's remote folder."""

    __tablename__ = "outbound_files"
    __table_args__ = (
        UniqueConstraint(
            "partner_id",
            "sha256",
            "remote_dir",
            "remote_name",
            name="uq_outbound_files_partner_content_path",
        ),
        Index("ix_outbound_files_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    remote_dir: Mapped[str] = mapped_column(String(512))
    remote_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_files.id"))
    state: Mapped[str] = mapped_column(String(16), default=OutboundState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DeliveryReceipt(Base):
    """One delivery: which partner, where, how many bytes, which content, when."""

    __tablename__ = "delivery_receipts"
    __table_args__ = (
        UniqueConstraint(
            "partner_id", "sha256", "remote_path", name="uq_delivery_receipts_partner_content_path"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    remote_path: Mapped[str] = mapped_column(String(768))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    delivered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    outbound_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_files.id"), index=True
    )


class TransferFailure(Base):
    """An SFTP operation that failed for good (after its retries), in either direction."""

    __tablename__ = "transfer_failures"
    __table_args__ = (Index("ix_transfer_failures_resolved_at", "resolved", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # "inbound" | "outbound"
    operation: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    remote_path: Mapped[str | None] = mapped_column(String(768))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AckRequest(Base):
    """Acknowledgments owed to a partner for one pulled file (rendered once processed)."""

    __tablename__ = "ack_requests"
    __table_args__ = (
        UniqueConstraint("partner_id", "file_id", name="uq_ack_requests_partner_file"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(512), default="")
    state: Mapped[str] = mapped_column(String(16), default="owed")  # owed | rendered | none
    ack_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rendered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AckControlNumber(Base):
    """The next interchange control number of our acknowledgments to one partner."""

    __tablename__ = "ack_control_numbers"

    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = [
    "AckControlNumber",
    "AckRequest",
    "DeliveryReceipt",
    "OutboundFile",
    "OutboundState",
    "TransferFailure",
]
