"""Line-level reconciliation through ``gateway ingest`` + ``reconcile`` + ``credits --json``,
on SQLite and PostgreSQL, with amounts worked by hand from the raw lines (docs/accounting.md).

The 835s carry SVC loops with line CAS and REF*6R; ledgers are canonical CSVs with or without
the line columns.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.db.models import InboundFile
from gateway.reconcile.tables import LedgerEntry
from tests.integration import test_reconcile_scenarios as scenarios
from tests.integration.helpers import Gateway
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401  (fixture)
from tests.integration.test_reconcile_scenarios import Cli

cli = scenarios.cli  # the in-process CLI fixture
_control = itertools.count(501)
NPI = "1234567893"
LEDGER = "account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference"
LINE_LEDGER = LEDGER + ",procedure_code,service_date,line_ref"


def x835(
    pcn: str,
    claim: str,
    *lines: str,
    paid: str,
    charge: str,
    pr: str = "0",
    icn: str = "",
    date: str = "20260701",
    filing: str = "12",
    drg: str = "",
    payer: str = "ACME01",
) -> bytes:
    """One 835 of one claim: ``claim`` holds claim-level segments (CAS, MIA, AMT), ``lines``
    the SVC loops. BPR02 = CLP04."""
    n = next(_control)
    isa = f"{n:09d}"
    clp = f"CLP*{pcn}*1*{charge}*{paid}*{pr}*{filing}*{icn or 'ICN' + pcn}*11*1"
    if drg:
        clp += f"**{drg}"
    body = [
        clp,
        *[s for s in claim.split("|") if s],
        "NM1*QC*1*TESTPATIENT*ALEX****MI*X1",
        "DTM*232*20260610",
        "DTM*233*20260610",
        *[s for seg in lines for s in seg.split("|") if s],
    ]
    st = [
        "ST*835*0001",
        f"BPR*I*{paid}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{date}",
        f"TRN*1*TRACE{n}*1512345678",
        f"DTM*405*{date}",
        "N1*PR*ACME HEALTH PLAN",
        f"REF*2U*{payer}",
        f"N1*PE*GOOD CLINIC*XX*{NPI}",
        "REF*TJ*123456789",
        "LX*1",
        *body,
    ]
    st.append(f"SE*{len(st) + 1}*0001")
    segs = [
        f"ISA*00*          *00*          *ZZ*LINEPAYER      *ZZ*RECEIVER       *"
        f"{date[2:]}*1200*^*00501*{isa}*0*P*:",
        f"GS*HP*LINEPAYER*RECEIVER*{date}*1200*{n}*X*005010X221A1",
        *st,
        f"GE*1*{n}",
        f"IEA*1*{isa}",
    ]
    return ("~\n".join(segs) + "~\n").encode()


def svc(code: str, charge: str, paid: str, *cas: str, ref: str = "", day: str = "20260610") -> str:
    segs = [f"SVC*{code}*{charge}*{paid}**1", f"DTM*472*{day}", *(f"CAS*{c}" for c in cas)]
    if ref:
        segs.append(f"REF*6R*{ref}")
    return "|".join(segs)


def write(tmp: Path, name: str, data: bytes | str) -> str:
    path = tmp / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


def ingest(cli: Cli, path: str, ledger: bool = False) -> None:
    args = ["ingest", path] + (["--kind", "ledger", "--provider", NPI] if ledger else [])
    out = cli(*args)
    assert "processed" in out, out


def credits(cli: Cli) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r["patient_control_number"],
            r["owed_to"],
            r["payer_id"],
            r["amount"],
            r["cause"],
            r["status"],
            r["pending_reason"],
        )
        for r in cli.json("credits", "--status", "active")
    )


def line_variances(cli: Cli) -> list[dict[str, Any]]:
    return [
        v
        for v in cli.json("variances", "--status", "all")
        if v["kind"] in ("unposted_line", "charge_mismatch")
    ]


# 837: 99213 150.00 and 93000 75.00. 835: SVC 99213 150/75 CO-45 50 PR-3 25; SVC 93000 75/45
# CO-45 30. The ledger charges 150.00 only; the patient paid the 25.00 copay. The 93000 line
# is not a charge: its 45.00 is the payer's; the charged line balances (150 − 50 − 75 − 25).
OVERPAID = (
    svc("HC:99213", "150.00", "75.00", "CO*45*50.00", "PR*3*25.00", ref="L1"),
    svc("HC:93000", "75.00", "45.00", "CO*45*30.00", ref="L2"),
)


def test_uncharged_line_claim_level_ledger_then_billed_in_error(cli: Cli, tmp_path: Path) -> None:
    ingest(
        cli,
        write(
            tmp_path,
            "a.835",
            x835("LP1", "", *OVERPAID, paid="120.00", charge="225.00", pr="25.00"),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "a.csv",
            f"{LEDGER}\nA1,LP1,2026-06-10,charge,provider,,150.00,"
            "C1\nA1,LP1,2026-06-10,payment,patient,,25.00,COPAY\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")
    # not 75.00 (the old claim-level answer, which counted the 30.00 write-off of a non-charge)
    assert credits(cli) == [
        ("LP1", "payer", "ACME01", "45.00", "overpayment", "pending", "unposted_line")
    ]
    (v,) = line_variances(cli)
    assert (v["kind"], v["charge"], v["paid"], v["status"]) == (
        "unposted_line",
        "75.00",
        "45.00",
        "open",
    )
    assert v["lines"][0]["line_ref"] == "L2"
    assert v["lines"][0]["procedure"] == "HC:93000"
    # a pending credit cannot be approved
    cli("cases", "sync")
    credit_id = cli.json("credits")[0]["id"]
    cli("cases", "approve", str(credit_id), "--reason", "try", code=None)
    assert cli.json("credits")[0]["status"] == "pending"
    cli("variances", "resolve", str(v["id"]), "--as", "billed_in_error", "--note", "billed twice")
    cli("reconcile", "--as-of", "2026-08-01")
    assert credits(cli) == [("LP1", "payer", "ACME01", "45.00", "overpayment", "open", None)]
    (v,) = line_variances(cli)
    assert (v["status"], v["resolution"]) == ("resolved", "billed_in_error")


def test_uncharged_line_line_level_ledger_cleared_when_charge_posted(
    cli: Cli, tmp_path: Path
) -> None:
    ingest(
        cli,
        write(
            tmp_path,
            "b.835",
            x835("LP2", "", *OVERPAID, paid="120.00", charge="225.00", pr="25.00"),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "b1.csv",
            f"{LINE_LEDGER}\n"
            "A2,LP2,2026-06-10,charge,provider,,150.00,C1,99213,2026-06-10,L1\n"
            "A2,LP2,2026-06-10,payment,patient,,25.00,COPAY,,,\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")
    assert credits(cli) == [
        ("LP2", "payer", "ACME01", "45.00", "overpayment", "pending", "unposted_line")
    ]
    # the missed charge arrives in the next export: the line is charged, nothing is owed
    ingest(
        cli,
        write(
            tmp_path,
            "b2.csv",
            f"{LINE_LEDGER}\nA2,LP2,2026-07-15,charge,provider,,75.00,C2,93000,2026-06-10,L2\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-08-01")
    assert credits(cli) == []
    (v,) = line_variances(cli)
    assert v["status"] == "cleared"


def test_uncharged_line_found_when_the_totals_agree(cli: Cli, tmp_path: Path) -> None:
    """The ledger posts 225.00 as billed, but 75.00 of it under a code the 835 never paid
    (99999): the totals agree, B(c) = 225 − 80 − 120 − 25 = 0, and only the line-level screen
    finds that 93000 has no charge. Its 45.00 is owed; the stray 75.00 charge is a debit."""
    ingest(
        cli,
        write(
            tmp_path,
            "t.835",
            x835("LP8", "", *OVERPAID, paid="120.00", charge="225.00", pr="25.00"),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "t.csv",
            f"{LINE_LEDGER}\n"
            "A8,LP8,2026-06-10,charge,provider,,150.00,C1,99213,2026-06-10,L1\n"
            "A8,LP8,2026-06-10,charge,provider,,75.00,C2,99999,2026-06-10,\n"
            "A8,LP8,2026-06-10,payment,patient,,25.00,COPAY,,,\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")
    assert credits(cli) == [
        ("LP8", "payer", "ACME01", "45.00", "overpayment", "pending", "unposted_line")
    ]


def test_missed_answer_counts_the_line_as_charged(cli: Cli, tmp_path: Path) -> None:
    ingest(
        cli,
        write(
            tmp_path,
            "c.835",
            x835("LP3", "", *OVERPAID, paid="120.00", charge="225.00", pr="25.00"),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "c.csv",
            f"{LEDGER}\nA3,LP3,2026-06-10,charge,provider,,150.00,"
            "C1\nA3,LP3,2026-06-10,payment,patient,,25.00,COPAY\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")
    (v,) = line_variances(cli)
    cli("variances", "resolve", str(v["id"]), "--as", "missed")
    cli("reconcile", "--as-of", "2026-08-01")
    assert credits(cli) == []
    rows = cli.json("credits", "--status", "resolved")
    assert [(r["amount"], r["resolution"]) for r in rows] == [("45.00", "balance_changed")]


def test_payment_without_posted_charge_waits_for_the_ledger(cli: Cli, tmp_path: Path) -> None:
    # CLP 195.00 billed, 125.00 paid, CO-45 70.00; the ledger knows the account (a patient
    # payment) but posted no charge. Old model: a 195.00 "overpayment" (payment + write-off).
    ingest(
        cli,
        write(
            tmp_path,
            "d.835",
            x835(
                "NC1",
                "",
                svc("HC:99214", "195.00", "125.00", "CO*45*70.00"),
                paid="125.00",
                charge="195.00",
            ),
        ),
    )
    ingest(
        cli,
        write(tmp_path, "d.csv", f"{LEDGER}\nA4,NC1,2026-06-10,payment,patient,,10.00,COPAY\n"),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-20")
    assert credits(cli) == []
    waiting = [
        e
        for e in cli.json("exceptions", "--as-of", "2026-07-20")
        if e["kind"] == "payment_without_charges" and e["until"]
    ]
    assert [(e["amount"], e["until"]) for e in waiting] == [("125.00", "2026-07-31")]
    cli("reconcile", "--as-of", "2026-07-31")
    assert credits(cli) == [
        ("NC1", "patient", None, "10.00", "patient_overpayment", "pending", "no_posted_charges"),
        ("NC1", "payer", "ACME01", "125.00", "overpayment", "pending", "no_posted_charges"),
    ]


def test_interest_in_the_claim_payment_is_not_a_credit(cli: Cli, tmp_path: Path) -> None:
    # CLP 100.00 billed, 83.00 paid with CO-45 20.00 and AMT*I 3.00: 100 − 20 = 83 − 3, so
    # CLP04 includes 3.00 of interest. N = 80; 100 − 20 − 80 = 0. Old model: a 3.00 credit.
    ingest(
        cli,
        write(
            tmp_path,
            "e.835",
            x835(
                "INT1",
                "AMT*I*3.00",
                svc("HC:99213", "100.00", "80.00", "CO*45*20.00"),
                paid="83.00",
                charge="100.00",
            ),
        ),
    )
    ingest(
        cli,
        write(tmp_path, "e.csv", f"{LEDGER}\nA5,INT1,2026-06-10,charge,provider,,100.00,C1\n"),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")
    assert credits(cli) == []


def test_drg_claim_with_uncharged_line_is_not_a_credit(cli: Cli, tmp_path: Path) -> None:
    # DRG 470, MIA; billed 0120 3,000 + 0250 800 + 0300 200 = 4,000; CO-45 1,200 and PR-1 300
    # at claim level, 2,500 paid; ledger 3,800 (the lab line never posted); the patient paid
    # the 300 deductible. W loses the uncharged 200: 3,800 − 1,000 − 2,500 − 300 = 0.
    lines = [
        svc(f"NU:{rev}", amount, "0.00")
        for rev, amount in (("0120", "3000.00"), ("0250", "800.00"), ("0300", "200.00"))
    ]
    claim = "CAS*CO*45*1200.00|CAS*PR*1*300.00|MIA*0***2500.00"
    ingest(
        cli,
        write(
            tmp_path,
            "f.835",
            x835(
                "DRG1",
                claim,
                *lines,
                paid="2500.00",
                charge="4000.00",
                pr="300.00",
                filing="MA",
                drg="470",
                payer="MCRA01",
            ),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "f.csv",
            f"{LEDGER}\nA6,DRG1,2026-06-10,charge,provider,,"
            "3800.00,C1\nA6,DRG1,2026-06-20,payment,patient,,300.00,DED\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")
    assert credits(cli) == []
    (v,) = line_variances(cli)
    assert (v["kind"], v["charge"]) == ("charge_mismatch", "200.00")


def test_api_lists_and_resolves_line_variances(cli: Cli, tmp_path: Path, api: Api) -> None:
    """Real HTTP: an auditor reads, only ops may answer, bad answers are problem+json."""
    ingest(
        cli,
        write(
            tmp_path,
            "g.835",
            x835("LP7", "", *OVERPAID, paid="120.00", charge="225.00", pr="25.00"),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "g.csv",
            f"{LEDGER}\nA7,LP7,2026-06-10,charge,provider,,150.00,"
            "C1\nA7,LP7,2026-06-10,payment,patient,,25.00,COPAY\n",
        ),
        ledger=True,
    )
    cli("reconcile", "--as-of", "2026-07-31")

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api.keys[role]}"}

    listed = api.client.get("/v1/variances", headers=auth("auditor"))
    assert listed.status_code == 200, listed.text
    (line,) = listed.json()["lines"]
    assert (line["kind"], Decimal(line["paid"])) == ("unposted_line", Decimal("45.00"))
    path = f"/v1/variances/{line['id']}/resolve"
    assert api.client.post(path, json={"as": "missed"}, headers=auth("auditor")).status_code == 403
    assert api.client.post(path, json={"as": "missed"}, headers=auth("uploader")).status_code == 403
    bad = api.client.post(path, json={"as": "forgive"}, headers=auth("ops"))
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    done = api.client.post(
        path, json={"as": "transfer", "note": "on the lab account"}, headers=auth("ops")
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["resolution"]) == ("resolved", "transfer")
    missing = api.client.post(
        "/v1/variances/999999/resolve", json={"as": "missed"}, headers=auth("ops")
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_layout_gaining_line_columns_does_not_double_rows(
    cli: Cli, tmp_path: Path, gw: Gateway
) -> None:
    """An export that starts sending line detail re-sends rows it sent before: they are not
    stored twice (a doubled charge would hide the credit); the stored rows gain the detail."""
    ingest(
        cli,
        write(
            tmp_path,
            "h.835",
            x835("LP9", "", *OVERPAID, paid="120.00", charge="225.00", pr="25.00"),
        ),
    )
    ingest(
        cli,
        write(
            tmp_path,
            "h1.csv",
            f"{LEDGER}\nA9,LP9,2026-06-10,charge,provider,,"
            "150.00,C1\nA9,LP9,2026-06-10,payment,patient,,25.00,COPAY\n",
        ),
        ledger=True,
    )
    ingest(
        cli,
        write(
            tmp_path,
            "h2.csv",
            f"{LINE_LEDGER}\n"
            "A9,LP9,2026-06-10,charge,provider,,150.00,C1,99213,2026-06-10,L1\n"
            "A9,LP9,2026-06-10,payment,patient,,25.00,COPAY,,,\n",
        ),
        ledger=True,
    )
    with gw.db.read() as s:
        findings = s.execute(
            select(InboundFile.findings).where(InboundFile.original_name == "h2.csv")
        ).scalar_one()
        stored = s.execute(
            select(LedgerEntry.amount, LedgerEntry.line_ref).where(
                LedgerEntry.patient_control_number == "LP9", LedgerEntry.type == "charge"
            )
        ).all()
    assert {"ledger_duplicate_rows", "ledger_line_detail_added"} <= {
        f["code"] for f in findings or []
    }
    assert [(Decimal(a), ref) for a, ref in stored] == [(Decimal("150.00"), "L1")]
    cli("reconcile", "--as-of", "2026-07-31")
    # 150.00 charged once, now matched by line_ref L1: the 93000 line is still uncharged
    assert credits(cli) == [
        ("LP9", "payer", "ACME01", "45.00", "overpayment", "pending", "unposted_line")
    ]
