"""The 835 rows: one per transaction (BPR/TRN), claim payment (CLP), service line (SVC),
adjustment (CAS) and provider-level adjustment (PLB).

Below the remittance header they carry their parents' ids without foreign-key constraints (see
``gateway.db.models``: one loader transaction writes and deletes a file's tree as a unit).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import MONEY, QUANTITY

#: a claim payment counts unless it is a resend (``gateway.ingest.resend``): the earliest
#: present row with its identity wins. Only twins (another row had the identity when this one
#: was loaded: rare) are probed, through the patient control number index (``+ 0`` keeps
#: SQLite without statistics from walking the provider_id index instead); when the earlier
#: copy's rows go (a replay), the next copy counts without any bookkeeping.
COUNTED_CLAIM_PAYMENT = (
    "(NOT cp.resend_twin OR NOT EXISTS (SELECT 1 FROM claim_payments e "
    "WHERE e.patient_control_number = cp.patient_control_number "
    "AND e.provider_id + 0 = cp.provider_id AND e.resend_key = cp.resend_key "
    "AND e.id < cp.id))"
)


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
    #: its counted claim payments that are not reversals (CLP02 22), and their net paid in
    #: cents, kept by ``gateway.ingest.remittance_counts`` for the KPI rates
    counted_claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    counted_paid_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


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
