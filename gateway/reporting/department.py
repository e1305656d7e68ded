"""Which department a credit belongs to, for the repeat-offender report.

A credit is a claim's; the department is the one that charged the claim, read from the
provider's ledger: among the claim's posted charges (reversals net against them), the
department with the most dollars. A ledger that names no department still carries revenue
codes on a hospital's charges, so failing a named department the revenue-code category with the
most dollars stands in (``mappings/revenue_categories.yaml``: "rev 045x Emergency room"). A
credit whose claim has neither has no department and is left out of that dimension: "no
department" recurring every month says nothing about where the errors come from.

The choice is made in SQL (a window function per claim), so the report reads one row per
month and department, not one per credit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.reconcile.tables import LedgerEntry
from gateway.reporting.base import CT, scoped
from gateway.reporting.sqlparts import cents, month_of
from mappings.revenue_categories import default_revenue_categories

LE = tbl(LedgerEntry)
#: prefixes of the department key: a department the ledger names, a revenue-code category
NAMED, CATEGORY = "d:", "r:"


def _key() -> Any:
    return case(
        (LE.c.department != "", literal(NAMED) + LE.c.department),
        (
            func.length(LE.c.revenue_code) == 4,
            literal(CATEGORY) + func.substr(LE.c.revenue_code, 1, 3),
        ),
        else_=None,
    )


def label(key: str) -> str:
    """The department's name for a key of ``by_month``."""
    if key.startswith(NAMED):
        return key[len(NAMED) :]
    return default_revenue_categories().name(key[len(CATEGORY) :])


def by_month(
    s: Session, *, lo: dt.date, as_of: dt.date, provider_id: int | None
) -> list[tuple[str, str, int, int]]:
    """(month identified, department name, credits, cents) of the credits identified from
    ``lo`` to ``as_of`` whose claim has a department."""
    window = and_(CT.c.identified_on >= lo, CT.c.identified_on <= as_of)
    claims = (
        select(CT.c.provider_id.label("pid"), CT.c.patient_control_number.label("pcn"))
        .where(window)
        .distinct()
    )
    credited = scoped(claims, provider_id).subquery("credited")
    key = _key()
    # driven from the credited claims through the ledger's (provider, claim) index: only their
    # rows are read, however long the provider's ledger
    per_key = (
        select(
            LE.c.provider_id,
            LE.c.patient_control_number,
            key.label("k"),
            func.sum(cents(LE.c.amount)).label("c"),
        )
        .select_from(
            credited.join(
                LE,
                and_(
                    LE.c.provider_id == credited.c.pid,
                    LE.c.patient_control_number == credited.c.pcn,
                ),
            )
        )
        .where(LE.c.type == "charge", key.is_not(None))
        .group_by(LE.c.provider_id, LE.c.patient_control_number, key)
        .having(func.sum(cents(LE.c.amount)) > 0)
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
    m = month_of(s, CT.c.identified_on).label("g_m")
    stmt = scoped(
        select(m, ranked.c.k, func.count().label("n"), func.sum(cents(CT.c.amount)).label("c"))
        .select_from(
            CT.join(
                ranked,
                and_(
                    ranked.c.provider_id == CT.c.provider_id,
                    ranked.c.patient_control_number == CT.c.patient_control_number,
                    ranked.c.rn == 1,
                ),
            )
        )
        .where(window)
        .group_by(m, ranked.c.k),
        provider_id,
    )
    out: list[tuple[str, str, int, int]] = []
    for r in s.execute(stmt):
        name = label(str(r.k))
        if name:
            out.append((str(r.g_m), name, int(r.n), int(r.c or 0)))
    return out


__all__ = ["by_month", "label"]
