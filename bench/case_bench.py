"""The case worklist (``gateway.resolve.worklist.worklist``, what ``GET /v1/cases``, the console
and ``gateway cases list`` run) with 100,000 active credits, in-process, p50/p99 per filter.

    python bench/case_bench.py seed --db sqlite:////tmp/cases.db [--credits 100000]
    python bench/case_bench.py time --db sqlite:////tmp/cases.db [--samples 40]

``seed`` bulk-inserts the credits (``bench/api_load.seed_credits``: 90 % open, 10 % pending,
+10 % resolved), opens their cases (``sync_cases``) and assigns every fifth case to one of five
analysts. ``time`` prints one JSON line per query, then times the case page (``case_detail``)
on a different case each sample. Run ``time`` with ``PYTHONPATH`` pointing at
another checkout to measure it on the same database (the peer: the tree before a change; its
queries that need newer columns are skipped).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("default page", {}),
    ("payer=PAYER07", {"payer": "PAYER07"}),
    ("state=open", {"state": ["open"]}),
    ("government=true", {"government": True}),
    ("due_within=30", {"due_within": 30}),
    ("sort=claim", {"sort": "claim"}),
    ("offset=5000", {"offset": 5000}),
    ("assignee=ana3", {"assignee": "ana3"}),
    ("assignee=none", {"assignee": "none"}),
    ("sort=assignee", {"sort": "assignee"}),
]


def seed(url: str, credits: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from api_load import seed_credits
    from sqlalchemy import select, update

    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.db.types import tbl
    from gateway.resolve.case_sync import sync_cases
    from gateway.resolve.tables import ResolutionCase

    db = Database.from_url(url)
    ensure_schema(db)
    db.dispose()
    seed_credits(url, credits)
    db = Database.from_url(url)
    try:
        with db.write() as s:
            sync_cases(s)
        rc = tbl(ResolutionCase)
        with db.write() as s:
            ids = [int(r[0]) for r in s.execute(select(rc.c.id).order_by(rc.c.id))]
            for k in range(5):
                chosen = ids[k::25]  # every fifth case, five analysts
                for i in range(0, len(chosen), 5000):
                    s.execute(
                        update(rc)
                        .where(rc.c.id.in_(chosen[i : i + 5000]))
                        .values(assignee=f"ana{k}")
                    )
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        db.dispose()


def timing(url: str, samples: int) -> None:
    from gateway.db.base import Database
    from gateway.read.worklist import WorklistFilter
    from gateway.resolve.worklist import worklist

    fields = set(WorklistFilter.model_fields)
    db = Database.from_url(url)
    today = dt.date.today()
    try:
        for label, params in QUERIES:
            if not set(params) <= fields:
                print(json.dumps({"query": label, "skipped": "filter not in this tree"}))
                continue
            try:
                f = WorklistFilter.model_validate(params)
            except ValueError:
                print(json.dumps({"query": label, "skipped": "value not in this tree"}))
                continue
            times = []
            for n in range(samples + 2):
                t0 = time.perf_counter()
                with db.read() as s:
                    page = worklist(s, f, today=today)
                if n >= 2:
                    times.append((time.perf_counter() - t0) * 1000)
            report(label, times, matches=page.totals.count)
        detail(db, samples, today)
    finally:
        db.dispose()


def detail(db: Any, samples: int, today: dt.date) -> None:
    """The case page (``GET /v1/cases/{id}``, ``gateway cases show``): one case with its
    evidence and computation, a different case each sample, spread over the table."""
    try:
        from gateway.resolve.casefile import case_detail
    except ImportError:
        print(json.dumps({"query": "case page", "skipped": "no case page in this tree"}))
        return
    from sqlalchemy import select

    from gateway.db.types import tbl
    from gateway.resolve.tables import ResolutionCase

    rc = tbl(ResolutionCase)
    with db.read() as s:
        ids = [int(r[0]) for r in s.execute(select(rc.c.credit_id).order_by(rc.c.id))]
    step = max(1, len(ids) // (samples + 2))
    times = []
    for n, credit_id in enumerate(ids[::step][: samples + 2]):
        t0 = time.perf_counter()
        with db.write() as s:  # as the route: the explanation uses a temporary table
            case_detail(s, credit_id, scope=None, phi=True, today=today)
        if n >= 2:
            times.append((time.perf_counter() - t0) * 1000)
    report("case page", times, cases=len(times))


def report(label: str, times: list[float], **counts: int) -> None:
    """One JSON line: the query, its counts, p50 and p99 (nearest rank) in ms."""
    times = sorted(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    line = {"query": label, **counts}
    line.update(p50_ms=round(statistics.median(times), 1), p99_ms=round(p99, 1))
    print(json.dumps(line))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["seed", "time"])
    ap.add_argument("--db", required=True)
    ap.add_argument("--credits", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=40)
    args = ap.parse_args()
    if args.mode == "seed":
        seed(args.db, args.credits)
    else:
        timing(args.db, args.samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
