"""Which department a credit belongs to, for the repeat-offender report.

A credit is a claim's; the department is the one that charged the claim, chosen from the
provider's ledger at import (``gateway.reconcile.claim_departments``) and kept on the credit's
``credit_facts`` row. A credit whose claim has none is left out of that dimension: "no
department" recurring every month says nothing about where the errors come from.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.reconcile.claim_departments import CATEGORY, NAMED
from gateway.reporting.base import F, scoped, via
from mappings.revenue_categories import default_revenue_categories


def label(key: str) -> str:
    """The department's name for a department key."""
    if key.startswith(NAMED):
        return key[len(NAMED) :]
    return default_revenue_categories().name(key[len(CATEGORY) :])


def by_month(
    s: Session, *, lo: dt.date, as_of: dt.date, provider_id: int | None
) -> list[tuple[str, str, int, int]]:
    """(month identified, department name, credits, cents) of the credits identified from
    ``lo`` to ``as_of`` whose claim has a department."""
    stmt = (
        select(
            F.c.identified_month,
            F.c.department,
            func.count().label("n"),
            func.sum(F.c.cents).label("c"),
        )
        .where(F.c.department.is_not(None), F.c.identified_on.between(lo, as_of))
        .group_by(F.c.identified_month, F.c.department)
    )
    out: list[tuple[str, str, int, int]] = []
    for r in s.execute(via(scoped(stmt, provider_id, F), "ix_credit_facts_department")):
        name = label(str(r.department))
        if name:
            out.append((str(r.identified_month), name, int(r.n), int(r.c or 0)))
    return out


__all__ = ["by_month", "label"]
