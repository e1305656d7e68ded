"""Tables of the gateway: the file registry (work queue), envelope, 835 and 837 rows, audit.

Every derived row carries ``file_id`` so one file's rows can be deleted and rewritten in the
transaction that (re)processes it. Money is ``NUMERIC(14,2)`` (on SQLite stored with NUMERIC
affinity and read back as Decimal quantised to cents, exact for the whole 14-digit range).
Patient names are never stored; the patient control number is. ``claims.subscriber_member_id``
is PHI and kept in its own column so it can be encrypted later.

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
from decimal import Decimal
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
    Numeric,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from schemas.states import FileState

MONEY = Numeric(14, 2)
QUANTITY = Numeric(15, 4)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


class RemittanceRow(Base):
    """One 835 transaction: payment (BPR), trace (TRN), payer and payee.

    ``trace_supplemental`` is TRN04 (NULL: loaded before it was kept). ``resend_of_file_id``
    names the file holding the earlier copy when every claim payment and PLB adjustment of this
    transaction was already loaded (a resend, see ``gateway.ingest.resend``).
    """

    __tablename__ = "remittances"
    __table_args__ = (
        # earlier copies of a trace (resend checks): one seek whatever the planner knows
        Index("ix_remittances_trace", "provider_id", "payer_id", "trace_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    payer_id: Mapped[str] = mapped_column(String(80), index=True)
    payer_name: Mapped[str] = mapped_column(String(200))
    payee_name: Mapped[str] = mapped_column(String(200))
    payee_npi: Mapped[str | None] = mapped_column(String(10))
    payee_tin: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    credit_debit: Mapped[str] = mapped_column(String(1))
    method: Mapped[str] = mapped_column(String(3))
    payment_format: Mapped[str] = mapped_column(String(10))
    payment_date: Mapped[dt.date | None] = mapped_column(Date)
    trace_number: Mapped[str] = mapped_column(String(80), index=True)
    trace_originator: Mapped[str] = mapped_column(String(80))
    trace_supplemental: Mapped[str | None] = mapped_column(String(50))
    production_date: Mapped[dt.date | None] = mapped_column(Date)
    #: no foreign key: added in place to a table others reference (files are never deleted)
    resend_of_file_id: Mapped[int | None] = mapped_column(Integer)


class ClaimPaymentRow(Base):
    """An 835 CLP loop.

    ``resend_key`` hashes its resend identity (payer, TRN02, TRN04, CLP01, CLP07, CLP02, CLP04
    and its occurrence in the transaction); ``resend_twin`` says an earlier loaded row had the
    same identity when this one was loaded. Reconciliation counts a twin only while no earlier
    row with its key is present (``gateway.reconcile.sql.COUNTED_CLAIM_PAYMENT``), so removing
    the earlier copy lets the resend take its place.
    """

    __tablename__ = "claim_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, index=True)
    remittance_id: Mapped[int] = mapped_column(Integer, index=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, index=True)
    payer_id: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(Integer)
    patient_control_number: Mapped[str] = mapped_column(String(38), index=True)
    status_code: Mapped[str] = mapped_column(String(2))
    charge: Mapped[Decimal] = mapped_column(MONEY)
    paid: Mapped[Decimal] = mapped_column(MONEY)
    patient_responsibility: Mapped[Decimal | None] = mapped_column(MONEY)
    filing_indicator: Mapped[str] = mapped_column(String(2))
    payer_claim_control_number: Mapped[str] = mapped_column(String(50), index=True)
    facility_code: Mapped[str] = mapped_column(String(2))
    frequency_code: Mapped[str] = mapped_column(String(1))
    statement_from: Mapped[dt.date | None] = mapped_column(Date)
    statement_to: Mapped[dt.date | None] = mapped_column(Date)
    received_date: Mapped[dt.date | None] = mapped_column(Date)
    #: the part of ``paid`` that is claim interest (AMT*I included in CLP04), never a credit
    interest: Mapped[Decimal | None] = mapped_column(MONEY)
    drg_code: Mapped[str] = mapped_column(String(8), default="", server_default="")
    #: an MIA segment was sent (inpatient adjudication: the claim is priced as a whole)
    inpatient: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: remark MA15: one part of a claim the payer split
    split: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    resend_key: Mapped[str | None] = mapped_column(String(32))
    resend_twin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ServicePaymentRow(Base):
    """An 835 SVC loop."""

    __tablename__ = "service_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, index=True)
    claim_payment_id: Mapped[int] = mapped_column(Integer, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[str] = mapped_column(String(80))
    revenue_code: Mapped[str] = mapped_column(String(48))
    charge: Mapped[Decimal] = mapped_column(MONEY)
    paid: Mapped[Decimal] = mapped_column(MONEY)
    allowed: Mapped[Decimal | None] = mapped_column(MONEY)
    units: Mapped[Decimal | None] = mapped_column(QUANTITY)
    service_date: Mapped[dt.date | None] = mapped_column(Date)
    service_date_end: Mapped[dt.date | None] = mapped_column(Date)
    line_control_number: Mapped[str] = mapped_column(String(50))
    #: the billed code (SVC06, else SVC01) without qualifier and modifiers, as ledgers name it
    code: Mapped[str] = mapped_column(String(48), default="", server_default="")


class AdjustmentRow(Base):
    """A CAS triplet at claim or line level."""

    __tablename__ = "adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, index=True)
    claim_payment_id: Mapped[int] = mapped_column(Integer, index=True)
    service_payment_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(5))
    group_code: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(String(5))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    quantity: Mapped[Decimal | None] = mapped_column(QUANTITY)


class ProviderAdjustmentRow(Base):
    """A PLB adjustment pair; ``resend_key``/``resend_twin`` as on claim payments."""

    __tablename__ = "provider_adjustments"
    __table_args__ = (Index("ix_provider_adjustments_resend", "provider_id", "resend_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    provider_identifier: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(String(2))
    reference: Mapped[str] = mapped_column(String(50))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    fiscal_date: Mapped[dt.date | None] = mapped_column(Date)
    resend_key: Mapped[str | None] = mapped_column(String(32))
    resend_twin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ClaimRow(Base):
    """An 837 CLM loop."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, index=True)
    transaction_id: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int] = mapped_column(Integer)
    payer_id: Mapped[str] = mapped_column(String(80))
    patient_control_number: Mapped[str] = mapped_column(String(38), index=True)
    total_charge: Mapped[Decimal] = mapped_column(MONEY)
    filing_indicator: Mapped[str] = mapped_column(String(2))
    facility_code: Mapped[str] = mapped_column(String(2))
    frequency_code: Mapped[str] = mapped_column(String(1))
    original_claim_number: Mapped[str] = mapped_column(String(50))
    service_date: Mapped[dt.date | None] = mapped_column(Date)
    service_date_end: Mapped[dt.date | None] = mapped_column(Date)
    #: PHI: the subscriber's member id (NM1*IL NM109); its own column so it can be encrypted
    #: PHI: sealed with the data keys when configured (gateway.security.columns)
    subscriber_member_id: Mapped[str | None] = mapped_column(String(255))


class ClaimLineRow(Base):
    __tablename__ = "claim_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, index=True)
    claim_id: Mapped[int] = mapped_column(Integer, index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[str] = mapped_column(String(80))
    revenue_code: Mapped[str] = mapped_column(String(48))
    charge: Mapped[Decimal] = mapped_column(MONEY)
    units: Mapped[Decimal | None] = mapped_column(QUANTITY)
    unit_basis: Mapped[str] = mapped_column(String(2))
    place_of_service: Mapped[str] = mapped_column(String(2))
    service_date: Mapped[dt.date | None] = mapped_column(Date)
    service_date_end: Mapped[dt.date | None] = mapped_column(Date)
    line_control_number: Mapped[str] = mapped_column(String(50))


class OtherPayerPaymentRow(Base):
    """An 837 2320 loop: what another payer already paid (COB)."""

    __tablename__ = "other_payer_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(Integer, index=True)
    claim_id: Mapped[int] = mapped_column(Integer, index=True)
    sequence: Mapped[str] = mapped_column(String(1))
    filing_indicator: Mapped[str] = mapped_column(String(2))
    payer_id: Mapped[str] = mapped_column(String(80))
    payer_name: Mapped[str] = mapped_column(String(200))
    paid: Mapped[Decimal | None] = mapped_column(MONEY)


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
    "MONEY",
    "AdjustmentRow",
    "AuditEntry",
    "ClaimLineRow",
    "ClaimPaymentRow",
    "ClaimRow",
    "FileEvent",
    "FileState",
    "FunctionalGroupRow",
    "InboundFile",
    "InterchangeRow",
    "OtherPayerPaymentRow",
    "Provider",
    "ProviderAdjustmentRow",
    "RemittanceRow",
    "ServicePaymentRow",
    "TransactionRow",
    "tbl",
    "utcnow",
]


def tbl(model: type[Base]) -> Table:
    """The Core ``Table`` of a mapped class (for executemany inserts and bulk updates)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
