"""Tables of gateway.reconcile (registered through gateway.registry).

- ``ledger_entries``: the provider's posted-charges ledger, one row per posting, owned by a
  provider; ``ledger_imports`` says whose ledger a stored file is.
- ``claim_links`` / ``plb_matches``: how 835 claim payments whose CLP01 is not a known patient
  control number, and PLB WO/72 recoupments, were tied to a claim (exact matches need no row).
- ``credits``: attributed credit balances with history (stable identity, ``identified_on``
  fixed while the credit persists, resolved with how); ``posting_variances``; runs and the
  files each run covered (the incremental watermark); solicited refund requests.

Link tables carry no foreign key to the 835 rows: a replay deletes and rewrites those rows, and
a stale link simply matches nothing (runs remove them).
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
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.claim_rows import ClaimRow
from gateway.db.remittance_rows import ClaimPaymentRow
from gateway.db.types import MONEY, utcnow

#: a ledger charge row with line detail (the predicate of a partial index and of the screen)
LINE_CHARGE = "type = 'charge' AND (line_ref <> '' OR procedure_code <> '' OR revenue_code <> '')"
#: the 837 lookup of the truncated-CLP01 fallback: same provider, same total charge
CLAIMS_BY_CHARGE = Index("ix_claims_provider_charge", ClaimRow.provider_id, ClaimRow.total_charge)
#: claim keys (provider, patient control number) and linking by CLP07 within a provider: both
#: columns, so that no planner (SQLite has no statistics until someone runs ANALYZE) walks a
#: whole provider's rows per claim, which made reconciling an unmatched 835 quadratic
CLAIM_PAYMENTS_BY_ICN = Index(
    "ix_claim_payments_provider_icn",
    ClaimPaymentRow.provider_id,
    ClaimPaymentRow.payer_claim_control_number,
)
CLAIM_PAYMENTS_BY_CLAIM = Index(
    "ix_claim_payments_provider_pcn",
    ClaimPaymentRow.provider_id,
    ClaimPaymentRow.patient_control_number,
)
CLAIMS_BY_CLAIM = Index(
    "ix_claims_provider_pcn", ClaimRow.provider_id, ClaimRow.patient_control_number
)


class LedgerEntry(Base):
    """One posting of the provider's ledger (amount positive; type and party give the sign).

    ``entry_key`` is the sha256 of the natural key (account, pcn, posted date, type, party,
    payer, amount, reference); ``occurrence`` numbers identical rows within one file, so the
    n-th identical posting is stored once per provider however many files repeat it.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("uq_ledger_entries_key", "provider_id", "entry_key", "occurrence", unique=True),
        Index("ix_ledger_entries_claim", "provider_id", "patient_control_number"),
        # charges with line detail: the screen's uncharged-line check starts from these, so a
        # ledger exported at claim level costs it nothing
        Index(
            "ix_ledger_entries_line_charges",
            "provider_id",
            "patient_control_number",
            sqlite_where=text(LINE_CHARGE),
            postgresql_where=text(LINE_CHARGE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    line: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[str] = mapped_column(String(64))
    patient_control_number: Mapped[str] = mapped_column(String(38))
    posted_date: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(10))
    party: Mapped[str] = mapped_column(String(10))
    payer_id: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str] = mapped_column(String(256))
    entry_key: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[int] = mapped_column(Integer)
    # Line detail, where the export has it (not part of ``entry_key``: a layout that starts
    # sending these must not double the rows it sent before; a repeat fills them in instead)
    procedure_code: Mapped[str] = mapped_column(String(48), default="", server_default="")
    revenue_code: Mapped[str] = mapped_column(String(8), default="", server_default="")
    modifiers: Mapped[str] = mapped_column(String(32), default="", server_default="")
    service_date: Mapped[dt.date | None] = mapped_column(Date)
    units: Mapped[Decimal | None] = mapped_column(Numeric(15, 4))
    line_ref: Mapped[str] = mapped_column(String(50), default="", server_default="")
    #: the department (cost center) that posted the row, where the export says (not in the key)
    department: Mapped[str] = mapped_column(String(64), default="", server_default="")


class ClaimDepartment(Base):
    """The department that charged a claim, by the provider's ledger
    (``gateway.reconcile.claim_departments``): ``d:<name>`` for a department the ledger
    names, ``r:<3 digits>`` for a revenue-code category when it names none."""

    __tablename__ = "claim_departments"

    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_control_number: Mapped[str] = mapped_column(String(38), primary_key=True)
    department: Mapped[str] = mapped_column(String(67))


class LedgerImport(Base):
    """Whose ledger a stored file is (declared by ``gateway ingest --provider``)."""

    __tablename__ = "ledger_imports"

    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    declared_by: Mapped[str] = mapped_column(String(128))
    declared_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClaimLink(Base):
    """An 835 claim payment tied to a claim other than by an exact CLP01 = CLM01 match."""

    __tablename__ = "claim_links"
    __table_args__ = (Index("ix_claim_links_claim", "provider_id", "patient_control_number"),)

    claim_payment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider_id: Mapped[int] = mapped_column(Integer)
    patient_control_number: Mapped[str] = mapped_column(String(38))
    #: icn (same CLP07 as a matched payment) | prefix (truncated CLP01) | unmatched
    method: Mapped[str] = mapped_column(String(12), index=True)


class PlbMatch(Base):
    """A PLB WO/72 recoupment resolved to the claim its reference names (or not, yet)."""

    __tablename__ = "plb_matches"
    __table_args__ = (Index("ix_plb_matches_claim", "provider_id", "patient_control_number"),)

    provider_adjustment_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    provider_id: Mapped[int] = mapped_column(Integer)
    payer_id: Mapped[str] = mapped_column(String(80))
    patient_control_number: Mapped[str | None] = mapped_column(String(38))
    #: icn | pcn | unmatched
    method: Mapped[str] = mapped_column(String(12), index=True)


class PayerAlias(Base):
    """Payer id → canonical payer id, synced from the payer profiles at each run."""

    __tablename__ = "payer_aliases"

    alias: Mapped[str] = mapped_column(String(80), primary_key=True)
    payer_id: Mapped[str] = mapped_column(String(80))


class ReconcileRun(Base):
    """One reconciliation run: when, as of which day, what it covered and found."""

    __tablename__ = "reconcile_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    as_of: Mapped[dt.date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(128))
    files: Mapped[int] = mapped_column(Integer, default=0)
    scope_claims: Mapped[int] = mapped_column(Integer, default=0)
    candidates: Mapped[int] = mapped_column(Integer, default=0)
    credits_new: Mapped[int] = mapped_column(Integer, default=0)
    credits_resolved: Mapped[int] = mapped_column(Integer, default=0)
    credits_open: Mapped[int] = mapped_column(Integer, default=0)
    credits_pending: Mapped[int] = mapped_column(Integer, default=0)
    variances: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class ReconciledFile(Base):
    """A processed file whose rows a run took into account (the incremental watermark)."""

    __tablename__ = "reconciled_files"

    file_id: Mapped[int] = mapped_column(
        ForeignKey("inbound_files.id"), primary_key=True, autoincrement=False
    )
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[int] = mapped_column(ForeignKey("reconcile_runs.id"))


class Credit(Base):
    """One attributed part of a claim's credit balance, with its history.

    Identity: (provider, patient control number, owed_to, payer, cause); at most one
    non-resolved row per identity. ``payer_id`` is '' when the credit is owed to the patient or
    to nobody known.
    """

    __tablename__ = "credits"
    __table_args__ = (
        Index(
            "uq_credits_active",
            "provider_id",
            "patient_control_number",
            "owed_to",
            "payer_id",
            "cause",
            unique=True,
            sqlite_where=text("status <> 'resolved'"),
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_credits_claim", "provider_id", "patient_control_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    account_id: Mapped[str | None] = mapped_column(String(64))
    patient_control_number: Mapped[str] = mapped_column(String(38))
    owed_to: Mapped[str] = mapped_column(String(8))
    payer_id: Mapped[str] = mapped_column(String(80))
    cause: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    government: Mapped[bool] = mapped_column(Boolean)
    deadline_days: Mapped[int | None] = mapped_column(Integer)
    identified_on: Mapped[dt.date] = mapped_column(Date)
    due_by: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), index=True)
    pending_until: Mapped[dt.date | None] = mapped_column(Date)
    #: why a pending credit is held: hold_window | unposted_line | replacement_claim |
    #: no_posted_charges
    pending_reason: Mapped[str | None] = mapped_column(String(24))
    resolved_on: Mapped[dt.date | None] = mapped_column(Date)
    resolution: Mapped[str | None] = mapped_column(String(32))
    #: what the claim looked like at the last detection (recouped, refunded, reversals), so a
    #: disappearance can be explained
    basis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    investigation_opened_on: Mapped[dt.date | None] = mapped_column(Date)
    investigation_closed_on: Mapped[dt.date | None] = mapped_column(Date)
    first_run_id: Mapped[int] = mapped_column(Integer)
    last_run_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: 837I | 837P | 837D | '' (gateway.reconcile.medicare)
    claim_kind: Mapped[str] = mapped_column(String(8), default="", server_default="")
    #: A | B: Medicare's money (by CLP06/SBR09 or the payer profile); NULL otherwise
    medicare_part: Mapped[str | None] = mapped_column(String(1))
    #: the payer's profile is a Medicare contractor (False: "unverified Medicare payer")
    medicare_verified: Mapped[bool | None] = mapped_column(Boolean)
    #: how it was or will be returned: report (CMS-838) | claim_adjustment | refund | NULL
    return_method: Mapped[str | None] = mapped_column(String(16))
    #: the most days the recorded investigation may suspend the deadline (0: none; NULL:
    #: recorded before this column, 180)
    investigation_days: Mapped[int | None] = mapped_column(Integer)


class PostingVariance(Base):
    """Provider's payer postings (ledger party=payer) that differ from the 835s of a claim."""

    __tablename__ = "posting_variances"
    __table_args__ = (Index("ix_posting_variances_claim", "provider_id", "patient_control_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    account_id: Mapped[str | None] = mapped_column(String(64))
    patient_control_number: Mapped[str] = mapped_column(String(38))
    payer_id: Mapped[str] = mapped_column(String(80))
    #: unposted_payment | posted_twice | wrong_amount | posted_without_remittance
    kind: Mapped[str] = mapped_column(String(32))
    posted: Mapped[Decimal] = mapped_column(MONEY)
    remitted: Mapped[Decimal] = mapped_column(MONEY)
    difference: Mapped[Decimal] = mapped_column(MONEY)
    postings: Mapped[int] = mapped_column(Integer)
    detected_on: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[int] = mapped_column(Integer)


class LineVariance(Base):
    """A billed line the ledger does not carry (``unposted_line``), or a claim whose posted
    charges cannot be matched to its lines (``charge_mismatch``), with the analyst's answer.

    Identity: (provider, pcn, payer, kind, group_key); runs update a row while the finding
    persists and mark it ``cleared`` when it goes away. ``resolution`` (missed | transfer |
    billed_in_error) is the analyst's, kept across runs and fed back into reconciliation.
    """

    __tablename__ = "line_variances"
    __table_args__ = (
        Index(
            "uq_line_variances_identity",
            "provider_id",
            "patient_control_number",
            "payer_id",
            "kind",
            "group_key",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    account_id: Mapped[str | None] = mapped_column(String(64))
    patient_control_number: Mapped[str] = mapped_column(String(38))
    payer_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(32))
    group_key: Mapped[str] = mapped_column(String(160))
    reason: Mapped[str] = mapped_column(Text)
    charge: Mapped[Decimal] = mapped_column(MONEY)
    paid: Mapped[Decimal] = mapped_column(MONEY)
    #: the service lines: procedure, revenue_code, service_date, charge, paid, line_ref
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    #: open | resolved | cleared (the finding went away: charge posted or lines changed)
    status: Mapped[str] = mapped_column(String(10), index=True)
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    detected_on: Mapped[dt.date] = mapped_column(Date)
    run_id: Mapped[int] = mapped_column(Integer)


class ClaimWait(Base):
    """A claim with remittances and no posted charge, waiting for its ledger until ``until``
    (the payers' ``ledger_lag_days``): an exception, not yet a credit. Incremental runs take
    these claims back in when the day comes."""

    __tablename__ = "claim_waits"

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True)
    patient_control_number: Mapped[str] = mapped_column(String(38), primary_key=True)
    until: Mapped[dt.date] = mapped_column(Date, index=True)
    payer_id: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    since: Mapped[dt.date] = mapped_column(Date)


class RefundRequest(Base):
    """A payer's solicited refund request and our verdict on it (for the dispute path)."""

    __tablename__ = "refund_requests"
    __table_args__ = (Index("ix_refund_requests_claim", "provider_id", "patient_control_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    payer_id: Mapped[str] = mapped_column(String(80))
    patient_control_number: Mapped[str] = mapped_column(String(38))
    payer_claim_control_number: Mapped[str] = mapped_column(String(50))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str] = mapped_column(String(80))
    request_date: Mapped[dt.date | None] = mapped_column(Date)
    source_name: Mapped[str] = mapped_column(String(512))
    line: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    valid_amount: Mapped[Decimal] = mapped_column(MONEY)
    credit_ids: Mapped[list[int] | None] = mapped_column(JSON)
    validated_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    details: Mapped[str] = mapped_column(Text, default="")


__all__ = [
    "CLAIMS_BY_CHARGE",
    "CLAIMS_BY_CLAIM",
    "CLAIM_PAYMENTS_BY_CLAIM",
    "CLAIM_PAYMENTS_BY_ICN",
    "ClaimDepartment",
    "ClaimLink",
    "ClaimWait",
    "Credit",
    "LedgerEntry",
    "LedgerImport",
    "LineVariance",
    "PayerAlias",
    "PlbMatch",
    "PostingVariance",
    "ReconcileRun",
    "ReconciledFile",
    "RefundRequest",
]
