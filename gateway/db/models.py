"""Tables of the gateway: the provider and file registry (work queue), envelopes, audit.

The 835 rows are in ``gateway.db.remittance_rows``, the 837 rows in ``gateway.db.claim_rows``;
``DERIVED_TABLES`` lists them with the envelope rows here. Every derived row carries ``file_id``
so one file's rows can be deleted and rewritten in the transaction that (re)processes it.

The per-claim bulk rows (claim payments, service payments, adjustments; 837 claims, lines and
other-payer loops) carry their parents' ids without foreign-key constraints. One loader
transaction writes a file's whole tree from ids it allocates, and ``delete_derived`` removes it
as a unit; nothing else writes or deletes them. PostgreSQL checks a foreign key with a trigger
per inserted row, and those checks were 60 % of the load time of a large 835 (about 390,000
for 20,000 claims). ``gateway db check`` (``gateway.db.integrity``) finds orphans set-wise, and
the tests run it after loads, replays and deletes. Header rows (interchanges, groups,
transactions, remittances) and everything users act on (credits, cases, batches) keep theirs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.claim_rows import ClaimLineRow, ClaimRow, OtherPayerPaymentRow
from gateway.db.remittance_rows import (
    AdjustmentRow,
    ClaimPaymentRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    ServicePaymentRow,
)
from gateway.db.types import utcnow
from schemas.states import FileState


class Provider(Base):
    """An organisation we receive files for, keyed by NPI (else TIN)."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    npi: Mapped[str | None] = mapped_column(String(10), index=True)
    tin: Mapped[str | None] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _same_as_sha256(context: Any) -> str:
    """``identity`` of a row inserted without one (tests, older callers): its sha256."""
    value: str = context.get_current_parameters()["sha256"]
    return value


class InboundFile(Base):
    """The registry row of one distinct file (by ``identity``): the work queue item."""

    __tablename__ = "inbound_files"
    __table_args__ = (Index("ix_inbound_files_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the dedupe key: ``sha256``, or for a provider-scoped key's ledger one per provider
    #: (``gateway.intake.service.identity``; migration 0016)
    identity: Mapped[str] = mapped_column(String(64), unique=True, default=_same_as_sha256)
    #: the raw store address (several rows may share one blob)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(64))
    original_name: Mapped[str] = mapped_column(String(512), default="")
    kind: Mapped[str] = mapped_column(String(8), default="unknown")
    state: Mapped[str] = mapped_column(String(16), default=FileState.RECEIVED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    allow_duplicate_interchange: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    claim_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))


class FileEvent(Base):
    """One state change of a file: the registry's full history."""

    __tablename__ = "file_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")


class AuditEntry(Base):
    """Append-only audit log: who did what to which file, when, why, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("uq_audit_log_seq", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Hash chain (gateway.audit): position 1, 2, 3, ... and sha256 links; see `gateway audit`.
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class InterchangeRow(Base):
    """ISA envelope. Its identity (ISA05, ISA06, ISA07, ISA08, ISA13) is unique unless a replay
    forced a repeat: a clearinghouse numbers ISA13 per receiver, so the same ISA13 from the same
    sender to another receiver is another interchange."""

    __tablename__ = "interchanges"
    __table_args__ = (
        Index(
            "uq_interchanges_identity",
            "sender_qualifier",
            "sender_id",
            "receiver_qualifier",
            "receiver_id",
            "control_number",
            unique=True,
            sqlite_where=text("NOT forced"),
            postgresql_where=text("NOT forced"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    sender_qualifier: Mapped[str] = mapped_column(String(2))
    sender_id: Mapped[str] = mapped_column(String(15))
    receiver_qualifier: Mapped[str] = mapped_column(String(2))
    receiver_id: Mapped[str] = mapped_column(String(15))
    control_number: Mapped[str] = mapped_column(String(9))
    date: Mapped[dt.date | None] = mapped_column(Date)
    usage: Mapped[str] = mapped_column(String(1))
    forced: Mapped[bool] = mapped_column(Boolean, default=False)


class FunctionalGroupRow(Base):
    __tablename__ = "functional_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("interchanges.id"))
    functional_id: Mapped[str] = mapped_column(String(2))
    sender_id: Mapped[str] = mapped_column(String(15))
    receiver_id: Mapped[str] = mapped_column(String(15))
    control_number: Mapped[str] = mapped_column(String(9))
    version: Mapped[str] = mapped_column(String(12))
    date: Mapped[dt.date | None] = mapped_column(Date)


class TransactionRow(Base):
    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("functional_groups.id"))
    control_number: Mapped[str] = mapped_column(String(9))
    kind: Mapped[str] = mapped_column(String(8))
    guide: Mapped[str] = mapped_column(String(35))
    segment_count: Mapped[int] = mapped_column(Integer, default=0)


#: derived tables, children first: the order in which a file's rows are deleted on replay
DERIVED_TABLES = (
    AdjustmentRow,
    ServicePaymentRow,
    ClaimPaymentRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    OtherPayerPaymentRow,
    ClaimLineRow,
    ClaimRow,
    TransactionRow,
    FunctionalGroupRow,
    InterchangeRow,
)

__all__ = [
    "DERIVED_TABLES",
    "AuditEntry",
    "FileEvent",
    "FunctionalGroupRow",
    "InboundFile",
    "InterchangeRow",
    "Provider",
    "TransactionRow",
]
