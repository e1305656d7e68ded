"""Which department charged each claim, kept at ledger import for the repeat-offender report.

The department is read from the provider's ledger: among the claim's posted charges
(reversals net against them), the department with the most dollars. A ledger that names no
department still carries revenue codes on a hospital's charges, so failing a named department
the revenue-code category with the most dollars stands in (``r:045`` is shown as "rev 045x
Emergency room": ``gateway.reporting.department``). A claim with neither has no row.

A claim's department changes only when its ledger rows do, so ``refresh`` recomputes the
claims a ledger file names after it is written (a window function per claim, in SQL), and the
``credit_facts`` triggers (migration 0025) carry it to the claim's credits. Computing it per
report instead cost 1.6-1.9 s at 100,000 credits with three charges each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.reconcile.tables import ClaimDepartment, LedgerEntry

LE = tbl(LedgerEntry)
CD = tbl(ClaimDepartment)
#: prefixes of the department key: a department the ledger names, a revenue-code category
NAMED, CATEGORY = "d:", "r:"
CHUNK = 500


def _key() -> Any:
    return case(
        (LE.c.department != "", literal(NAMED) + LE.c.department),
        (
            func.length(LE.c.revenue_code) == 4,
            literal(CATEGORY) + func.substr(LE.c.revenue_code, 1, 3),
        ),
        else_=None,
    )


def _chosen(provider_id: int, pcns: list[str]) -> Any:
    """(provider, claim, department key) of these claims: the key with the most net charge
    dollars, a named department before a revenue-code category, ties by key."""
    key = _key()
    charge_cents = func.sum(cast(func.round(LE.c.amount * 100), BigInteger))
    per_key = (
        select(
            LE.c.provider_id,
            LE.c.patient_control_number,
            key.label("k"),
            charge_cents.label("c"),
        )
        .where(
            LE.c.provider_id == provider_id,
            LE.c.patient_control_number.in_(pcns),
            LE.c.type == "charge",
            key.is_not(None),
        )
        .group_by(LE.c.provider_id, LE.c.patient_control_number, key)
        .having(charge_cents > 0)
        .subquery("dept_charges")
    )
    named_first = case((per_key.c.k.startswith(NAMED), 0), else_=1)
    ranked = select(
        per_key.c.provider_id,
        per_key.c.patient_control_number,
        per_key.c.k,
        func.row_number()
        .over(
            partition_by=(per_key.c.provider_id, per_key.c.patient_control_number),
            order_by=(named_first, per_key.c.c.desc(), per_key.c.k),
        )
        .label("rn"),
    ).subquery("dept_ranked")
    return select(ranked.c.provider_id, ranked.c.patient_control_number, ranked.c.k).where(
        ranked.c.rn == 1
    )


def refresh(s: Session, provider_id: int, pcns: Iterable[str]) -> None:
    """Recompute the departments of ``provider_id``'s claims ``pcns`` from its ledger."""
    claims = sorted(set(pcns))
    for i in range(0, len(claims), CHUNK):
        chunk = claims[i : i + CHUNK]
        s.execute(
            delete(CD).where(
                and_(CD.c.provider_id == provider_id, CD.c.patient_control_number.in_(chunk))
            )
        )
        s.execute(
            insert(CD).from_select(
                ["provider_id", "patient_control_number", "department"],
                _chosen(provider_id, chunk),
            )
        )


__all__ = ["CATEGORY", "NAMED", "refresh"]
