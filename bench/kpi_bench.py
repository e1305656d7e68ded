"""KPI report endpoints at scale (not a test): 100,000 credits over 24 months, p50/p99 per
endpoint through the real app (auth, middleware, serialisation), with a peer measured in the
same run: ``/v1/reports/credits`` (the older aging report, which reads every credit in Python).

    python bench/kpi_bench.py --url sqlite:////tmp/kpi.db
    python bench/kpi_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5433/kpibench

Data: two providers, five payers (two government), one remittance per provider × payer ×
month with three claim payments per credit; credits spread evenly over the months, 60%
resolved (refund, offset or PLB recoupment, 1-120 days after identification), 8% disputed
(half of them won), the rest active; root causes on two cases in three; a ledger of three
charges per credited claim (``ledger_rows``), whose departments the repeat-offender report
reads. Rows go in with the driver's bulk path (executemany), not through X12; the KPI figures
kept at write time follow as they do in production (the ``credit_facts`` triggers fire on bulk
rows; each remittance's counts and each claim's department are taken once the rows are in). A
database already populated by an earlier run is reused as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, update

from bench.reconcile_bench import _file, _remittance
from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.db.models import Provider
from gateway.db.remittance_rows import ClaimPaymentRow, RemittanceRow
from gateway.db.types import tbl, utcnow
from gateway.ingest import remittance_counts
from gateway.reconcile import claim_departments
from gateway.reconcile.tables import Credit, LedgerEntry
from gateway.resolve.tables import CaseTransition, ResolutionCase

AS_OF = dt.date(2026, 6, 30)
PAYERS = (("MCR", True), ("MCD", True), ("COMA", False), ("COMB", False), ("COMC", False))
CAUSES = ("duplicate_payment", "overpayment", "coordination_of_benefits", "patient_overpayment")
ROOTS = (
    "registration_error",
    "cob_not_updated",
    "charge_capture_miss",
    "contract_loading",
    "duplicate_billing",
    "payer_error",
    "posting_error",
    "other",
)
ENDPOINTS = (
    "/v1/reports/kpi/inventory?as_of={d}",
    "/v1/reports/kpi/deadlines?as_of={d}",
    "/v1/reports/kpi/recovery?as_of={d}&months=24",
    "/v1/reports/kpi/days-to-resolve?as_of={d}&months=24",
    "/v1/reports/kpi/rates?as_of={d}&months=24",
    "/v1/reports/kpi/root-causes?as_of={d}&months=24",
    "/v1/reports/kpi/inventory?as_of={d}&provider=1111111112",
)
PEER = "/v1/reports/credits?by=cause"


def _months(n: int) -> list[dt.date]:
    y, m, out = AS_OF.year, AS_OF.month, []
    for _ in range(n):
        out.append(dt.date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


DEPARTMENTS = ("Emergency", "Radiology", "Laboratory", "Pharmacy", "")


def ledger_rows(conn: Any) -> int:
    """The providers' ledger: three charges on each credited claim (a named department on
    four in five, a revenue code only on the rest), what the repeat-offender report reads.
    Rows go in directly, so the claims' departments are chosen here as an import would."""
    ct, le = tbl(Credit), tbl(LedgerEntry)
    file_id = _file(conn, "kpi-bench-ledger.csv", "ledger")
    claims = conn.execute(select(ct.c.id, ct.c.provider_id, ct.c.patient_control_number)).all()
    batch: list[dict[str, Any]] = []
    for cid, pid, pcn in claims:
        for k in range(3):
            batch.append(
                {
                    "file_id": file_id,
                    "provider_id": pid,
                    "line": k,
                    "account_id": f"A{cid}",
                    "patient_control_number": pcn,
                    "posted_date": AS_OF,
                    "type": "charge",
                    "party": "provider",
                    "payer_id": "",
                    "amount": Decimal(100 + 50 * k),
                    "reference": "bench",
                    "entry_key": f"{pcn}-{k}",
                    "occurrence": 1,
                    "revenue_code": f"045{k}",
                    "department": DEPARTMENTS[(cid + k) % len(DEPARTMENTS)],
                }
            )
        if len(batch) >= 30000:
            conn.execute(insert(le), batch)
            batch = []
    if batch:
        conn.execute(insert(le), batch)
    return len(claims) * 3


def populate(db: Database, credits: int, months: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    month_days = _months(months)
    with db.engine.begin() as conn:
        pt = tbl(Provider)
        pids = [
            conn.execute(
                insert(pt)
                .values(key=f"npi:{npi}", npi=npi, name=f"P{npi}", created_at=utcnow())
                .returning(pt.c.id)
            ).scalar_one()
            for npi in ("1234567893", "1111111112")
        ]
        file_id = _file(conn, "kpi-bench.835", "835")
        remit: dict[tuple[int, str, int], int] = {}
        for pid in pids:
            for payer, _ in PAYERS:
                for mi, first in enumerate(month_days):
                    rid = _remittance(conn, file_id, pid, payer, 0)
                    conn.execute(
                        update(tbl(RemittanceRow))
                        .where(tbl(RemittanceRow).c.id == rid)
                        .values(payment_date=first + dt.timedelta(days=14))
                    )
                    remit[(pid, payer, mi)] = rid
        cps: list[dict[str, Any]] = []
        crs: list[dict[str, Any]] = []
        for i in range(credits):
            pid = pids[i % 2]
            payer, gov = PAYERS[i % len(PAYERS)]
            mi = i * months // credits
            ident = month_days[mi] + dt.timedelta(days=rng.randrange(28))
            if ident > AS_OF:
                ident = AS_OF
            for k in range(3):
                cps.append(
                    {
                        "file_id": file_id,
                        "remittance_id": remit[(pid, payer, mi)],
                        "provider_id": pid,
                        "payer_id": payer,
                        "seq": k,
                        "patient_control_number": f"K{i:07d}{k}",
                        "status_code": "1",
                        "charge": Decimal("300.00"),
                        "paid": Decimal("200.00") + k,
                        "filing_indicator": "MB" if gov else "CI",
                        "payer_claim_control_number": f"I{i:07d}{k}",
                        "facility_code": "11",
                        "frequency_code": "1",
                    }
                )
            patient = i % 17 == 0
            crs.append(
                {
                    "provider_id": pid,
                    "account_id": f"A{i}",
                    "patient_control_number": f"K{i:07d}0",
                    "owed_to": "patient" if patient else "payer",
                    "payer_id": "" if patient else payer,
                    "cause": CAUSES[i % len(CAUSES)],
                    "amount": Decimal(rng.randint(500, 90000)) / 100,
                    "government": gov and not patient,
                    "deadline_days": 60 if gov else None,
                    "identified_on": ident,
                    "due_by": ident + dt.timedelta(days=60) if gov else None,
                    "status": "open",
                    "first_run_id": 1,
                    "last_run_id": 1,
                    "updated_at": utcnow(),
                }
            )
            if len(cps) >= 30000:
                conn.execute(insert(tbl(ClaimPaymentRow)), cps)
                cps = []
        if cps:
            conn.execute(insert(tbl(ClaimPaymentRow)), cps)
        for j in range(0, len(crs), 20000):
            conn.execute(insert(tbl(Credit)), crs[j : j + 20000])
        ct, rc, tt = tbl(Credit), tbl(ResolutionCase), tbl(CaseTransition)
        rows = conn.execute(select(ct.c.id, ct.c.provider_id, ct.c.identified_on)).all()
        cases, plans = [], []
        for r in rows:
            roll = rng.random()
            state, method, hist = "open", None, [(None, "open", r.identified_on)]
            done = r.identified_on + dt.timedelta(days=rng.randint(1, 120))
            if roll < 0.6 and done <= AS_OF:
                method = rng.choice(("refund", "offset", None))
                frm = {"refund": "refund_sent", "offset": "offset_requested", None: "open"}[method]
                state = "resolved"
                hist.append((frm, "resolved", done))
            elif roll < 0.68:
                state = "disputed"
                day = min(r.identified_on + dt.timedelta(days=5), AS_OF)
                hist.append(("open", "disputed", day))
                if rng.random() < 0.5 and done <= AS_OF:
                    state = "resolved"
                    hist.append(("disputed", "resolved", done))
            resolved = [h for h in hist if h[1] == "resolved"]
            disputed = [h for h in hist if h[1] == "disputed"]
            cases.append(
                {
                    "credit_id": r.id,
                    "provider_id": r.provider_id,
                    "state": state,
                    "method": method,
                    "root_cause": rng.choice(ROOTS) if rng.random() < 0.67 else None,
                    # the milestones gateway.resolve.history keeps (bulk rows skip the writer)
                    "resolved_on": resolved[-1][2] if resolved else None,
                    "resolved_from": resolved[-1][0] if resolved else None,
                    "disputed_on": disputed[0][2] if disputed else None,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
            )
            plans.append(hist)
        for j in range(0, len(cases), 20000):
            conn.execute(insert(rc), cases[j : j + 20000])
        ids = dict(conn.execute(select(rc.c.credit_id, rc.c.id)).all())
        trans = []
        for r, hist in zip(rows, plans, strict=True):
            for frm, to, day in hist:
                trans.append(
                    {
                        "case_id": ids[r.id],
                        "from_state": frm,
                        "to_state": to,
                        "actor": "bench",
                        "at": dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
                        "reason": "bench",
                        "details": None,
                    }
                )
        for j in range(0, len(trans), 20000):
            conn.execute(insert(tt), trans[j : j + 20000])
        ledger_rows(conn)
    # what the loader and the ledger import keep (bulk rows skip them): each remittance's
    # counts, each claim's department
    with db.write() as s:
        rm, ct = tbl(RemittanceRow), tbl(Credit)
        remittance_counts.recount(s, [int(i) for i in s.execute(select(rm.c.id)).scalars()])
        for pid in {int(p) for p in s.execute(select(ct.c.provider_id).distinct()).scalars()}:
            pcns = s.execute(
                select(ct.c.patient_control_number).where(ct.c.provider_id == pid)
            ).scalars()
            claim_departments.refresh(s, pid, list(pcns))
    with db.engine.begin() as conn:
        ct = tbl(Credit)
        # a few PLB recoupments resolved by reconciliation (no case state change needed)
        conn.execute(
            update(ct)
            .where(ct.c.id % 50 == 0)
            .values(status="resolved", resolution="recouped_by_plb", resolved_on=AS_OF)
        )


def measure(client: Any, headers: dict[str, str], path: str, rounds: int) -> tuple[float, float]:
    client.get(path, headers=headers)  # warm
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text[:300]
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--credits", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="kpi-bench-")
    os.environ.setdefault("XDG_CONFIG_HOME", home)  # the app's keys file goes here, not ~
    from fastapi.testclient import TestClient

    from gateway.api.app import create_app
    from gateway.api.keys import Role, create_key
    from gateway.logging import configure_logging
    from gateway.settings import get_settings

    configure_logging("WARNING", "json")
    db = Database.from_url(args.url)
    upgrade(db)
    t0 = time.perf_counter()
    with db.read() as s:
        have = s.execute(select(func.count()).select_from(tbl(Credit))).scalar_one()
    if have:
        print(f"reusing the {have} credits already there")
    else:
        populate(db, args.credits, args.months)
    print(
        f"populated {args.credits} credits over {args.months} months "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    settings = get_settings(
        data_dir=Path(home) / "data", database_url=args.url, log_level="WARNING"
    )
    app = create_app(settings)
    with db.write() as s:
        key = create_key(
            s,
            name=f"bench-{time.time_ns()}",
            role=Role.OPS,
            provider=None,
            pepper=app.state.ctx.pepper,
            actor="bench",
        ).key
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        print(f"{'endpoint':64} {'p50 ms':>8} {'p99 ms':>8}")
        for path in (*ENDPOINTS, PEER):
            p50, p99 = measure(client, headers, path.format(d=AS_OF.isoformat()), args.rounds)
            print(f"{path.format(d='D'):64} {p50:8.1f} {p99:8.1f}")
    db.dispose()


if __name__ == "__main__":
    main()
