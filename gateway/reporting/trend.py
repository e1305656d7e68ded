"""The benchmark rates (credits per 1,000 claims, credit dollars per $1,000 paid, per payer and
month) and the root-cause trend with repeat offenders."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from gateway.db.remittance_rows import ClaimPaymentRow, RemittanceRow
from gateway.db.types import tbl
from gateway.reconcile.sql import COUNTED_CLAIM_PAYMENT
from gateway.reconcile.tables import PayerAlias
from gateway.reporting import department
from gateway.reporting.base import CT, credits_with_cases, payer_key, root_cause_key, scoped
from gateway.reporting.models import Growth, Offender, RateRow, Rates, RootCauseTrend, TrendCell
from gateway.reporting.sqlparts import cents, first_day, from_cents, month_of, months_back, ratio

#: CLP02 22: a reversal of a previous payment (it is not another claim paid)
REVERSAL = "22"


def rates(s: Session, *, as_of: dt.date, months: int = 6, provider_id: int | None = None) -> Rates:
    """Per canonical payer and month: claims paid (835 claim payments that are not reversals,
    by the remittance's payment date, else its production date; a re-sent ERA's copy of a claim
    payment counts once, as reconciliation counts it), net dollars paid, credits identified
    that month owed to that payer, and the two rates."""
    window = months_back(as_of, months)
    lo = first_day(window[0])
    cp, rm, pa = tbl(ClaimPaymentRow).alias("cp"), tbl(RemittanceRow), tbl(PayerAlias)
    paid_on = func.coalesce(rm.c.payment_date, rm.c.production_date)
    # remittances of the window and their month (few rows), then claim payments grouped by
    # remittance and payer id (the remittance index's order: no join, no sort, no per-row date
    # function), kept when their remittance is in the window; aliases are folded in Python
    rstmt = select(rm.c.id, month_of(s, paid_on).label("m")).where(paid_on >= lo, paid_on <= as_of)
    if provider_id is not None:
        rstmt = rstmt.where(rm.c.provider_id == provider_id)
    month_of_remit = {int(r.id): str(r.m) for r in s.execute(rstmt)}
    alias = {str(r.alias): str(r.payer_id) for r in s.execute(select(pa.c.alias, pa.c.payer_id))}
    claims_stmt = (
        select(
            cp.c.remittance_id,
            cp.c.payer_id,
            func.sum(case((cp.c.status_code != REVERSAL, 1), else_=0)).label("claims"),
            func.sum(cents(cp.c.paid)).label("paid"),
        )
        .where(text(COUNTED_CLAIM_PAYMENT))  # a re-sent ERA's claims are paid once
        .group_by(cp.c.remittance_id, cp.c.payer_id)
    )
    if provider_id is not None:
        claims_stmt = claims_stmt.where(cp.c.provider_id == provider_id)
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in s.execute(claims_stmt):
        m = month_of_remit.get(int(r.remittance_id))
        if m is None:
            continue
        cell = cells[(alias.get(r.payer_id, r.payer_id), m)]
        cell[0] += int(r.claims or 0)
        cell[1] += int(r.paid or 0)
    im = month_of(s, CT.c.identified_on)
    for r in s.execute(
        scoped(
            select(
                CT.c.payer_id.label("g_payer"),
                gim := im.label("g_m"),
                func.count().label("n"),
                func.sum(cents(CT.c.amount)).label("c"),
            )
            .where(CT.c.payer_id != "", CT.c.identified_on >= lo, CT.c.identified_on <= as_of)
            .group_by(CT.c.payer_id, gim),
            provider_id,
        )
    ):
        cell = cells[(r.g_payer, r.g_m)]
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
    im = month_of(s, CT.c.identified_on)
    grid: dict[tuple[str, str, str, str], list[int]] = {}
    for r in s.execute(
        scoped(
            select(
                tm := im.label("g_m"),
                trc := root_cause_key().label("g_rc"),
                tp := payer_key().label("g_payer"),
                CT.c.cause,
                func.count().label("n"),
                func.sum(cents(CT.c.amount)).label("c"),
            )
            .select_from(credits_with_cases())
            .where(CT.c.identified_on >= lo, CT.c.identified_on <= as_of)
            .group_by(tm, trc, tp, CT.c.cause),
            provider_id,
        )
    ):
        grid[(r.g_m, r.g_rc, r.g_payer, r.cause)] = [int(r.n), int(r.c or 0)]

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
