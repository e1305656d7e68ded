"""The benchmark rates (credits per 1,000 claims, credit dollars per $1,000 paid, per payer and
month) and the root-cause trend with repeat offenders."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.db.remittance_rows import RemittanceRow
from gateway.db.types import tbl
from gateway.reconcile.tables import PayerAlias
from gateway.reporting import department
from gateway.reporting.base import F, in_window, scoped, via
from gateway.reporting.models import Growth, Offender, RateRow, Rates, RootCauseTrend, TrendCell
from gateway.reporting.sqlparts import first_day, from_cents, month_of, months_back, ratio


def rates(s: Session, *, as_of: dt.date, months: int = 6, provider_id: int | None = None) -> Rates:
    """Per canonical payer and month: claims paid (835 claim payments that are not reversals,
    by the remittance's payment date, else its production date; a re-sent ERA's copy of a claim
    payment counts once, as reconciliation counts it), net dollars paid, credits identified
    that month owed to that payer, and the two rates."""
    window = months_back(as_of, months)
    lo = first_day(window[0])
    rm, pa = tbl(RemittanceRow), tbl(PayerAlias)
    paid_on = func.coalesce(rm.c.payment_date, rm.c.production_date)
    # each remittance's counted claims and paid cents are kept at load
    # (``gateway.ingest.remittance_counts``): the claims are read per remittance, not per claim
    claims_stmt = (
        select(
            rm.c.payer_id,
            gm := month_of(s, paid_on).label("g_m"),
            func.sum(rm.c.counted_claims).label("claims"),
            func.sum(rm.c.counted_paid_cents).label("paid"),
        )
        .where(paid_on >= lo, paid_on <= as_of)
        .group_by(rm.c.payer_id, gm)
    )
    if provider_id is not None:
        claims_stmt = claims_stmt.where(rm.c.provider_id == provider_id)
    alias = {str(r.alias): str(r.payer_id) for r in s.execute(select(pa.c.alias, pa.c.payer_id))}
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in s.execute(claims_stmt):
        cell = cells[(alias.get(r.payer_id, r.payer_id), r.g_m)]
        cell[0] += int(r.claims or 0)
        cell[1] += int(r.paid or 0)
    # grouped in the identified index's order (no sort), folded to (payer id, month)
    keys = (F.c.identified_month, F.c.root_cause, F.c.payer, F.c.cause, F.c.payer_id)
    stmt = (
        select(*keys, func.count().label("n"), func.sum(F.c.cents).label("c"))
        .where(
            F.c.payer_id != "",
            in_window(F.c.identified_month, F.c.identified_on, window, as_of),
        )
        .group_by(*keys)
    )
    for r in s.execute(via(scoped(stmt, provider_id, F), "ix_credit_facts_identified")):
        cell = cells[(r.payer_id, r.identified_month)]
        cell[2] += int(r.n)
        cell[3] += int(r.c or 0)

    def row(payer_id: str, month: str, c: list[int]) -> RateRow:
        paid, amount = from_cents(c[1]), from_cents(c[3])
        return RateRow(
            payer_id=payer_id,
            month=month,
            claims=c[0],
            paid=paid,
            credits=c[2],
            credit_amount=amount,
            credits_per_1000_claims=ratio(Decimal(c[2]), Decimal(c[0]), 1000),
            credit_dollars_per_1000_paid=ratio(amount, paid, 1000) if paid > 0 else None,
        )

    window_set = set(window)
    rows = [
        row(p, m, c) for (p, m), c in sorted(cells.items(), key=lambda kv: kv[0]) if m in window_set
    ]
    per_payer: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (p, m), c in cells.items():
        if m in window_set:
            per_payer[p] = [a + b for a, b in zip(per_payer[p], c, strict=True)]
    return Rates(
        as_of=as_of,
        provider_id=provider_id,
        rows=rows,
        by_payer=[row(p, "all", per_payer[p]) for p in sorted(per_payer)],
    )


def root_cause_trend(
    s: Session,
    *,
    as_of: dt.date,
    months: int = 6,
    min_months: int = 3,
    provider_id: int | None = None,
) -> RootCauseTrend:
    """Credits identified per month and root cause; root causes whose dollars grew in the last
    month of the window against the month before; payers, causes and root causes with credits
    in at least ``min_months`` distinct months of the window, and so are departments
    (``gateway.reporting.department``: credits whose claim has none are not counted there)."""
    window = months_back(as_of, months)
    lo = first_day(window[0])
    grid: dict[tuple[str, str, str, str], list[int]] = {}
    keys = (F.c.identified_month, F.c.root_cause, F.c.payer, F.c.cause)
    stmt = (
        select(*keys, func.count().label("n"), func.sum(F.c.cents).label("c"))
        .where(in_window(F.c.identified_month, F.c.identified_on, window, as_of))
        .group_by(*keys)
    )
    for r in s.execute(via(scoped(stmt, provider_id, F), "ix_credit_facts_identified")):
        grid[(r.identified_month, r.root_cause, r.payer, r.cause)] = [int(r.n), int(r.c or 0)]

    by_rc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    def count(dim: str, key: str, m: str, n: int, amt: int) -> None:
        seen[(dim, key)].add(m)
        sums[(dim, key)][0] += n
        sums[(dim, key)][1] += amt

    for (m, rc, payer, cause), (n, amt) in grid.items():
        by_rc[(m, rc)][0] += n
        by_rc[(m, rc)][1] += amt
        for dim, key in (("payer", payer), ("cause", cause), ("root_cause", rc)):
            count(dim, key, m, n, amt)
    for m, dept, n, amt in department.by_month(s, lo=lo, as_of=as_of, provider_id=provider_id):
        count("department", dept, m, n, amt)
    cells = [
        TrendCell(month=m, root_cause=rc, count=v[0], amount=from_cents(v[1]))
        for (m, rc), v in sorted(by_rc.items())
    ]
    growing: list[Growth] = []
    if len(window) >= 2:
        prev, cur = window[-2], window[-1]
        for rc in sorted({rc for _, rc in by_rc}):
            p, c = by_rc.get((prev, rc), [0, 0]), by_rc.get((cur, rc), [0, 0])
            if c[1] > p[1]:
                growing.append(
                    Growth(
                        root_cause=rc,
                        previous_count=p[0],
                        previous_amount=from_cents(p[1]),
                        current_count=c[0],
                        current_amount=from_cents(c[1]),
                        change_amount=from_cents(c[1] - p[1]),
                    )
                )
        growing.sort(key=lambda g: (-g.change_amount, g.root_cause))
    offenders = [
        Offender(
            dimension=dim,
            key=key,
            months_with_credits=len(ms),
            count=sums[(dim, key)][0],
            amount=from_cents(sums[(dim, key)][1]),
        )
        for (dim, key), ms in seen.items()
        if len(ms) >= min_months
    ]
    offenders.sort(key=lambda o: (o.dimension, -o.months_with_credits, -o.amount, o.key))
    return RootCauseTrend(
        as_of=as_of,
        provider_id=provider_id,
        months=window,
        cells=cells,
        growing=growing,
        min_months=min_months,
        offenders=offenders,
    )


__all__ = ["rates", "root_cause_trend"]
