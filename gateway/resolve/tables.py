"""Tables of gateway.resolve (registered through gateway.registry).

- ``resolution_cases``: one case per credit (``credits.id``), its workflow state and how it is
  being returned; ``case_transitions`` is the case's append-only history (who, when, why). Every
  transition is also written to the hash-chained audit log.
- ``case_notes``: analysts' notes on a case (who, when, the text sealed at rest).
- ``resolution_batches`` / ``batch_items`` / ``batch_files``: the documents issued for a
  provider × payer × kind, which cases (or payer refund requests) each covers, and the exact
  bytes of every file (small; kept so a batch can be re-delivered and proven years later).
  A case is in at most one non-cancelled batch (partial unique index), so re-running batch
  creation can never issue the same credit twice.
- ``cms838_lines``: which credit was reported on which quarter's CMS-838 (a credit is reported
  once, ever).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import MONEY, utcnow
from gateway.reconcile.tables import Credit


class ResolutionCase(Base):
    """The workflow state of one credit balance."""

    __tablename__ = "resolution_cases"
    __table_args__ = (
        Index("ix_resolution_cases_state", "state", "provider_id"),
        # the worklist's per-state counts read these alone (migration 0024): walked by state,
        # or probed by credit when a credit index drives the scan
        Index("ix_resolution_cases_state_credit", "state", "credit_id", "assignee"),
        Index("ix_resolution_cases_credit_state", "credit_id", "state", "assignee"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("credits.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    #: open | approved | refund_sent | offset_requested | patient_refund_issued | resolved |
    #: disputed | escheat_pending
    state: Mapped[str] = mapped_column(String(24))
    #: refund | offset | patient_refund, decided at approval from the payer's preference
    method: Mapped[str | None] = mapped_column(String(16))
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: check number / EFT trace / payer confirmation number
    reference: Mapped[str | None] = mapped_column(String(80))
    #: why the credit happened, as the analyst recorded it (a code of mappings/root_causes.yaml;
    #: NULL: not yet assigned). Set by gateway.reporting.root_cause, read by the KPI reports.
    root_cause: Mapped[str | None] = mapped_column(String(32))
    #: the username (``users.username``) of the person working the case; NULL: unassigned.
    #: Set by gateway.resolve.casework (checked: an active case worker who may see the case)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: milestones kept by gateway.resolve.history.record_transition (read by the KPI reports):
    #: the UTC day of the last move into ``resolved`` and the state it came from, and of the
    #: first move into ``disputed``
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    resolved_from: Mapped[str | None] = mapped_column(String(24))
    disputed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseTransition(Base):
    """One state change of a case (never updated or deleted)."""

    __tablename__ = "case_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("resolution_cases.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CaseNote(Base):
    """An analyst's note on a case (never updated or deleted). The text is free text that may
    name a patient: it is sealed at rest with the data keys, masked for roles without PHI
    access and never logged or audited (the audit entry holds its id and length)."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("resolution_cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(128))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    text_sealed: Mapped[str] = mapped_column(Text)


class ResolutionBatch(Base):
    """Documents issued together for one provider × payer × kind (× MSP flag)."""

    __tablename__ = "resolution_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_key: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    #: '' for patient refunds (owed to patients, not a payer)
    payer_id: Mapped[str] = mapped_column(String(80))
    #: refund_transmittal | offset | patient_refunds | dispute
    kind: Mapped[str] = mapped_column(String(24))
    msp: Mapped[bool] = mapped_column(Boolean, default=False)
    #: issued | cancelled (delivery state comes from the outbound queue rows)
    state: Mapped[str] = mapped_column(String(12), default="issued")
    as_of: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(80), default="")
    partner_id: Mapped[str | None] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class BatchItem(Base):
    """A case (or a disputed payer refund request) covered by a batch."""

    __tablename__ = "batch_items"
    __table_args__ = (
        Index(
            "uq_batch_items_active_case",
            "case_id",
            unique=True,
            sqlite_where=text("NOT cancelled AND case_id IS NOT NULL"),
            postgresql_where=text("NOT cancelled AND case_id IS NOT NULL"),
        ),
        Index(
            "uq_batch_items_active_request",
            "refund_request_id",
            unique=True,
            sqlite_where=text("NOT cancelled AND refund_request_id IS NOT NULL"),
            postgresql_where=text("NOT cancelled AND refund_request_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("resolution_batches.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("resolution_cases.id"))
    refund_request_id: Mapped[int | None] = mapped_column(ForeignKey("refund_requests.id"))
    line: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class BatchFile(Base):
    """One file of a batch: its exact bytes, digest and control totals."""

    __tablename__ = "batch_files"
    __table_args__ = (Index("uq_batch_files_name", "batch_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("resolution_batches.id"))
    name: Mapped[str] = mapped_column(String(255))
    #: data | letter | manifest
    role: Mapped[str] = mapped_column(String(12))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    amount_sum: Mapped[Decimal] = mapped_column(MONEY)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    outbound_file_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_files.id"))


class Cms838Line(Base):
    """A credit reported on a quarter's CMS-838 (unique: never reported twice)."""

    __tablename__ = "cms838_lines"
    __table_args__ = (Index("ix_cms838_lines_quarter", "quarter", "provider_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("credits.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    quarter: Mapped[str] = mapped_column(String(6))
    part: Mapped[str] = mapped_column(String(1))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


#: the case worklist's default order (government first, dated before undated, soonest due,
#: then provider and claim) as an index, so the first page is read in index order and the
#: walk stops after it instead of sorting every case (migration 0024)
CASE_WORKLIST_ORDER = Index(
    "ix_credits_case_worklist",
    Credit.government.desc(),
    Credit.due_by.is_(None),
    Credit.due_by,
    Credit.provider_id,
    Credit.patient_control_number,
)

__all__ = [
    "BatchFile",
    "BatchItem",
    "CaseNote",
    "CaseTransition",
    "Cms838Line",
    "ResolutionBatch",
    "ResolutionCase",
]
