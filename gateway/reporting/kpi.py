"""Inventory by age, payer, cause, root cause and government; government deadlines; recovery
per month; days to resolve. Each is a few GROUP BY queries (integer cents), then Python folds
the grouped rows: the work in Python is per group, never per credit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from gateway.reporting.base import (
    CT,
    RC,
    credits_with_cases,
    is_active,
    is_resolved,
    payer_key,
    root_cause_key,
    scoped,
)
from gateway.reporting.models import (
    Bucket,
    DaysToResolve,
    DeadlineRow,
    Deadlines,
    Inventory,
    Recovery,
    RecoveryMonth,
    ResolveStat,
)
from gateway.reporting.sqlparts import (
    BUCKETS,
    age_bucket,
    cents,
    days_between,
    first_day,
    from_cents,
    month_of,
    months_back,
    nearest_rank,
)

ZERO = Decimal("0.00")


def _buckets(cells: dict[str, list[int]], order: tuple[str, ...] | None = None) -> list[Bucket]:
    keys = list(order) if order else sorted(cells, key=lambda k: (-cells[k][1], k))
    return [
        Bucket(key=k, count=cells.get(k, [0, 0])[0], amount=from_cents(cells.get(k, [0, 0])[1]))
        for k in keys
    ]


def inventory(s: Session, *, as_of: dt.date, provider_id: int | None = None) -> Inventory:
    """Active credits identified on or before ``as_of``, by age bucket, payer, cause, root
    cause and government flag, with count and dollar totals."""
    bucket = age_bucket(CT.c.identified_on, as_of)
    g_bucket, g_payer, g_rc = (
        bucket.label("g_bucket"),
        payer_key().label("g_payer"),
        root_cause_key().label("g_rc"),
    )
    stmt = scoped(
        select(
            g_bucket,
            g_payer,
            CT.c.cause,
            g_rc,
            CT.c.government,
            func.count().label("n"),
            func.sum(cents(CT.c.amount)).label("cents"),
        )
        .select_from(credits_with_cases())
        .where(is_active(), CT.c.identified_on <= as_of)
        .group_by(g_bucket, g_payer, CT.c.cause, g_rc, CT.c.government),
        provider_id,
    )
    dims: dict[str, dict[str, list[int]]] = defaultdict(dict)
    total = [0, 0]
    for r in s.execute(stmt):
        n, c = int(r.n), int(r.cents or 0)
        total[0] += n
        total[1] += c
        gov = "government" if r.government else "other"
        for dim, key in (
            ("age", r.g_bucket),
            ("payer", r.g_payer),
            ("cause", r.cause),
            ("root_cause", r.g_rc),
            ("government", gov),
        ):
            cell = dims[dim].setdefault(str(key), [0, 0])
            cell[0] += n
            cell[1] += c
    return Inventory(
        as_of=as_of,
        provider_id=provider_id,
        total_count=total[0],
        total_amount=from_cents(total[1]),
        by_age=_buckets(dims["age"], BUCKETS),
        by_payer=_buckets(dims["payer"]),
        by_cause=_buckets(dims["cause"]),
        by_root_cause=_buckets(dims["root_cause"]),
        by_government=_buckets(dims["government"], ("government", "other")),
    )


def deadlines(
    s: Session,
    *,
    as_of: dt.date,
    near_days: int = 14,
    provider_id: int | None = None,
    limit: int = 500,
) -> Deadlines:
    """Active government credits due before ``as_of`` (past) or within ``near_days`` (near),
    soonest first; totals count every one, ``rows`` holds the first ``limit``."""
    horizon = as_of + dt.timedelta(days=near_days)
    base = scoped(
        select(CT.c.id).select_from(credits_with_cases()),
        provider_id,
    ).where(
        is_active(), CT.c.government.is_(True), CT.c.due_by.is_not(None), CT.c.due_by <= horizon
    )
    past = CT.c.due_by < as_of
    totals = s.execute(
        base.with_only_columns(
            func.sum(case((past, 1), else_=0)).label("pn"),
            func.sum(case((past, cents(CT.c.amount)), else_=0)).label("pc"),
            func.sum(case((past, 0), else_=1)).label("nn"),
            func.sum(case((past, 0), else_=cents(CT.c.amount))).label("nc"),
        )
    ).one()
    rows = []
    for r in s.execute(
        base.with_only_columns(
            CT.c.id,
            payer_key().label("payer"),
            CT.c.cause,
            root_cause_key().label("root_cause"),
            CT.c.amount,
            CT.c.identified_on,
            CT.c.due_by,
            func.coalesce(RC.c.state, CT.c.status).label("state"),
        )
        .order_by(CT.c.due_by, CT.c.id)
        .limit(limit)
    ):
        rows.append(
            DeadlineRow(
                credit_id=r.id,
                payer_id=r.payer,
                cause=r.cause,
                root_cause=r.root_cause,
                amount=Decimal(r.amount).quantize(Decimal("0.01")),
                identified_on=r.identified_on,
                due_by=r.due_by,
                days_left=(r.due_by - as_of).days,
                case_state=r.state,
                status="past" if r.due_by < as_of else "near",
            )
        )
    pn, nn = int(totals.pn or 0), int(totals.nn or 0)
    return Deadlines(
        as_of=as_of,
        provider_id=provider_id,
        near_days=near_days,
        past_count=pn,
        past_amount=from_cents(totals.pc),
        near_count=nn,
        near_amount=from_cents(totals.nc),
        rows=rows,
        truncated=pn + nn > len(rows),
    )


RECOVERY_KINDS = ("refunded", "offset", "recouped", "won", "closed_other")


def _resolution_kind(res_from: Any) -> Any:
    """How a resolved credit's money went: the payer recouped it (PLB), the provider won the
    dispute, a refund (posted, or a refund/patient-refund case), an offset, or otherwise."""
    return case(
        (CT.c.resolution == "recouped_by_plb", literal("recouped")),
        (res_from == "disputed", literal("won")),
        (CT.c.resolution == "refund_posted", literal("refunded")),
        (RC.c.method == "offset", literal("offset")),
        (RC.c.method.in_(("refund", "patient_refund")), literal("refunded")),
        else_=literal("closed_other"),
    )


def _resolved_rows(provider_id: int | None) -> tuple[Any, Any, Any]:
    """(statement base, resolution-day expression, kind expression) of resolved credits."""
    day = func.coalesce(CT.c.resolved_on, RC.c.resolved_on)
    stmt = scoped(
        select(CT.c.id).select_from(credits_with_cases()).where(is_resolved()), provider_id
    )
    return stmt, day, _resolution_kind(RC.c.resolved_from)


def recovery(
    s: Session, *, as_of: dt.date, months: int = 6, provider_id: int | None = None
) -> Recovery:
    """Dollars identified, refunded, offset, recouped, disputed, won (and closed otherwise) per
    calendar month, the ``months`` months ending with ``as_of``'s."""
    window = months_back(as_of, months)
    lo = first_day(window[0])
    table: dict[str, dict[str, int]] = {m: defaultdict(int) for m in window}

    ident_month = month_of(s, CT.c.identified_on)
    for r in s.execute(
        scoped(
            select(g := ident_month.label("g_m"), func.sum(cents(CT.c.amount)).label("c"))
            .where(CT.c.identified_on >= lo, CT.c.identified_on <= as_of)
            .group_by(g),
            provider_id,
        )
    ):
        if r.g_m in table:
            table[r.g_m]["identified"] += int(r.c or 0)

    stmt, day, kind = _resolved_rows(provider_id)
    res_month = month_of(s, day)
    for r in s.execute(
        stmt.with_only_columns(
            gm := res_month.label("g_m"),
            gk := kind.label("g_k"),
            func.sum(cents(CT.c.amount)).label("c"),
        )
        .where(day >= lo, day <= as_of)
        .group_by(gm, gk)
    ):
        if r.g_m in table:
            table[r.g_m][r.g_k] += int(r.c or 0)

    for r in s.execute(
        scoped(
            select(
                dm := month_of(s, RC.c.disputed_on).label("g_m"),
                func.sum(cents(CT.c.amount)).label("c"),
            )
            .select_from(RC.join(CT, CT.c.id == RC.c.credit_id))
            .where(RC.c.disputed_on >= lo, RC.c.disputed_on <= as_of)
            .group_by(dm),
            provider_id,
        )
    ):
        if r.g_m in table:
            table[r.g_m]["disputed"] += int(r.c or 0)

    def row(month: str, cells: dict[str, int]) -> RecoveryMonth:
        return RecoveryMonth(
            month=month,
            identified=from_cents(cells.get("identified")),
            refunded=from_cents(cells.get("refunded")),
            offset=from_cents(cells.get("offset")),
            recouped=from_cents(cells.get("recouped")),
            disputed=from_cents(cells.get("disputed")),
            won=from_cents(cells.get("won")),
            closed_other=from_cents(cells.get("closed_other")),
        )

    totals: dict[str, int] = defaultdict(int)
    for cells in table.values():
        for k, v in cells.items():
            totals[k] += v
    return Recovery(
        as_of=as_of,
        provider_id=provider_id,
        months=[row(m, table[m]) for m in window],
        total=row("total", totals),
    )


def days_to_resolve(
    s: Session, *, as_of: dt.date, months: int = 6, provider_id: int | None = None
) -> DaysToResolve:
    """Median and 90th percentile (nearest rank) of identification → resolution days of the
    credits resolved in the window, overall and per cause, payer and month of resolution."""
    window = months_back(as_of, months)
    lo = first_day(window[0])
    stmt, day, _ = _resolved_rows(provider_id)
    days = days_between(s, CT.c.identified_on, day)
    res_month = month_of(s, day)
    # One histogram {days: credits} per (dimension, key), folded from tens of thousands of
    # (cause, payer, month, days) groups with flat tuple-keyed counters (the fold was slower
    # than the query with nested dicts).
    flat: dict[tuple[str, str, int], int] = defaultdict(int)
    for cause, payer, month, d, n in s.execute(
        stmt.with_only_columns(
            CT.c.cause,
            gp := payer_key().label("g_payer"),
            gm := res_month.label("g_m"),
            gd := days.label("g_d"),
            func.count().label("n"),
        )
        .where(day.is_not(None), day >= lo, day <= as_of)
        .group_by(CT.c.cause, gp, gm, gd)
    ).all():
        d = max(0, int(d))
        flat["all", "all", d] += n
        flat["cause", cause, d] += n
        flat["payer", payer, d] += n
        flat["month", month, d] += n
    hists: dict[str, dict[str, dict[int, int]]] = {
        dim: defaultdict(dict) for dim in ("all", "cause", "payer", "month")
    }
    for (dim, key, d), n in flat.items():
        hists[dim][str(key)][d] = n

    def stats(dim: str, order: list[str] | None = None) -> list[ResolveStat]:
        keys = order if order is not None else sorted(hists[dim])
        return [
            ResolveStat(
                key=k,
                count=sum(hists[dim].get(k, {}).values()),
                median_days=nearest_rank(hists[dim].get(k, {}), 0.5),
                p90_days=nearest_rank(hists[dim].get(k, {}), 0.9),
            )
            for k in keys
        ]

    return DaysToResolve(
        as_of=as_of,
        provider_id=provider_id,
        overall=stats("all", ["all"])[0],
        by_cause=stats("cause"),
        by_payer=stats("payer"),
        by_month=stats("month", window),
    )


__all__ = ["RECOVERY_KINDS", "days_to_resolve", "deadlines", "inventory", "recovery"]
