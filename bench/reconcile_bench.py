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

``--shape`` picks the shape of input (``shape_rows``: the default ``matched`` above, or 835s
no 837 knows, no ledger, many payers, reversals, a reused CLP07, a reused CLP01);
``--shape all`` (or a comma list) runs each in its own database and prints each full run's
seconds and its ratio to ``matched``.
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
    TransactionRow,
)
from gateway.db.remittance_rows import RemittanceRow
from gateway.db.types import tbl, utcnow
from gateway.ingest.resend import cents, key
from gateway.reconcile import run_reconcile

CHUNK = 50_000
DAY = dt.date(2026, 7, 1)
CP_COLS = (
    "id",
    "file_id",
    "remittance_id",
    "provider_id",
    "payer_id",
    "seq",
    "patient_control_number",
    "status_code",
    "charge",
    "paid",
    "patient_responsibility",
    "filing_indicator",
    "payer_claim_control_number",
    "facility_code",
    "frequency_code",
    "statement_from",
    "statement_to",
    "received_date",
    "resend_key",
    "resend_twin",
)
ADJ_COLS = ("file_id", "claim_payment_id", "level", "group_code", "reason", "amount")
CLAIM_COLS = (
    "file_id",
    "transaction_id",
    "provider_id",
    "kind",
    "seq",
    "payer_id",
    "patient_control_number",
    "total_charge",
    "filing_indicator",
    "facility_code",
    "frequency_code",
    "original_claim_number",
    "service_date",
    "service_date_end",
)
LE_COLS = (
    "file_id",
    "provider_id",
    "line",
    "account_id",
    "patient_control_number",
    "posted_date",
    "type",
    "party",
    "payer_id",
    "amount",
    "reference",
    "entry_key",
    "occurrence",
)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Loader:
    """Bulk rows through the raw driver connection of one SQLAlchemy connection."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pg = db.dialect == "postgresql"

    def rows(
        self, conn: Any, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        raw = conn.connection.dbapi_connection
        if self.pg:
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy,
            ):
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join("?" * len(cols))
            raw.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                [
                    tuple(
                        v.isoformat()
                        if isinstance(v, dt.date)
                        else (str(v) if isinstance(v, Decimal) else v)
                        for v in r
                    )
                    for r in rows
                ],
            )


def _file(conn: Any, name: str, kind: str) -> int:
    sha = hashlib.sha256(f"{name}{time.time_ns()}".encode()).hexdigest()
    return int(
        conn.execute(
            insert(tbl(InboundFile))
            .values(
                sha256=sha,
                size=1,
                source="bench",
                original_name=name,
                kind=kind,
                state="processed",
                attempts=1,
                allow_duplicate_interchange=False,
                claim_count=0,
                received_at=utcnow(),
                processed_at=utcnow(),
            )
            .returning(tbl(InboundFile).c.id)
        ).scalar_one()
    )


_interchanges = iter(range(1, 10**9))


def _remittance(conn: Any, file_id: int, provider_id: int, payer: str, n: int) -> int:
    n = next(_interchanges) + n
    ic = conn.execute(
        insert(tbl(InterchangeRow))
        .values(
            file_id=file_id,
            sender_qualifier="ZZ",
            sender_id="BENCH",
            receiver_qualifier="ZZ",
            receiver_id="RCV",
            control_number=f"{n:09d}",
            date=DAY,
            usage="P",
            forced=False,
        )
        .returning(tbl(InterchangeRow).c.id)
    ).scalar_one()
    g = conn.execute(
        insert(tbl(FunctionalGroupRow))
        .values(
            file_id=file_id,
            interchange_id=ic,
            functional_id="HP",
            sender_id="BENCH",
            receiver_id="RCV",
            control_number=str(n),
            version="005010X221A1",
            date=DAY,
        )
        .returning(tbl(FunctionalGroupRow).c.id)
    ).scalar_one()
    t = conn.execute(
        insert(tbl(TransactionRow))
        .values(
            file_id=file_id,
            group_id=g,
            control_number="0001",
            kind="835",
            guide="005010X221A1",
            segment_count=0,
        )
        .returning(tbl(TransactionRow).c.id)
    ).scalar_one()
    return int(
        conn.execute(
            insert(tbl(RemittanceRow))
            .values(
                file_id=file_id,
                transaction_id=t,
                provider_id=provider_id,
                payer_id=payer,
                payer_name=payer,
                payee_name="BENCH",
                payee_npi=None,
                payee_tin=None,
                amount=Decimal(0),
                credit_debit="C",
                method="ACH",
                payment_format="CCP",
                payment_date=DAY,
                trace_number=f"T{n}",
                trace_originator="1",
                production_date=DAY,
            )
            .returning(tbl(RemittanceRow).c.id)
        ).scalar_one()
    )


def claim_rows(
    i: int, cp_id: int, file_id: int, remit: dict[str, int], provider: int, resend_every: int = 0
) -> Iterator[tuple[str, tuple[Any, ...]]]:
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
        yield (
            "cp",
            (
                cp_id + k,
                file_id,
                remit[payer],
                provider,
                payer,
                i,
                pcn,
                status,
                charge,
                p,
                r,
                "12",
                icn,
                "11",
                "1",
                DAY,
                DAY,
                DAY,
                rkey,
                twin,
            ),
        )
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


SHAPES = ("matched", "no837", "noledger", "manypayers", "reversals", "icnreuse", "pcnreuse")
PAYERS = ("ACME01", "BETA02", "GAMA03", "DELT04")
REUSED_PCN = "C-REUSED"


def _pay(
    payer: str, status: str, paid: Decimal, cas: list[tuple[str, str, Decimal]], icn: str
) -> tuple[str, str, Decimal, list[tuple[str, str, Decimal]], str]:
    return payer, status, paid, cas, icn


def shape_rows(
    shape: str,
    i: int,
    cp_id: int,
    file_id: int,
    remit: dict[str, int],
    provider: int,
    resend_every: int = 0,
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Rows of claim ``i`` in one of ``SHAPES`` (the ``matched`` shape is ``claim_rows``).

    - ``no837``: the 835 claims only: no 837 and no ledger knows their CLP01 (unmatched).
    - ``noledger``: an 837 per claim and its 835 claims, no posted charges (the ledger lag
      exception, then pending credits).
    - ``manypayers``: 3 or 4 payers per claim (primary, then secondaries with CO 23).
    - ``reversals``: every claim paid, reversed (CLP02 22) and re-adjudicated.
    - ``icnreuse``: one payer claim control number per payer across every claim, and 2% of
      claims also answered under a truncated CLP01 (linking by CLP07 finds many claims).
    - ``pcnreuse``: 1% of claims share one patient control number.
    """
    if shape == "matched":
        yield from claim_rows(i, cp_id, file_id, remit, provider, resend_every)
        return
    pcn = REUSED_PCN if shape == "pcnreuse" and i % 100 == 50 else f"C{i:08d}"
    charge = Decimal(100 + i % 400)

    def pct(x: str) -> Decimal:
        return (charge * Decimal(x)).quantize(Decimal("0.01"))

    co, pr = pct("0.2"), pct("0.1")
    paid = charge - co - pr
    icn = f"I{i}"
    pays = []
    patient = pr
    ledger = True
    if shape in ("no837", "noledger"):
        ledger = False
        pays.append(_pay("ACME01", "1", paid, [("CO", "45", co), ("PR", "1", pr)], icn))
        if shape == "noledger":
            yield "claim", (pcn, charge)
    elif shape == "manypayers":
        n = 3 + i % 2
        shares = [Decimal("0.6"), Decimal("0.1"), Decimal("0.05"), Decimal("0.02")][:n]
        prim_co = pct("0.2")
        pays.append(
            _pay(
                PAYERS[0],
                "1",
                pct(str(shares[0])),
                [("CO", "45", prim_co), ("PR", "1", charge - pct(str(shares[0])) - prim_co)],
                f"I{i}-0",
            )
        )
        left = charge - pct(str(shares[0])) - prim_co
        for k in range(1, n):
            p = pct(str(shares[k]))
            pays.append(
                _pay(
                    PAYERS[k],
                    "2",
                    p,
                    [("CO", "23", charge - left), ("PR", "1", left - p)],
                    f"I{i}-{k}",
                )
            )
            left -= p
        patient = left
    elif shape == "reversals":
        pays.append(_pay("ACME01", "1", paid, [("CO", "45", co), ("PR", "1", pr)], icn))
        pays.append(_pay("ACME01", "22", -paid, [("CO", "45", -co), ("PR", "1", -pr)], icn))
        pays.append(_pay("ACME01", "1", paid - 5, [("CO", "45", co + 5), ("PR", "1", pr)], f"R{i}"))
    else:  # icnreuse, pcnreuse
        if shape == "icnreuse":
            icn = "ICN-REUSED"
        pays.append(_pay("ACME01", "1", paid, [("CO", "45", co), ("PR", "1", pr)], icn))
    if i % 20 == 0:  # 5% carry a credit: the primary's payment arrives twice
        first = pays[0] if shape != "reversals" else pays[-1]
        pays.append((*first[:4], first[4] + "-dup"))
    for k, (payer, status, p, cas, ref) in enumerate(pays):
        clp01 = pcn
        if shape == "icnreuse" and i % 50 == 0 and k == 0:
            clp01 = pcn[:7]  # truncated: linking looks for the CLP07 (shared by every claim)
        rkey = key(("CLP", payer, f"T{file_id}", "", clp01, ref, status, str(cents(p)), "1"))
        yield (
            "cp",
            (
                cp_id + k,
                file_id,
                remit[payer],
                provider,
                payer,
                i,
                clp01,
                status,
                charge if status != "22" else -charge,
                p,
                sum((a for g, _, a in cas if g == "PR"), Decimal(0)),
                "12",
                ref,
                "11",
                "1",
                DAY,
                DAY,
                DAY,
                rkey,
                False,
            ),
        )
        for g, reason, amount in cas:
            yield "adj", (file_id, cp_id + k, "claim", g, reason, amount)
        if ledger:
            yield "le", ("payment", "payer", payer, p, f"EFT{i}-{k}")
    if ledger:
        yield "le", ("charge", "provider", "", charge, f"CHG{i}")
        if patient:
            yield "le", ("payment", "patient", "", patient, f"PAT{i}")
    yield "n", (len(pays),)


def generate(
    db: Database,
    claims: int,
    *,
    start: int = 0,
    payers_only: bool = False,
    resend_every: int = 0,
    shape: str = "matched",
) -> float:
    """Insert ``claims`` synthetic claims (ids from ``start``) of ``shape``; returns seconds."""
    began = time.perf_counter()
    loader = Loader(db)
    accounts = max(int(claims * 0.3), 1)
    with db.engine.begin() as conn:
        providers = []
        for npi in ("1000000001", "1000000002"):
            found = conn.execute(
                text("SELECT id FROM providers WHERE key = :k"), {"k": f"npi:{npi}"}
            ).scalar()
            if found is None:
                found = conn.execute(
                    insert(tbl(Provider))
                    .values(
                        key=f"npi:{npi}",
                        npi=npi,
                        tin=None,
                        name="BENCH",
                        created_at=utcnow(),
                    )
                    .returning(tbl(Provider).c.id)
                ).scalar_one()
            providers.append(int(found))
        ledger_files = {p: _file(conn, f"ledger-{p}-{start}", "ledger") for p in providers}
        next_id = int(
            conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM claim_payments")).scalar_one()
        )
        claim_file = _file(conn, f"837-{start}", "837") if shape == "noledger" else 0
        claim_tx = _transaction(conn, claim_file) if shape == "noledger" else 0
        for lo in range(start, start + claims, CHUNK):
            hi = min(lo + CHUNK, start + claims)
            file_id = _file(conn, f"835-{lo}", "835")
            remits = {
                p: {payer: _remittance(conn, file_id, p, payer, start * 10) for payer in PAYERS}
                for p in providers
            }
            cp_rows: list[tuple[Any, ...]] = []
            adj_rows: list[tuple[Any, ...]] = []
            le_rows: list[tuple[Any, ...]] = []
            claim_837: list[tuple[Any, ...]] = []
            for i in range(lo, hi):
                provider = providers[i % 2]
                pcn, acct = f"C{i:08d}", f"A{i % accounts:07d}"
                if shape == "pcnreuse" and i % 100 == 50:
                    pcn = REUSED_PCN
                for kind, row in shape_rows(
                    shape, i, next_id, file_id, remits[provider], provider, resend_every
                ):
                    if kind == "cp":
                        cp_rows.append(row)
                    elif kind == "adj":
                        adj_rows.append(row)
                    elif kind == "n":
                        next_id += row[0]
                    elif kind == "claim":
                        claim_837.append(
                            (
                                claim_file,
                                claim_tx,
                                provider,
                                "837P",
                                i,
                                "ACME01",
                                row[0],
                                row[1],
                                "12",
                                "11",
                                "1",
                                "",
                                DAY,
                                DAY,
                            )
                        )
                    elif not payers_only:
                        typ, party, payer, amount, ref = row
                        key = hashlib.sha256(
                            f"{acct}{pcn}{typ}{party}{payer}{amount}{ref}".encode()
                        ).hexdigest()
                        le_rows.append(
                            (
                                ledger_files[provider],
                                provider,
                                len(le_rows) + 2,
                                acct,
                                pcn,
                                DAY,
                                typ,
                                party,
                                payer,
                                amount,
                                ref,
                                key,
                                1,
                            )
                        )
            loader.rows(conn, "claim_payments", CP_COLS, cp_rows)
            loader.rows(conn, "adjustments", ADJ_COLS, adj_rows)
            if le_rows:
                loader.rows(conn, "ledger_entries", LE_COLS, le_rows)
            if claim_837:
                loader.rows(conn, "claims", CLAIM_COLS, claim_837)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - began


def _transaction(conn: Any, file_id: int) -> int:
    """One 837 transaction (its group dated ``DAY``) for the noledger shape's claims."""
    ic = conn.execute(
        insert(tbl(InterchangeRow))
        .values(
            file_id=file_id,
            sender_qualifier="ZZ",
            sender_id="BENCH",
            receiver_qualifier="ZZ",
            receiver_id="RCV",
            control_number="837000001",
            date=DAY,
            usage="P",
            forced=False,
        )
        .returning(tbl(InterchangeRow).c.id)
    ).scalar_one()
    g = conn.execute(
        insert(tbl(FunctionalGroupRow))
        .values(
            file_id=file_id,
            interchange_id=ic,
            functional_id="HC",
            sender_id="BENCH",
            receiver_id="RCV",
            control_number="837",
            version="005010X222A1",
            date=DAY,
        )
        .returning(tbl(FunctionalGroupRow).c.id)
    ).scalar_one()
    return int(
        conn.execute(
            insert(tbl(TransactionRow))
            .values(
                file_id=file_id,
                group_id=g,
                control_number="0001",
                kind="837",
                guide="005010X222A1",
                segment_count=0,
            )
            .returning(tbl(TransactionRow).c.id)
        ).scalar_one()
    )


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
            rkey = key(
                (
                    "CLP",
                    "ACME01",
                    f"T{file_id}",
                    "",
                    f"C{i:08d}",
                    f"N{i}-{file_id}",
                    "1",
                    str(cents(charge - co - pr)),
                    "1",
                )
            )
            cps.append(
                (
                    next_id + k,
                    file_id,
                    remit,
                    provider,
                    "ACME01",
                    k,
                    f"C{i:08d}",
                    "1",
                    charge,
                    charge - co - pr,
                    pr,
                    "12",
                    f"N{i}-{file_id}",
                    "11",
                    "1",
                    DAY,
                    DAY,
                    DAY,
                    rkey,
                    False,
                )
            )
            adjs.append((file_id, next_id + k, "claim", "CO", "45", co))
        Loader(db).rows(conn, "claim_payments", CP_COLS, cps)
        Loader(db).rows(conn, "adjustments", ADJ_COLS, adjs)


def shape_url(url: str, shape: str, many: bool) -> str:
    """One database per shape when several run: ``x.db`` → ``x-<shape>.db`` (SQLite) or
    ``bench`` → ``bench_<shape>`` (PostgreSQL: the database must exist)."""
    if not many:
        return url
    if url.startswith("sqlite"):
        base, dot, ext = url.rpartition(".")
        return f"{base}-{shape}.{ext}" if dot else f"{url}-{shape}"
    return f"{url}_{shape}"


def run_shape(url: str, shape: str, args: argparse.Namespace) -> float:
    """Generate (unless skipped) and reconcile one shape; returns the full run's seconds."""
    db = Database.from_url(url)
    upgrade(db)
    if not args.skip_generate:
        secs = generate(db, args.claims, resend_every=args.resend_every, shape=shape)
        print(f"[{shape}] generated {args.claims:,} claims in {secs:.1f} s (rss {rss_mb():.0f} MB)")
    with db.engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("claim_payments", "adjustments", "ledger_entries", "claims")
        }
    print(f"[{shape}] rows:", counts)
    before = rss_mb()
    t0 = time.perf_counter()
    res = run_reconcile(db, as_of=dt.date(2026, 9, 30), full=True, actor="bench")
    full = time.perf_counter() - t0
    print(
        f"[{shape}] full reconcile: {full:.1f} s, candidates {res.candidates:,}, "
        f"new credits {res.credits_new:,}, variances {res.variances:,}, "
        f"links {res.links}, peak rss {rss_mb():.0f} MB (before {before:.0f} MB)"
    )
    if not args.no_incremental:
        new_remittance(db, 2000, args.claims)
        t0 = time.perf_counter()
        res = run_reconcile(db, as_of=dt.date(2026, 9, 30), actor="bench")
        print(
            f"[{shape}] incremental after one 835 of 2,000 claims: "
            f"{time.perf_counter() - t0:.2f} s, mode {res.mode}, "
            f"scope {res.scope_claims:,}, candidates {res.candidates:,}, "
            f"new credits {res.credits_new:,}"
        )
    db.dispose()
    return full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--claims", type=int, default=1_000_000)
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument(
        "--resend-every",
        type=int,
        default=0,
        help="also store a re-sent copy of every Nth claim's payment (0: none)",
    )
    ap.add_argument(
        "--shape",
        default="matched",
        help=f"comma-separated shapes of input, or 'all': {', '.join(SHAPES)}; "
        "several shapes run in one database each (with matched first, for "
        "the ratio)",
    )
    ap.add_argument(
        "--no-incremental", action="store_true", help="skip the incremental run after the full one"
    )
    args = ap.parse_args()
    shapes = list(SHAPES) if args.shape == "all" else args.shape.split(",")
    unknown = [x for x in shapes if x not in SHAPES]
    if unknown:
        ap.error(f"unknown shape(s): {', '.join(unknown)}")
    many = len(shapes) > 1
    if many and "matched" not in shapes:
        shapes.insert(0, "matched")
    seconds = {x: run_shape(shape_url(args.url, x, many), x, args) for x in shapes}
    if many:
        base = seconds["matched"]
        print(f"full reconcile by shape ({args.claims:,} claims):")
        for x, secs in seconds.items():
            print(f"  {x:<11} {secs:7.1f} s  {secs / base:5.2f}x matched")


if __name__ == "__main__":
    main()
