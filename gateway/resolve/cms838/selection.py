"""Which credits a quarter's CMS-838 lists: each credit open at the quarter's end is a detail
row, a warning (pending, owner unknown, returned by claim adjustment, not yet classified) or
not the report's at all; the quarter's dates; when each case was issued by the quarter's end."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.errors import InputError
from gateway.read.reports import Cms838WarningRead
from gateway.resolve.tables import CaseTransition
from mappings.payers import PayerDirectory
from schemas.serialize import money
from schemas.states import CreditStatus


def parse_quarter(value: str) -> tuple[str, dt.date, dt.date]:
    """'2026Q3' → ('2026Q3', 2026-07-01, 2026-09-30)."""
    m = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", value.strip())
    if m is None:
        raise InputError(f"quarter {value!r} is not like 2026Q3", code="bad_quarter")
    year, q = int(m.group(1)), int(m.group(2))
    if not 1900 <= year <= 9998:
        raise InputError(f"quarter {value!r}: year {year} is out of range", code="bad_quarter")
    start = dt.date(year, 3 * q - 2, 1)
    end = (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)) - dt.timedelta(
        days=1
    )
    return f"{year}Q{q}", start, end


def issued_by(s: Session, case_ids: list[int], end: dt.date) -> dict[int, tuple[str, dt.date]]:
    """case id → (refund_sent/offset_requested/... reached on or before ``end``, when)."""
    if not case_ids:
        return {}
    tt = tbl(CaseTransition)
    out: dict[int, tuple[str, dt.date]] = {}
    limit = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    for r in s.execute(
        select(tt.c.case_id, tt.c.to_state, tt.c.at)
        .where(tt.c.case_id.in_(case_ids))
        .order_by(tt.c.id)
    ):
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
        if at < limit:
            out[r.case_id] = (r.to_state, at.date())
    return out


def credit_warning(code: str, r: Any, message: str) -> Cms838WarningRead:
    return Cms838WarningRead(
        code=code,
        message=f"credit {r.id} ({r.patient_control_number}): {message}",
        credit_id=r.id,
        patient_control_number=r.patient_control_number,
        payer_id=r.payer_id or None,
    )


def classify(r: Any, label: str, payers: PayerDirectory) -> tuple[str, Cms838WarningRead | None]:
    """('row' | 'skip' | 'warn', warning) for one credit open at the quarter's end."""
    part = r.medicare_part
    if part is None and r.return_method is None and r.owed_to == "payer":
        profile = payers.get(r.payer_id) if r.payer_id else None
        if profile is not None and profile.programme in ("medicare_a", "medicare_b"):
            return "warn", credit_warning(
                "not_classified",
                r,
                (
                    "a Medicare credit found before this gateway version classified credits: run "
                    "`gateway reconcile` so it is reported (or returned) the right way"
                ),
            )
        return "skip", None
    if part is None:
        return "skip", None
    if r.owed_to == "unknown":
        return "warn", credit_warning(
            "owner_unknown",
            r,
            (
                f"{money(Decimal(r.amount))} on a claim Medicare paid is owed to nobody known yet "
                f"({r.cause}); find whose money it is: Medicare's must be reported"
            ),
        )
    if r.owed_to != "payer" or r.return_method == "refund":
        return "skip", None
    if r.reported_in is not None and r.reported_in != label:
        return "skip", None  # reported in an earlier quarter: never twice
    if r.return_method == "claim_adjustment":
        return "warn", credit_warning(
            "claim_adjustment",
            r,
            (
                "being returned by the adjustment claim sent to the MAC, so it is not on the "
                "CMS-838; if the MAC does not process it, report or refund it"
            ),
        )
    if r.status == CreditStatus.PENDING:
        return "warn", credit_warning(
            "pending_credit",
            r,
            (
                f"{money(Decimal(r.amount))} owed to {r.payer_id} is pending "
                f"(until {r.pending_until or 'its variance is resolved'}): not a detail row until "
                "it opens"
            ),
        )
    return "row", None


__all__ = ["classify", "credit_warning", "issued_by", "parse_quarter"]
