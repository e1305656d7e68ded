"""Medicare reporting as CMS asks for it since 1 December 2024, on SQLite and PostgreSQL.

The files are built here: a hospital (NPI 1992999999, CCN 390111) and its psychiatric unit
(NPI 1456789019, CCN 39S111) bill institutional claims (837I, with admission date and hour,
DTP*435*DT, and discharge hour, DTP*096*TM) to a Medicare contractor that has no payer profile
(MACX99, CLP06/SBR09 MA), which pays each twice; a Medicaid claim (shipped profile SKMCD0) is
overpaid; the clinic of tests/fixtures/reconcile/medicare_duplicate has a professional Part B
duplicate (837P to the shipped Part B profile MCRB01). Worked by hand, as of 2026-09-30:

- INP1 (TOB 111): 1000.00 charged, MACX99 pays 600.00 (CO-45 400.00) on 07-01 and again on
  07-15: B = 1000 - 400 - 1200 = -600 → duplicate_payment 600.00, Medicare Part A, due 11-29.
- OUT1 (TOB 131, outpatient): 300.00, paid 200.00 (CO-45 100.00) twice: duplicate 200.00,
  Medicare Part B billed to the MAC on an institutional claim: on the CMS-838's Part B page.
- PSY1 (the psychiatric unit, TOB 111): 500.00, paid 350.00 (CO-45 150.00) twice: 350.00.
- MCD1 (Medicaid, TOB 111): 200.00, paid 130.00 (CO-45 70.00) on 07-10 and 07-20 (SKMCD0's
  45-day hold passed on 09-03): duplicate 130.00 owed to SKMCD0, government, 60 days, no
  investigation suspension (its profile sets no investigation_days).
- MCR1 (837P, Part B professional): duplicate 80.00 to MCRB01: never on the CMS-838.
"""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pypdf import PdfReader
from typer.testing import CliRunner

from gateway.cli import app
from tests.integration.helpers import Gateway
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401

RECON = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"
HOSPITAL, PSYCH = "1992999999", "1456789019"
PROFILE = """\
name: VALLEY HOSPITAL
officer: {name: Dana Officer, title: Chief Financial Officer}
contact: {name: Robin Contact, phone: "555-010-0142"}
ccns:
  "390111":
    npis: ["1992999999"]
  "39S111":
    name: VALLEY HOSPITAL PSYCHIATRIC UNIT
    npis: ["1456789019"]
"""
_control = [500]


def _ctl() -> int:
    _control[0] += 1
    return _control[0]


def _envelope(kind: str, guide: str, sender: str, date: str, st: list[str]) -> bytes:
    ctl = _ctl()
    st = [*st, f"SE*{len(st) + 1}*0001"]
    segs = [
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*RECEIVER       *"
        f"{date[2:]}*1200*^*00501*{ctl:09d}*0*P*:",
        f"GS*{kind}*{sender}*RECEIVER*{date}*1200*{ctl}*X*{guide}",
        *st,
        f"GE*1*{ctl}",
        f"IEA*1*{ctl:09d}",
    ]
    return ("~\n".join(segs) + "~\n").encode()


def x837i(npi: str, name: str, claims: list[tuple[str, str, str, str, str]]) -> bytes:
    """An 837I: per claim (pcn, charge, type of bill's facility code, payer id, SBR09)."""
    st = [
        "ST*837*0001*005010X223A2",
        f"BHT*0019*00*B{_control[0]}*20260606*1200*CH",
        "NM1*41*2*SUBMITTER*****46*S1",
        "NM1*40*2*RECEIVER*****46*R1",
        "HL*1**20*1",
        f"NM1*85*2*{name}*****XX*{npi}",
        "REF*EI*987654321",
    ]
    for i, (pcn, charge, facility, payer, sbr09) in enumerate(claims, start=2):
        st += [
            f"HL*{i}*1*22*0",
            f"SBR*P*18*******{sbr09}",
            "NM1*IL*1*PATIENT*PAT****MI*1EG4TE5MK73",
            f"NM1*PR*2*PAYER {payer}*****PI*{payer}",
            f"CLM*{pcn}*{charge}***{facility}:A:1**A*Y*Y",
            "DTP*096*TM*1130",
            "DTP*434*RD8*20260601-20260605",
            "DTP*435*DT*202606010930",
            "CL1*1**01",
            "HI*ABK:J189",
            "LX*1",
            f"SV2*0120*HC:99223*{charge}*UN*1",
            "DTP*472*D8*20260601",
        ]
    return _envelope("HC", "005010X223A2", "HOSPBILL", "20260606", st)


def x835(
    payer: str,
    date: str,
    npi: str,
    claims: list[tuple[str, str, str, str, str]],
    filing: str = "MA",
) -> bytes:
    """An 835 of ``payer``: per claim (pcn, charge, paid, ICN, type of bill's facility code)."""
    total = sum(float(paid) for _, _, paid, _, _ in claims)
    ctl = _control[0] + 1
    st = [
        "ST*835*0001",
        f"BPR*I*{total:.2f}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*"
        f"98765*{date}",
        f"TRN*1*TRACE{ctl}*1512345678",
        f"DTM*405*{date}",
        f"N1*PR*PAYER {payer}",
        "N3*1 PAYER WAY",
        "N4*CITY*ST*12345",
        f"REF*2U*{payer}",
        f"N1*PE*VALLEY HOSPITAL*XX*{npi}",
        "REF*TJ*987654321",
        "LX*1",
    ]
    for pcn, charge, paid, icn, facility in claims:
        st += [
            f"CLP*{pcn}*1*{charge}*{paid}*0*{filing}*{icn}*{facility}*1",
            f"CAS*CO*45*{float(charge) - float(paid):.2f}",
            "NM1*QC*1*PATIENT*PAT****MI*1EG4TE5MK73",
            "DTM*232*20260601",
            "DTM*233*20260605",
        ]
    return _envelope("HP", "005010X221A1", f"S{payer}", date, st)


LEDGER = "account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference\n"


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0) -> tuple[str, str]:
        result = self.runner.invoke(app, list(args), terminal_width=250)
        if code is not None:
            assert result.exit_code == code, (args, result.output, result.exception)
        return result.stdout, result.stderr

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code)[0])


@pytest.fixture
def cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for key, value in gw.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield Cli()
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    structlog.reset_defaults()


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _load(cli: Cli, tmp: Path, *, second_payment: str = "20260715") -> dict[str, dict[str, Any]]:
    """Ingest the month, reconcile as of 2026-09-30; the credits by claim."""
    files = tmp / "in"
    files.mkdir()
    hosp = [
        ("INP1", "1000.00", "11", "MACX99", "MA"),
        ("OUT1", "300.00", "13", "MACX99", "MA"),
        ("MCD1", "200.00", "11", "SKMCD0", "MC"),
    ]
    paths = [
        _write(files, "hosp.837", x837i(HOSPITAL, "VALLEY HOSPITAL", hosp)),
        _write(
            files,
            "psych.837",
            x837i(
                PSYCH,
                "VALLEY HOSPITAL PSYCHIATRIC UNIT",
                [("PSY1", "500.00", "11", "MACX99", "MA")],
            ),
        ),
        _write(
            files,
            "mac1.835",
            x835(
                "MACX99",
                "20260701",
                HOSPITAL,
                [
                    ("INP1", "1000.00", "600.00", "2126182000101", "11"),
                    ("OUT1", "300.00", "200.00", "2126182000201", "13"),
                ],
            ),
        ),
        _write(
            files,
            "mac2.835",
            x835(
                "MACX99",
                second_payment,
                HOSPITAL,
                [
                    ("INP1", "1000.00", "600.00", "2126182000102", "11"),
                    ("OUT1", "300.00", "200.00", "2126182000202", "13"),
                ],
            ),
        ),
        _write(
            files,
            "psy1.835",
            x835(
                "MACX99", "20260701", PSYCH, [("PSY1", "500.00", "350.00", "2126182000301", "11")]
            ),
        ),
        _write(
            files,
            "psy2.835",
            x835(
                "MACX99", "20260715", PSYCH, [("PSY1", "500.00", "350.00", "2126182000302", "11")]
            ),
        ),
        _write(
            files,
            "mcd1.835",
            x835(
                "SKMCD0",
                "20260710",
                HOSPITAL,
                [("MCD1", "200.00", "130.00", "5526191000001", "11")],
                filing="MC",
            ),
        ),
        _write(
            files,
            "mcd2.835",
            x835(
                "SKMCD0",
                "20260720",
                HOSPITAL,
                [("MCD1", "200.00", "130.00", "5526191000002", "11")],
                filing="MC",
            ),
        ),
    ]
    for name in ("1.837", "1.835", "2.835"):
        paths.append(RECON / "medicare_duplicate" / name)
    for path in paths:
        assert "processed" in cli("ingest", str(path))[0], path
    ledgers = [
        (
            HOSPITAL,
            LEDGER + "H-1,INP1,2026-06-05,charge,provider,,1000.00,C1\n"
            "H-2,OUT1,2026-06-05,charge,provider,,300.00,C2\n"
            "H-3,MCD1,2026-06-05,charge,provider,,200.00,C3\n",
        ),
        (PSYCH, LEDGER + "P-1,PSY1,2026-06-05,charge,provider,,500.00,C4\n"),
        ("1234567893", (RECON / "medicare_duplicate" / "3.csv").read_text()),
    ]
    for i, (npi, text) in enumerate(ledgers):
        path = _write(files, f"ledger{i}.csv", text.encode())
        assert "processed" in cli("ingest", str(path), "--provider", npi)[0]
    cli("reconcile", "--as-of", "2026-09-30")
    return {r["patient_control_number"]: r for r in cli.json("credits")}


def _profiles(tmp: Path, text: str | None = PROFILE) -> Path:
    folder = tmp / "providers"
    folder.mkdir(exist_ok=True)
    if text is not None:
        (folder / "valley.yaml").write_text(text)
    return folder


def _pdf_pages(path: Path) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages]


def test_institutional_medicare_credits_are_reported_per_provider_number(
    cli: Cli, tmp_path: Path
) -> None:
    credits = _load(cli, tmp_path)
    assert set(credits) == {"INP1", "OUT1", "PSY1", "MCD1", "MCR1"}
    inp = credits["INP1"]
    # Medicare by CLP06 though MACX99 has no profile: government, 60 days, on the report
    assert (inp["amount"], inp["cause"], inp["government"], inp["due_by"]) == (
        "600.00",
        "duplicate_payment",
        True,
        "2026-11-29",
    )
    assert (inp["claim_kind"], inp["medicare_part"], inp["return_method"], inp["warnings"]) == (
        "837I",
        "A",
        "report",
        ["unverified_medicare_payer"],
    )
    assert (credits["OUT1"]["medicare_part"], credits["OUT1"]["return_method"]) == ("B", "report")
    # professional Part B: 60-day government credit, returned through the MAC's refund form
    mcr = credits["MCR1"]
    assert (
        mcr["government"],
        mcr["due_by"],
        mcr["claim_kind"],
        mcr["medicare_part"],
        mcr["return_method"],
        mcr["warnings"],
    ) == (True, "2026-11-29", "837P", "B", "refund", [])
    mcd = credits["MCD1"]
    assert (
        mcd["amount"],
        mcd["government"],
        mcd["due_by"],
        mcd["medicare_part"],
        mcd["return_method"],
    ) == ("130.00", True, "2026-11-29", None, "refund")
    # the worklist: government first by due date (all five are government here), then the rest
    assert [c["government"] for c in cli.json("credits")] == [True] * 5

    out = tmp_path / "838"
    profiles = _profiles(tmp_path)
    stdout, stderr = cli(
        "report", "cms838", "--quarter", "2026Q3", "--out", str(out), "--providers", str(profiles)
    )
    assert "1 professional Medicare Part B credit(s) are not on the CMS-838" in " ".join(
        stdout.split()
    )
    assert stderr.count("unverified_medicare_payer") == 3
    reports = json.loads(
        cli(
            "report",
            "cms838",
            "--quarter",
            "2026Q3",
            "--out",
            str(out),
            "--providers",
            str(profiles),
            "--json",
        )[0]
    )
    assert [r["provider_number"] for r in reports] == ["390111", "39S111"]
    main, psych = reports
    assert main["npis"] == [HOSPITAL]
    assert main["missing_fields"] == []
    assert [
        (
            r["patient_control_number"],
            r["amount"],
            r["reason_code"],
            r["type_of_bill"],
            r["payer_claim_control_number"],
        )
        for r in main["part_a"]
    ] == [("INP1", "600.00", "1", "111", "2126182000102")]  # the most recently paid claim
    assert [(r["patient_control_number"], r["type_of_bill"]) for r in main["part_b"]] == [
        ("OUT1", "131")
    ]
    assert [r["patient_control_number"] for r in psych["part_a"]] == ["PSY1"]
    assert psych["provider_name"] == "VALLEY HOSPITAL PSYCHIATRIC UNIT"
    assert all(pcn not in json.dumps(reports) for pcn in ("MCR1", "MCD1"))
    assert {w["code"] for r in reports for w in r["warnings"]} == {"unverified_medicare_payer"}
    cert = main["certification"]
    assert cert == {
        "provider_name": "VALLEY HOSPITAL",
        "provider_number": "390111",
        "ptan": None,
        "quarter_ended": "2026-09-30",
        "low_utilization": False,
        "detail_attached": True,
        "no_credit_balances": False,
        "officer_name": "Dana Officer",
        "officer_title": "Chief Financial Officer",
        "contact_name": "Robin Contact",
        "contact_phone": "555-010-0142",
        "profile": "valley.yaml",
    }

    # the PDF: certification fields read back, detail columns numbered in the form's order
    pages = _pdf_pages(out / "CMS838_390111_2026Q3.pdf")
    first = pages[0]
    for needle in (
        "MEDICARE CREDIT BALANCE REPORT",
        "CERTIFICATION PAGE",
        "Provider name: VALLEY HOSPITAL",
        "Provider number (CCN/PTAN): 390111",
        "Calendar quarter ended: 09/30/2026",
        "(Print) Name: Dana Officer",
        "(Print) Title: Chief Financial Officer",
        "(Sign) Officer or administrator of provider: ____",
        "[ ] Qualify as a low utilization provider.",
        "[X] The credit balance report detail page(s) is attached.",
        "[ ] There are no Medicare credit balances to report for this quarter",
        "Contact person: Robin Contact",
        "Telephone number: 555-010-0142",
    ):
        assert needle in first, needle
    assert len(pages) == 3  # certification, Part A detail, Part B detail
    assert "MEDICARE PART A" in pages[1]
    assert "2126182000102" in pages[1]
    assert "MEDICARE PART B" in pages[2]
    assert "2126182000202" in pages[2]
    detail = " ".join(pages[1].split())
    positions = [detail.find(f"({n})") for n in range(1, 16)]
    assert all(p >= 0 for p in positions), positions
    assert positions == sorted(positions)
    meta = PdfReader(out / "CMS838_390111_2026Q3.pdf").metadata
    assert meta is not None
    assert meta.subject == "CMS-838 provider number 390111 quarter 2026Q3"
    csv_text = (out / "CMS838_390111_2026Q3.csv").read_text()
    assert csv_text.splitlines()[0] == (
        "CMS-838,VALLEY HOSPITAL,390111,,09/30/2026,Dana Officer,"
        "Chief Financial Officer,Robin Contact,555-010-0142,"
        "1992999999"
    )
    assert "14 MSP Code,15 Comments" in csv_text
    # column 1 from the raw files at report time (never stored), last name and first initial
    assert (
        'A,"PATIENT, P",1EG4TE5MK73,2126182000102,111,06/01/2026,06/05/2026,07/15/2026,O,'
        "600.00,0.00,,600.00,1,," in csv_text
    )
    assert main["beneficiary_names_missing"] == 0

    # reported once: the same quarter reproduces the report, a later one has nothing to file
    assert (
        cli.json(
            "report",
            "cms838",
            "--quarter",
            "2026Q3",
            "--out",
            str(out),
            "--providers",
            str(profiles),
        )
        == reports
    )
    stdout, _ = cli(
        "report",
        "cms838",
        "--quarter",
        "2026Q4",
        "--out",
        str(tmp_path / "q4"),
        "--providers",
        str(profiles),
    )
    assert "no Medicare credit balances to report for 2026Q4: no CMS-838 written" in " ".join(
        stdout.split()
    )
    assert not (tmp_path / "q4").exists() or not any((tmp_path / "q4").iterdir())

    # investigations: Medicare A/B suspend the deadline; Medicaid without investigation_days
    # records it for the audit trail and the deadline does not move
    ids = {c["patient_control_number"]: c["id"] for c in cli.json("credits")}
    stdout, _ = cli(
        "cases",
        "investigate",
        str(ids["MCD1"]),
        "--reason",
        "state audit pending",
        "--opened",
        "2026-10-01",
        "--closed",
        "2026-11-15",
    )
    flat = " ".join(stdout.split())
    assert "investigation recorded for the audit trail only" in flat
    assert "The deadline does not move: due by 2026-11-29" in flat
    assert "payer SKMCD0 (medicaid): no investigation suspension" in flat
    mcd_case = cli.json("cases", "show", str(ids["MCD1"]))["case"]
    assert (mcd_case["due_by"], mcd_case["investigation_days"]) == ("2026-11-29", 0)
    assert mcd_case["investigation_opened_on"] == "2026-10-01"
    assert mcd_case["history"][-1]["details"]["investigation_days"] == 0
    stdout, _ = cli(
        "cases",
        "investigate",
        str(ids["INP1"]),
        "--reason",
        "MSP questionnaire",
        "--opened",
        "2026-10-01",
        "--closed",
        "2026-10-31",
    )
    assert "Medicare Part A: up to 180 days (42 CFR 401.305): due by 2026-12-29" in " ".join(
        stdout.split()
    )
    # a later reconciliation keeps both: the Medicaid deadline still does not move
    cli("reconcile", "--as-of", "2026-10-05", "--full")
    after = {c["patient_control_number"]: c for c in cli.json("credits")}
    assert (after["MCD1"]["due_by"], after["INP1"]["due_by"]) == ("2026-11-29", "2026-12-29")


def test_a_provider_without_a_profile_still_gets_its_report_and_exit_1(
    cli: Cli, tmp_path: Path
) -> None:
    _load(cli, tmp_path)
    out = tmp_path / "838"
    empty = _profiles(tmp_path, None)
    _, stderr = cli(
        "report",
        "cms838",
        "--quarter",
        "2026Q3",
        "--out",
        str(out),
        "--providers",
        str(empty),
        code=1,
    )
    for npi in (HOSPITAL, PSYCH):
        assert (out / f"CMS838_{npi}_2026Q3.csv").is_file()
        assert (out / f"CMS838_{npi}_2026Q3.pdf").is_file()
    flat = " ".join(stderr.split())
    assert flat.count("cms838_incomplete") == 2
    assert (
        "these certification fields blank: provider number (CCN), officer's printed name, "
        "officer's title, contact person, contact telephone"
    ) in flat
    assert "no provider profile in mappings/providers names this NPI" in flat
    reports = cli.json(
        "report",
        "cms838",
        "--quarter",
        "2026Q3",
        "--out",
        str(out),
        "--providers",
        str(empty),
        code=1,
    )
    main = next(r for r in reports if r["npis"] == [HOSPITAL])
    assert main["provider_number"] is None
    assert main["provider_name"] == "VALLEY HOSPITAL"  # from the files themselves
    assert main["missing_fields"] == [
        "provider number (CCN)",
        "officer's printed name",
        "officer's title",
        "contact person",
        "contact telephone",
    ]
    assert [r["patient_control_number"] for r in main["part_a"]] == ["INP1"]
    first = _pdf_pages(out / f"CMS838_{HOSPITAL}_2026Q3.pdf")[0]
    assert "Provider number (CCN/PTAN): ____" in first
    assert "(Print) Name: ____" in first
    assert "Contact person: ____" in first

    # a profile missing one field: named, with the file to fix
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "valley.yaml").write_text(PROFILE.replace(', phone: "555-010-0142"', ""))
    _, stderr = cli(
        "report",
        "cms838",
        "--quarter",
        "2026Q3",
        "--out",
        str(tmp_path / "p"),
        "--providers",
        str(partial),
        "--dry-run",
        code=1,
    )
    flat = " ".join(stderr.split())
    assert "blank: contact telephone; fill them in valley.yaml" in flat


def test_pending_credits_are_warnings_and_no_report_is_written(cli: Cli, tmp_path: Path) -> None:
    # the second payment on 09-20: within MACX99's 30-day hold on 09-30, so pending
    credits = _load(cli, tmp_path, second_payment="20260920")
    assert (credits["INP1"]["status"], credits["PSY1"]["status"]) == ("pending", "open")
    out = tmp_path / "838"
    reports = cli.json(
        "report",
        "cms838",
        "--quarter",
        "2026Q3",
        "--out",
        str(out),
        "--providers",
        str(_profiles(tmp_path)),
        "--dry-run",
    )
    # the hospital's only Medicare credits are pending: no report for 390111, warnings only
    assert [r["provider_number"] for r in reports] == ["39S111"]
    _, stderr = cli(
        "report",
        "cms838",
        "--quarter",
        "2026Q3",
        "--out",
        str(out),
        "--providers",
        str(_profiles(tmp_path)),
        "--dry-run",
    )
    flat = " ".join(stderr.split())
    assert "pending_credit: credit" in flat
    assert "(INP1)" in flat
    assert "(OUT1)" in flat


def test_the_api_shows_how_each_credit_goes_back_and_warns(
    cli: Cli, api: Api, tmp_path: Path
) -> None:
    _load(cli, tmp_path)
    items = api.client.get("/v1/credits", headers=api.auth("auditor")).json()["items"]
    by_pcn = {c["patient_control_number"]: c for c in items}
    assert (
        by_pcn["INP1"]["medicare_part"],
        by_pcn["INP1"]["return_method"],
        by_pcn["INP1"]["warnings"],
    ) == ("A", "report", ["unverified_medicare_payer"])
    assert (by_pcn["MCR1"]["return_method"], by_pcn["MCR1"]["warnings"]) == ("refund", [])
    # the preview uses the shipped provider profiles, which do not name this hospital: the
    # reports are there with their certification fields named as missing, nothing recorded
    reports = api.client.get(
        "/v1/reports/cms838?quarter=2026Q3", headers=api.auth("auditor")
    ).json()
    assert sorted(r["npis"][0] for r in reports) == [PSYCH, HOSPITAL]
    main = next(r for r in reports if r["npis"] == [HOSPITAL])
    assert main["missing_fields"][0] == "provider number (CCN)"
    assert [w["code"] for w in main["warnings"]] == ["unverified_medicare_payer"] * 2
    assert "Medicare by the claim's filing indicator" in main["warnings"][0]["message"]
    assert (
        api.client.get("/v1/reports/cms838?quarter=2026Q3", headers=api.auth("auditor")).json()
        == reports
    )
