"""Each remittance's counted claims and net paid cents, kept at load time for the KPI rates.

The rates report (credits per 1,000 claims, credit dollars per $1,000 paid) summed every
claim payment of 24 months on each request: 200+ ms at 300,000 claim payments. A remittance's
figures only change when its own rows are written, or when an earlier copy of one of its
claim payments goes away (a replay deletes the file's rows: ``COUNTED_CLAIM_PAYMENT`` then
counts the resent copy), so the loader counts a file's remittances once its rows are in and
``dependents``/``recount`` redo the ones a deletion changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, bindparam, case, cast, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gateway.db.remittance_rows import COUNTED_CLAIM_PAYMENT, ClaimPaymentRow, RemittanceRow
from gateway.db.types import tbl

#: CLP02 22: a reversal of a previous payment (it is not another claim paid)
REVERSAL = "22"
CP = tbl(ClaimPaymentRow).alias("cp")
#: remittances of other files holding a later copy of one of this file's claim payments
_DEPENDENTS = text(
    "SELECT DISTINCT e.remittance_id FROM claim_payments d JOIN claim_payments e ON "
    "e.patient_control_number = d.patient_control_number AND e.provider_id = d.provider_id "
    "AND e.resend_key = d.resend_key WHERE d.file_id = :f AND e.file_id <> :f AND e.resend_twin"
)


def _counts(where: ColumnElement[bool]) -> Any:
    """(remittance, counted claims that are not reversals, counted paid cents)."""
    return (
        select(
            CP.c.remittance_id.label("rid"),
            func.sum(case((CP.c.status_code != REVERSAL, 1), else_=0)).label("claims"),
            func.sum(cast(func.round(CP.c.paid * 100), BigInteger)).label("paid"),
        )
        .where(where, text(COUNTED_CLAIM_PAYMENT))
        .group_by(CP.c.remittance_id)
    )


def _store(s: Session, rows: Iterable[Any], ids: Iterable[int]) -> None:
    rt = tbl(RemittanceRow)
    found = {int(r.rid): (int(r.claims or 0), int(r.paid or 0)) for r in rows}
    values = [
        {"b_id": rid, "claims": found.get(rid, (0, 0))[0], "paid": found.get(rid, (0, 0))[1]}
        for rid in ids
    ]
    if values:
        s.execute(
            update(rt)
            .where(rt.c.id == bindparam("b_id"))
            .values(counted_claims=bindparam("claims"), counted_paid_cents=bindparam("paid")),
            values,
        )


def count_file(s: Session, file_id: int) -> None:
    """Count the remittances of ``file_id`` (every claim payment of it is loaded)."""
    rt = tbl(RemittanceRow)
    ids = [int(i) for i in s.execute(select(rt.c.id).where(rt.c.file_id == file_id)).scalars()]
    _store(s, s.execute(_counts(CP.c.file_id == file_id)).all(), ids)


def dependents(s: Session, file_id: int) -> list[int]:
    """The other remittances whose counts change when ``file_id``'s rows are deleted."""
    return sorted(int(r) for r in s.execute(_DEPENDENTS, {"f": file_id}).scalars())


def recount(s: Session, remittance_ids: list[int]) -> None:
    """Count these remittances again (after an earlier copy of their claims went away)."""
    for i in range(0, len(remittance_ids), 500):
        chunk = remittance_ids[i : i + 500]
        _store(s, s.execute(_counts(CP.c.remittance_id.in_(chunk))).all(), chunk)


__all__ = ["count_file", "dependents", "recount"]
