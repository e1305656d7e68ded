"""Reconciliation at hospital scale (not a test): synthetic claims straight into the tables.

    python bench/reconcile_bench.py --url sqlite:////tmp/rb.db --claims 1000000
    python bench/reconcile_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5433/bench

Generates N claims over N*0.3 accounts and two providers (one 835 "file" per 50,000 claims,
one ledger file per provider): every claim has a charge, a payer payment with CO and PR, the
provider's posting of it and the patient's PR payment; 5% carry a credit of mixed cause
(duplicate payment, both payers primary, payer overpaid, copay paid twice, unexplained
provider adjustment). Rows go in with the driver's bulk path (sqlite3 executemany, PostgreSQL
COPY), not through X12, with their resend keys; ``--resend-every N`` also stores a re-sent copy
(a twin row, not counted) of every Nth claim's payment. Then: a full reconcile, and an
incremental one after one new 835 file of 2,000 claim payments. Prints seconds, candidates,
credits and peak RSS.
"""

# ruff: noqa: S608  -- table and column names are this script's constants

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import resource
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.db.models import (
    FunctionalGroupRow,
    InboundFile,
    InterchangeRow,
    Provider,
    RemittanceRow,
    TransactionRow,
    tbl,
    utcnow,
)
from gateway.ingest.resend import cents, key
from gateway.reconcile import run_reconcile

CHUNK = 50_000
DAY = dt.date(2026, 7, 1)
CP_COLS = ("id", "file_id", "remittance_id", "provider_id", "payer_id", "seq",
           "patient_control_number", "status_code", "charge", "paid", "patient_responsibility",
           "filing_indicator", "payer_claim_control_number", "facility_code", "frequency_code",
           "statement_from", "statement_to", "received_date", "resend_key", "resend_twin")
ADJ_COLS = ("file_id", "claim_payment_id", "level", "group_code", "reason", "amount")
LE_COLS = ("file_id", "provider_id", "line", "account_id", "patient_control_number",
           "posted_date", "type", "party", "payer_id", "amount", "reference", "entry_key",
           "occurrence")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Loader:
    """Bulk rows through the raw driver connection of one SQLAlchemy connection."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pg = db.dialect == "postgresql"

    def rows(self, conn: Any, table: str, cols: tuple[str, ...],
             rows: list[tuple[Any, ...]]) -> None:
        raw = conn.connection.dbapi_connection
        if self.pg:
            with raw.cursor() as cur, cur.copy(
                    f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join("?" * len(cols))
            raw.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                            [tuple(v.isoformat() if isinstance(v, dt.date) else
                                   (str(v) if isinstance(v, Decimal) else v) for v in r)
                             for r in rows])


def _file(conn: Any, name: str, kind: str) -> int:
    sha = hashlib.sha256(f"{name}{time.time_ns()}".encode()).hexdigest()
    return int(conn.execute(insert(tbl(InboundFile)).values(
        sha256=sha, size=1, source="bench", original_name=name, kind=kind, state="processed",
        attempts=1, allow_duplicate_interchange=False, claim_count=0, received_at=utcnow(),
        processed_at=utcnow()).returning(tbl(InboundFile).c.id)).scalar_one())


_interchanges = iter(range(1, 10**9))


def _remittance(conn: Any, file_id: int, provider_id: int, payer: str, n: int) -> int:
    n = next(_interchanges) + n
    ic = conn.execute(insert(tbl(InterchangeRow)).values(
        file_id=file_id, sender_qualifier="ZZ", sender_id="BENCH", receiver_qualifier="ZZ",
        receiver_id="RCV", control_number=f"{n:09d}", date=DAY, usage="P", forced=False,
    ).returning(tbl(InterchangeRow).c.id)).scalar_one()
    g = conn.execute(insert(tbl(FunctionalGroupRow)).values(
        file_id=file_id, interchange_id=ic, functional_id="HP", sender_id="BENCH",
        receiver_id="RCV", control_number=str(n), version="005010X221A1", date=DAY,
    ).returning(tbl(FunctionalGroupRow).c.id)).scalar_one()
    t = conn.execute(insert(tbl(TransactionRow)).values(
        file_id=file_id, group_id=g, control_number="0001", kind="835",
        guide="005010X221A1", segment_count=0).returning(tbl(TransactionRow).c.id)).scalar_one()
    return int(conn.execute(insert(tbl(RemittanceRow)).values(
        file_id=file_id, transaction_id=t, provider_id=provider_id, payer_id=payer,
        payer_name=payer, payee_name="BENCH", payee_npi=None, payee_tin=None,
        amount=Decimal(0), credit_debit="C", method="ACH", payment_format="CCP",
        payment_date=DAY, trace_number=f"T{n}", trace_originator="1", production_date=DAY,
    ).returning(tbl(RemittanceRow).c.id)).scalar_one())


def claim_rows(i: int, cp_id: int, file_id: int, remit: dict[str, int],
               provider: int, resend_every: int = 0) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Rows of claim ``i`` as (table, row); 5% of claims carry a credit (cause by i); with
    ``resend_every``, every Nth claim's first payment is stored a second time as a resend."""
    pcn = f"C{i:08d}"
    charge = Decimal(100 + i % 400)
    co = (charge * Decimal("0.2")).quantize(Decimal("0.01"))
    pr = (charge * Decimal("0.1")).quantize(Decimal("0.01"))
    paid = charge - co - pr
    credit = i % 20 == 0
    cause = (i // 20) % 5 if credit else -1
    if cause == 2:  # payer overpaid: allowed lower than what it paid
        co += Decimal(10)
    cps = [("ACME01", "1", paid, co, pr, f"I{i}")]
    if cause == 0:
        cps.append(("ACME01", "1", paid, co, pr, f"J{i}"))
    if cause == 1:
        cps.append(("BETA02", "1", paid, co, pr, f"K{i}"))
    copies = [(payer, status, p, c, r, icn, False) for payer, status, p, c, r, icn in cps]
    if resend_every and i % resend_every == 7:
        copies.append((*copies[0][:6], True))
    for k, (payer, status, p, c, r, icn, twin) in enumerate(copies):
        rkey = key(("CLP", payer, f"T{file_id}", "", pcn, icn, status, str(cents(p)), "1"))
        yield "cp", (cp_id + k, file_id, remit[payer], provider, payer, i, pcn, status, charge,
                     p, r, "12", icn, "11", "1", DAY, DAY, DAY, rkey, twin)
        yield "adj", (file_id, cp_id + k, "claim", "CO", "45", c)
        yield "adj", (file_id, cp_id + k, "claim", "PR", "1", r)
        if not twin:
            yield "le", ("payment", "payer", payer, p, f"EFT{i}-{k}")
    yield "le", ("charge", "provider", "", charge, f"CHG{i}")
    yield "le", ("payment", "patient", "", pr, f"PAT{i}")
    if cause == 3:
        yield "le", ("payment", "patient", "", pr, f"PAT{i}-again")
    if cause == 4:
        yield "le", ("adjustment", "provider", "", Decimal(5), f"ADJ{i}")
    yield "n", (len(copies),)


def generate(db: Database, claims: int, *, start: int = 0, payers_only: bool = False,
             resend_every: int = 0) -> float:
    """Insert ``claims`` synthetic claims (ids from ``start``); returns seconds."""
    began = time.perf_counter()
    loader = Loader(db)
    accounts = max(int(claims * 0.3), 1)
    with db.engine.begin() as conn:
        providers = []
        for npi in ("1000000001", "1000000002"):
            found = conn.execute(text("SELECT id FROM providers WHERE key = :k"),
                                 {"k": f"npi:{npi}"}).scalar()
            if found is None:
                found = conn.execute(insert(tbl(Provider)).values(
                    key=f"npi:{npi}", npi=npi, tin=None, name="BENCH", created_at=utcnow(),
                ).returning(tbl(Provider).c.id)).scalar_one()
            providers.append(int(found))
        ledger_files = {p: _file(conn, f"ledger-{p}-{start}", "ledger") for p in providers}
        next_id = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM claim_payments"))
                      .scalar_one())
        for lo in range(start, start + claims, CHUNK):
            hi = min(lo + CHUNK, start + claims)
            file_id = _file(conn, f"835-{lo}", "835")
            remits = {p: {payer: _remittance(conn, file_id, p, payer, start * 10)
                          for payer in ("ACME01", "BETA02")} for p in providers}
            cp_rows: list[tuple[Any, ...]] = []
            adj_rows: list[tuple[Any, ...]] = []
            le_rows: list[tuple[Any, ...]] = []
            for i in range(lo, hi):
                provider = providers[i % 2]
                pcn, acct = f"C{i:08d}", f"A{i % accounts:07d}"
                for kind, row in claim_rows(i, next_id, file_id, remits[provider], provider,
                                            resend_every):
                    if kind == "cp":
                        cp_rows.append(row)
                    elif kind == "adj":
                        adj_rows.append(row)
                    elif kind == "n":
                        next_id += row[0]
                    elif not payers_only:
                        typ, party, payer, amount, ref = row
                        key = hashlib.sha256(f"{acct}{pcn}{typ}{party}{payer}{amount}{ref}"
                                             .encode()).hexdigest()
                        le_rows.append((ledger_files[provider], provider, len(le_rows) + 2,
                                        acct, pcn, DAY, typ, party, payer, amount, ref, key, 1))
            loader.rows(conn, "claim_payments", CP_COLS, cp_rows)
            loader.rows(conn, "adjustments", ADJ_COLS, adj_rows)
            if le_rows:
                loader.rows(conn, "ledger_entries", LE_COLS, le_rows)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - began


def new_remittance(db: Database, claims: int, total: int) -> None:
    """One new 835 file: ``claims`` duplicate payments of existing claims."""
    with db.engine.begin() as conn:
        provider = int(conn.execute(text("SELECT MIN(id) FROM providers")).scalar_one())
        file_id = _file(conn, "835-new", "835")
        remit = _remittance(conn, file_id, provider, "ACME01", 900_000_000 + time.time_ns() % 10**7)
        next_id = int(conn.execute(text("SELECT MAX(id) + 1 FROM claim_payments")).scalar_one())
        step = max(total // claims, 2) & ~1  # even claim numbers belong to the first provider
        cps, adjs = [], []
        for k in range(claims):
            i = 2 + k * step
            charge = Decimal(100 + i % 400)
            co = (charge * Decimal("0.2")).quantize(Decimal("0.01"))
            pr = (charge * Decimal("0.1")).quantize(Decimal("0.01"))
            rkey = key(("CLP", "ACME01", f"T{file_id}", "", f"C{i:08d}", f"N{i}-{file_id}",
                        "1", str(cents(charge - co - pr)), "1"))
            cps.append((next_id + k, file_id, remit, provider, "ACME01", k, f"C{i:08d}", "1",
                        charge, charge - co - pr, pr, "12", f"N{i}-{file_id}", "11", "1",
                        DAY, DAY, DAY, rkey, False))
            adjs.append((file_id, next_id + k, "claim", "CO", "45", co))
        Loader(db).rows(conn, "claim_payments", CP_COLS, cps)
        Loader(db).rows(conn, "adjustments", ADJ_COLS, adjs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--claims", type=int, default=1_000_000)
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--resend-every", type=int, default=0,
                    help="also store a re-sent copy of every Nth claim's payment (0: none)")
    args = ap.parse_args()
    db = Database.from_url(args.url)
    upgrade(db)
    if not args.skip_generate:
        secs = generate(db, args.claims, resend_every=args.resend_every)
        print(f"generated {args.claims:,} claims in {secs:.1f} s (rss {rss_mb():.0f} MB)")
    with db.engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                  for t in ("claim_payments", "adjustments", "ledger_entries")}
    print("rows:", counts)
    before = rss_mb()
    t0 = time.perf_counter()
    res = run_reconcile(db, as_of=dt.date(2026, 9, 30), full=True, actor="bench")
    print(f"full reconcile: {time.perf_counter() - t0:.1f} s, candidates {res.candidates:,}, "
          f"new credits {res.credits_new:,}, variances {res.variances:,}, "
          f"peak rss {rss_mb():.0f} MB (before {before:.0f} MB)")
    new_remittance(db, 2000, args.claims)
    t0 = time.perf_counter()
    res = run_reconcile(db, as_of=dt.date(2026, 9, 30), actor="bench")
    print(f"incremental after one 835 of 2,000 claims: {time.perf_counter() - t0:.2f} s, "
          f"mode {res.mode}, scope {res.scope_claims:,}, candidates {res.candidates:,}, "
          f"new credits {res.credits_new:,}")
    db.dispose()


if __name__ == "__main__":
    main()
