"""Inventory by age, payer, cause, root cause and government; government deadlines; recovery
per month; days to resolve. Each is a few GROUP BY queries (integer cents) over
``credit_facts``, each walking the partial index that lists its keys in its order, then
Python folds the grouped rows: the work in Python is per group, never per credit."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import case, func, literal, select, true
from sqlalchemy.orm import Session

from gateway.reporting.base import (
    CT,
    RC,
    F,
    credits_with_cases,
    in_window,
    is_active,
    payer_key,
    root_cause_key,
    scoped,
    via,
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
    first_day,
    from_cents,
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
    g_bucket = age_bucket(F.c.identified_on, as_of).label("g_bucket")
    stmt = scoped(
        select(
            g_bucket,
            F.c.payer,
            F.c.cause,
            F.c.root_cause,
            F.c.government,
            func.count().label("n"),
            func.sum(F.c.cents).label("cents"),
        )
        .where(F.c.active == true(), F.c.identified_on <= as_of)
        .group_by(g_bucket, F.c.payer, F.c.cause, F.c.root_cause, F.c.government),
        provider_id,
        F,
    )
    stmt = via(stmt, "ix_credit_facts_active")
    dims: dict[str, dict[str, list[int]]] = defaultdict(dict)
    total = [0, 0]
    for r in s.execute(stmt):
        n, c = int(r.n), int(r.cents or 0)
        total[0] += n
        total[1] += c
        gov = "government" if r.government else "other"
        for dim, key in (
            ("age", r.g_bucket),
            ("payer", r.payer),
            ("cause", r.cause),
            ("root_cause", r.root_cause),
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


#: how a resolved credit's money went (``credit_facts.resolution_kind``, migration 0025): the
#: payer recouped it (PLB), the provider won the dispute, a refund (posted, or a refund or
#: patient-refund case), an offset, or otherwise
RECOVERY_KINDS = ("refunded", "offset", "recouped", "won", "closed_other")


def recovery(
    s: Session, *, as_of: dt.date, months: int = 6, provider_id: int | None = None
) -> Recovery:
    """Dollars identified, refunded, offset, recouped, disputed, won (and closed otherwise) per
    calendar month, the ``months`` months ending with ``as_of``'s."""
    window = months_back(as_of, months)
    table: dict[str, dict[str, int]] = {m: defaultdict(int) for m in window}
    # (month, day, column naming the cell or None for the fixed one, its index)
    for month, day, cell, fixed, index in (
        (F.c.identified_month, F.c.identified_on, None, "identified", "ix_credit_facts_identified"),
        (
            F.c.resolved_month,
            F.c.resolved_on,
            F.c.resolution_kind,
            "",
            "ix_credit_facts_resolved_kind",
        ),
        (F.c.disputed_month, F.c.disputed_on, None, "disputed", "ix_credit_facts_disputed"),
    ):
        key = literal(fixed) if cell is None else cell
        stmt = (
            select(month.label("g_m"), key.label("g_k"), func.sum(F.c.cents).label("c"))
            .where(day.is_not(None), in_window(month, day, window, as_of))
            .group_by(month, *([] if cell is None else [cell]))  # a literal key would sort
        )
        for r in s.execute(via(scoped(stmt, provider_id, F), index)):
            table[r.g_m][r.g_k] += int(r.c or 0)

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
    # one histogram {days: credits} per (dimension, key), each from the partial index that
    # lists (key, days): a walk of the index, no sort; "all" is the sum of the months'
    lo = first_day(window[0])
    hists: dict[str, dict[str, dict[int, int]]] = {
        dim: defaultdict(dict) for dim in ("all", "cause", "payer", "month")
    }
    for dim, key, index, where in (
        (
            "month",
            F.c.resolved_month,
            "ix_credit_facts_days_month",
            in_window(F.c.resolved_month, F.c.resolved_on, window, as_of),
        ),
        ("cause", F.c.cause, "ix_credit_facts_days_cause", F.c.resolved_on.between(lo, as_of)),
        ("payer", F.c.payer, "ix_credit_facts_days_payer", F.c.resolved_on.between(lo, as_of)),
    ):
        stmt = select(key.label("k"), F.c.resolve_days, func.count().label("n")).where(
            F.c.resolved_on.is_not(None), where
        )
        for k, d, n in s.execute(
            via(scoped(stmt.group_by(key, F.c.resolve_days), provider_id, F), index)
        ):
            hists[dim][str(k)][d] = n
            if dim == "month":
                overall = hists["all"]["all"]
                overall[d] = overall.get(d, 0) + n

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
