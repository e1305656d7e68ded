"""Every result of reconciliation for each shape of the reconcile bench, at a small size.

Issue 17 item 5 made the no-charge paths faster; this pins that they conclude exactly what
the per-claim code concluded before: each shape (``bench/reconcile_bench.py``'s, plus
``mixed``: no-837 and no-ledger claims paid by Medicare, Medicaid and aliased payers, with
patient money, a netted-out charge and a replacement 837) goes through four runs (full inside
the ledger lag, incremental after it, full, incremental after a new 835), and after each run
every credit, wait, line and posting variance, link and PLB match is dumped without ids or
clocks. ``tests/fixtures/reconcile/shapes/*.json`` were written by the code before the change:

    .venv/bin/python -m tests.integration.reconcile_shapes --write [--claims N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import insert, select, text

from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.db.types import tbl
from gateway.reconcile import run_reconcile
from gateway.reconcile.tables import (
    ClaimLink,
    ClaimWait,
    Credit,
    LedgerEntry,
    LineVariance,
    PlbMatch,
    PostingVariance,
    ReconcileRun,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "reconcile" / "shapes"
CLAIMS = 300
#: (as of, full run?, a new 835 first?)
STAGES = (
    (dt.date(2026, 7, 10), True, False),
    (dt.date(2026, 9, 30), False, False),
    (dt.date(2026, 9, 30), True, False),
    (dt.date(2026, 9, 30), False, True),
)
#: columns left out of the dump: ids and clocks
SKIP = {"id", "updated_at", "started_at", "finished_at", "duration_ms", "created_at"}


def _bench() -> ModuleType:
    path = ROOT / "bench" / "reconcile_bench.py"
    spec = importlib.util.spec_from_file_location("reconcile_bench_shapes", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
SHAPES: tuple[str, ...] = (*BENCH.SHAPES, "mixed")


def _mix(db: Database) -> None:
    """Vary the no-charge claims: payers with profiles (by alias too), filing indicators,
    types of bill, remittance dates, patient money and a netted charge without a posted
    balance, an 837I, a replacement 837 naming a payer claim control number."""
    with db.engine.begin() as conn:
        for sql in (
            "UPDATE claim_payments SET payer_id = CASE id % 7 WHEN 0 THEN 'MEDICARE-A' "
            "WHEN 1 THEN 'MCRB01' WHEN 2 THEN 'SKMCD0' WHEN 3 THEN 'AETNA' WHEN 4 THEN '12302' "
            "ELSE payer_id END",
            "UPDATE claim_payments SET filing_indicator = CASE id % 6 WHEN 0 THEN 'MA' "
            "WHEN 1 THEN 'MB' WHEN 2 THEN 'MC' WHEN 3 THEN '16' WHEN 4 THEN '' "
            "ELSE filing_indicator END",
            "UPDATE claim_payments SET facility_code = CASE id % 5 WHEN 0 THEN '11' "
            "WHEN 1 THEN '13' WHEN 2 THEN '21' ELSE facility_code END",
            "UPDATE claim_payments SET drg_code = '470' WHERE id % 11 = 0",
            "UPDATE claim_payments SET interest = 1.25 WHERE id % 13 = 0",
            "UPDATE remittances SET payment_date = '2026-06-01' WHERE id % 2 = 0",
            "UPDATE claims SET kind = '837I', facility_code = '13', filing_indicator = 'MB' "
            "WHERE seq % 4 = 0",
            "UPDATE claims SET filing_indicator = 'MA' WHERE seq % 4 = 1",
            "UPDATE claims SET frequency_code = '7', original_claim_number = 'I' || seq "
            "WHERE seq % 9 = 0",
        ):
            conn.execute(text(sql))
        rows = conn.execute(
            text(
                "SELECT provider_id, patient_control_number FROM claim_payments "
                "WHERE seq % 8 IN (0, 3) ORDER BY id"
            )
        ).all()
        file_id = conn.execute(text("SELECT MIN(id) FROM inbound_files")).scalar_one()
        line = 1
        for k, (pid, pcn) in enumerate(rows):
            entries = [("payment", "patient", "", Decimal("12.50"), "PAT")]
            if k % 2:
                entries = [
                    ("charge", "provider", "", Decimal("80.00"), "CHG"),
                    ("charge", "provider", "", Decimal("-80.00"), "CHGREV"),
                ]
            if k % 3 == 0:
                entries.append(("refund", "patient", "", Decimal("2.50"), "PREF"))
            if k % 5 == 0:
                entries.append(("refund", "payer", "ACME01", Decimal("5.00"), "REF"))
            for typ, party, payer, amount, ref in entries:
                line += 1
                conn.execute(
                    insert(tbl(LedgerEntry)).values(
                        file_id=file_id,
                        provider_id=pid,
                        line=line,
                        account_id=f"M{k % 40:04d}",
                        patient_control_number=pcn,
                        posted_date=dt.date(2026, 7, 1),
                        type=typ,
                        party=party,
                        payer_id=payer,
                        amount=amount,
                        reference=f"{ref}{k}",
                        entry_key=f"mix{line}",
                        occurrence=1,
                    )
                )


def build(db: Database, shape: str, claims: int) -> None:
    """The shape's rows (``mixed``: half no837, half noledger, then varied)."""
    if shape != "mixed":
        BENCH.generate(db, claims, shape=shape)
        return
    BENCH.generate(db, claims // 2, shape="no837")
    BENCH.generate(db, claims - claims // 2, start=claims // 2, shape="noledger")
    _mix(db)


def _value(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int((v * 100).to_integral_value())
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    if isinstance(v, float):
        return round(v * 100)
    return v


def dump(db: Database) -> dict[str, list[list[Any]]]:
    """Every stored result, rows sorted, ids and clocks left out."""
    out: dict[str, list[list[Any]]] = {}
    with db.read() as s:
        for model in (
            Credit,
            ClaimWait,
            LineVariance,
            PostingVariance,
            ClaimLink,
            PlbMatch,
            ReconcileRun,
        ):
            t = tbl(model)
            cols = [c for c in t.c if c.name not in SKIP]
            rows = [[_value(v) for v in r] for r in s.execute(select(*cols)).all()]
            out[t.name] = sorted(rows, key=lambda r: json.dumps(r, default=str))
    return out


def run_stages(db: Database, claims: int) -> list[dict[str, list[list[Any]]]]:
    """The four runs of ``STAGES``, and the dump after each."""
    dumps = []
    for day, full, new_835 in STAGES:
        if new_835:
            BENCH.new_remittance(db, max(claims // 10, 2), claims)
        run_reconcile(db, as_of=day, full=full, actor="shapes")
        dumps.append(dump(db))
    return dumps


def results(url: str, shape: str, claims: int) -> list[dict[str, list[list[Any]]]]:
    db = Database.from_url(url)
    try:
        upgrade(db)
        build(db, shape, claims)
        return run_stages(db, claims)
    finally:
        db.dispose()


def fixture(shape: str) -> Path:
    return FIXTURES / f"{shape}.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the fixtures")
    ap.add_argument("--claims", type=int, default=CLAIMS)
    ap.add_argument("--out", type=Path, default=FIXTURES, help="folder of the dumps")
    ap.add_argument("--shape", default="all")
    args = ap.parse_args(argv)
    shapes = SHAPES if args.shape == "all" else tuple(args.shape.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for shape in shapes:
            got = results(f"sqlite:///{tmp}/{shape}.db", shape, args.claims)
            target = args.out / f"{shape}.json"
            body = json.dumps({"claims": args.claims, "stages": got}, separators=(",", ":"))
            if args.write:
                target.write_text(body + "\n")
                print(f"{shape}: wrote {target} ({len(body):,} bytes)")
            else:
                same = (
                    target.exists()
                    and json.loads(target.read_text())["stages"] == json.loads(body)["stages"]
                )
                print(f"{shape}: {'same' if same else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
