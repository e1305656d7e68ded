"""The 837 rows: one per claim (CLM), service line (SV1/SV2/SV3) and other-payer loop (2320).

They carry their parents' ids without foreign-key constraints (see ``gateway.db.models``).
Patient names are never stored; the patient control number is, and the subscriber's member id
(PHI) is sealed in its own column.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import MONEY, QUANTITY


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
