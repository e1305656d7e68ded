"""Ledger files through ``gateway ingest`` and incremental reconciliation, on both backends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from gateway.db.models import InboundFile
from gateway.reconcile import list_credits, run_reconcile
from gateway.reconcile.tables import LedgerEntry, ReconcileRun
from tests.integration import test_reconcile_scenarios as scenarios
from tests.integration.helpers import Gateway
from tests.integration.test_reconcile_scenarios import FIXTURES, Cli

cli = scenarios.cli  # the in-process CLI fixture

HEADER = "account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference\n"


def _ledger_rows(gw: Gateway) -> int:
    with gw.db.read() as s:
        return int(s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one())


def _file(gw: Gateway, name: str) -> InboundFile:
    with gw.db.read() as s:
        return s.execute(select(InboundFile).where(InboundFile.original_name == name)).scalar_one()


def test_bad_rows_quarantine_the_file_with_row_numbers(
    cli: Cli, gw: Gateway, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "A1,P1,2026-06-10,charge,provider,,100.00,C1\n"
        "A1,P1,2026-13-10,charge,provider,,100.00,C2\n"
        "A1,P1,2026-06-10,payment,payer,,-5,C3\n"
    )
    out = cli("ingest", "--provider", "1234567893", str(path), code=1)
    assert "failed" in out
    f = _file(gw, "bad.csv")
    assert (f.state, f.kind) == ("failed", "ledger")
    assert f.error_code == "bad_ledger"
    assert "line 3, column posted_date" in (f.error_message or "")
    assert "line 4, column payer_id" in (f.error_message or "")
    assert _ledger_rows(gw) == 0


def test_reimport_and_overlap_never_double_count(cli: Cli, gw: Gateway, tmp_path: Path) -> None:
    rows = [
        "A1,P1,2026-06-10,charge,provider,,100.00,C1",
        "A1,P1,2026-06-11,payment,patient,,20.00,R1",
        "A1,P1,2026-06-11,payment,patient,,20.00,R1",
    ]  # two genuine identical postings
    first = tmp_path / "june.csv"
    first.write_text(HEADER + "\n".join(rows) + "\n")
    cli("ingest", "--provider", "1234567893", str(first))
    assert _ledger_rows(gw) == 3
    out = cli("ingest", str(first))  # same bytes: the registry's sha256 dedupe
    assert "yes" in out
    assert _ledger_rows(gw) == 3
    overlap = tmp_path / "june_july.csv"
    overlap.write_text(
        HEADER + "\n".join([*rows, "A1,P1,2026-07-02,refund,patient,,20.00,K1"]) + "\n"
    )
    cli("ingest", str(overlap))  # only one provider: the default
    assert _ledger_rows(gw) == 4
    notes = _file(gw, "june_july.csv").findings or []
    assert [n["code"] for n in notes] == ["ledger_duplicate_rows"]
    assert "line(s) 2, 3, 4" in notes[0]["message"]


def test_mapped_layout_is_sniffed(cli: Cli, gw: Gateway, tmp_path: Path) -> None:
    path = tmp_path / "pm.txt"
    path.write_text(
        "Acct No|Claim ID|Date Posted|Trans Type|Carrier Code|Trans Amount|Batch\n"
        "A9|P9|10-Jun-2026|C||100.00|B1\n"
        "A9|P9|03-Jul-2026|IP|ACME01|80.00|B2\n"
    )
    cli("ingest", "--provider", "1234567893", str(path))
    assert _file(gw, "pm.txt").kind == "ledger"
    assert _ledger_rows(gw) == 2


def test_department_is_read_and_a_later_export_fills_it_in(
    cli: Cli, gw: Gateway, tmp_path: Path
) -> None:
    """The hospital layout's Department column is stored per row. An export that first came
    without it, then again with it, is not loaded twice: the rows sent before gain their
    department (a warning on the file says so), and a row that already has one keeps it."""
    head = "HAR,Invoice Number,Post Date,Txn Code,Payor ID,Amount,Txn ID"
    rows = ["H1,INV1,07/01/2026,CHG,,500.00,T1", "H1,INV1,07/02/2026,CHG,,200.00,T2"]
    first = tmp_path / "hb1.csv"
    first.write_text(f"{head}\n" + "\n".join(rows) + "\n")
    cli("ingest", "--provider", "1234567893", str(first))
    second = tmp_path / "hb2.csv"
    second.write_text(
        f"{head},Department\n"
        + "\n".join(f"{r},{d}" for r, d in zip(rows, ["Emergency", "Radiology"], strict=True))
        + "\nH1,INV1,07/03/2026,CHG,,90.00,T3,Laboratory\n"
    )
    cli("ingest", str(second))
    third = tmp_path / "hb3.csv"  # a later export that renames the department: kept as first
    third.write_text(f"{head},Department\n{rows[0]},Cardiology\n")
    cli("ingest", str(third))
    with gw.db.read() as s:
        stored = s.execute(
            select(LedgerEntry.reference, LedgerEntry.department).order_by(LedgerEntry.reference)
        ).all()
    assert [tuple(r) for r in stored] == [
        ("T1", "Emergency"),
        ("T2", "Radiology"),
        ("T3", "Laboratory"),
    ]
    assert "ledger_department_added" in {n["code"] for n in _file(gw, "hb2.csv").findings or []}
    assert "ledger_department_added" not in {n["code"] for n in _file(gw, "hb3.csv").findings or []}


def test_declared_ledger_with_unknown_header(cli: Cli, gw: Gateway, tmp_path: Path) -> None:
    path = tmp_path / "weird.csv"
    path.write_text("a,b,c\n1,2,3\n")
    cli("ingest", "--kind", "ledger", "--provider", "1234567893", str(path), code=1)
    f = _file(gw, "weird.csv")
    assert (f.state, f.error_code) == ("failed", "bad_ledger")


def test_incremental_runs_touch_only_new_claims(cli: Cli, gw: Gateway) -> None:
    folder = FIXTURES / "several_claims"
    for name in ("1.837", "2.835", "3.csv"):
        cli("ingest", str(folder / name))
    first = run_reconcile(gw.db, as_of=dt.date(2026, 9, 30))
    assert first.mode == "full"  # the first run is always full
    again = run_reconcile(gw.db, as_of=first.as_of)
    assert (again.mode, again.files, again.candidates) == ("incremental", 0, 0)
    with gw.db.read() as s:
        credits = list_credits(s)
        runs = s.execute(select(func.count()).select_from(ReconcileRun)).scalar_one()
    assert [(c.patient_control_number, str(c.amount)) for c in credits] == [("M2", "15.00")]
    assert runs == 2
    # a new 835 for one claim: only that claim is examined; identified_on is kept
    dup = FIXTURES / "duplicate_payment"
    cli("ingest", str(dup / "1.835"))
    later = run_reconcile(gw.db, as_of=dt.date(2026, 10, 15))
    assert (later.files, later.mode) == (1, "incremental")
    with gw.db.read() as s:
        after = {c.patient_control_number: c for c in list_credits(s)}
    assert after["M2"].identified_on.isoformat() == "2026-09-30"
    # DUP1 has no ledger charges: a payer payment on an unknown claim, kept for review
    assert after["DUP1"].cause == "overpayment"


def test_exception_reports(cli: Cli, tmp_path: Path) -> None:
    cli("ingest", str(FIXTURES / "duplicate_payment" / "1.835"))  # no 837, no ledger
    cli("ingest", str(FIXTURES / "several_claims" / "1.837"))  # M1..M3, never remitted
    path = tmp_path / "l.csv"
    path.write_text(HEADER + "A-NOCHG,NC1,2026-06-10,payment,patient,,25.00,CASH\n")
    cli("ingest", str(path))
    rows = cli.json("exceptions", "--as-of", "2026-09-30")
    got = [(r["kind"], r["patient_control_number"], r["amount"]) for r in rows]
    assert got == [
        ("no_remittance", "M1", "100.00"),
        ("no_remittance", "M2", "100.00"),
        ("no_remittance", "M3", "50.00"),
        ("payment_without_charges", "NC1", "25.00"),
        ("unmatched_remittance", "DUP1", "80.00"),
    ]
