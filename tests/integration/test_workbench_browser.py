"""The case workbench in headless Chromium against `gateway serve` on 127.0.0.1: an ops key
filters the worklist by payer and government through the URL, opens the case and reads its
evidence and computation (figures worked in test_workbench_api), exports the view to CSV and
XLSX and reads both back; an auditor sees the same page with the patient masked; a filter
value carrying HTML is shown as text. Then an analyst signs in with a username and password,
filters by payer and government through the URL, opens the case and sees its evidence and
computation, assigns it to herself, adds a note (HTML in it stays text) and a root cause,
bulk-approves three cases from the worklist's checkboxes, and exports that view to CSV and
XLSX and reads both back (states and assignee as on the screen)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import openpyxl
import pytest

from gateway.api.keys import Role, create_key
from gateway.reconcile import run_reconcile
from gateway.users.service import add_user
from tests.integration.helpers import ROOT, Gateway, ingest
from tests.integration.test_api_support import serve_process
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.test_workbench_api import FILES

RECON = ROOT / "tests" / "fixtures" / "reconcile"
PASSWORD = "correct horse battery staple"


def variant(folder: str, swaps: dict[bytes, bytes]) -> list[tuple[str, bytes]]:
    """A fixture case's files with ids swapped (a second account, another payer)."""
    out = []
    for path in sorted((RECON / folder).iterdir()):
        if path.suffix not in (".835", ".837", ".csv"):
            continue
        data = path.read_bytes()
        for old, new in swaps.items():
            data = data.replace(old, new)
        out.append((f"{folder}-v-{path.name}", data))
    return out


#: two more cases that can be approved: a second patient credit, and a duplicate payment by
#: UnitedHealthcare (87726, whose profile has a refund layout). Control numbers changed, so
#: they are new interchanges.
MORE = [
    *variant(
        "copay_twice",
        {
            b"COPAY1": b"COPAY2",
            b"A-COPAY": b"A-COPAY2",
            b"000000112": b"000000912",
            b"*112*X": b"*912*X",
            b"GE*1*112": b"GE*1*912",
            b"TRACE112": b"TRACE912",
        },
    ),
    *variant(
        "duplicate_payment",
        {
            b"REF*2U*ACME01": b"REF*2U*87726",
            b",ACME01,": b",87726,",
            b"DUP1": b"UHC1",
            b"A-DUP": b"A-UHC",
            b"000000103": b"000000903",
            b"000000104": b"000000904",
            b"*103*X": b"*903*X",
            b"*104*X": b"*904*X",
            b"GE*1*103": b"GE*1*903",
            b"GE*1*104": b"GE*1*904",
            b"TRACE103": b"TRACE903",
            b"TRACE104": b"TRACE904",
        },
    ),
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_filter_open_case_and_export(gw: Gateway, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: apt-get install -y chromium (CI must not skip)")
    from playwright.sync_api import Dialog, expect, sync_playwright

    with gw.db.write() as s:
        ops = create_key(s, name="wb-ops", role=Role.OPS, provider=None, pepper=None, actor="t")
        aud = create_key(s, name="wb-aud", role=Role.AUDITOR, provider=None, pepper=None, actor="t")
    for name in FILES:
        assert ingest(gw, (RECON / name).read_bytes(), name).state == "processed"
    run_reconcile(gw.db, as_of=dt.date(2026, 9, 30))
    shots = tmp_path / "shots"
    shots.mkdir()
    serve = serve_process(gw, tmp_path, {"GATEWAY_LOG_LEVEL": "INFO"})
    with serve as (url, _pid), sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            ctx = browser.new_context(accept_downloads=True)
            page = ctx.new_page()
            violations: list[str] = []
            dialogs: list[str] = []
            page.on(
                "console",
                lambda m: (
                    violations.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )

            def on_dialog(d: Dialog) -> None:
                dialogs.append(d.message)
                d.dismiss()

            page.on("dialog", on_dialog)
            page.goto(f"{url}/console/login")
            page.fill("#key", ops.key)
            page.click("#sign-in")
            expect(page).to_have_url(f"{url}/console/")

            page.goto(f"{url}/console/cases")
            expect(page.locator("#count-open")).to_have_text("open: 3")
            expect(page.locator("#count-approved")).to_have_text("approved: 0")
            expect(page.locator("#cases tbody tr")).to_have_count(3)
            page.goto(f"{url}/console/cases?payer=MCRB01&government=true")
            rows = page.locator("#cases tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("MCR1")
            expect(rows.first.locator(".provider")).to_have_text("npi:1234567893")
            expect(page.locator("select[name=government]")).to_have_value("true")
            page.screenshot(path=shots / "1-filtered.png")
            # DUP1's payer has no layout: approve is not offered, dispute is
            page.goto(f"{url}/console/cases?q=DUP1")
            expect(page.locator("#cases tbody tr")).to_have_count(1)
            expect(page.locator("#cases button.approve")).to_have_count(0)
            expect(page.locator("#cases button.dispute")).to_have_count(1)

            page.goto(f"{url}/console/cases?payer=MCRB01&government=true")
            with page.expect_download() as dl:
                page.click("#export-csv")
            text = Path(dl.value.path()).read_text()
            table = list(csv.reader(io.StringIO(text)))
            assert [r[4] for r in table] == ["Claim", "MCR1"]
            assert table[1][7] == "80.00"
            assert table[1][9] == "yes"
            with page.expect_download() as dl:
                page.click("#export-xlsx")
            assert dl.value.suggested_filename.endswith(".xlsx")
            ws = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).active
            assert ws is not None
            got = list(ws.iter_rows(values_only=True))
            assert [r[4] for r in got] == ["Claim", "MCR1"]
            assert float(got[1][7]) == 80.0

            rows.first.locator("a").first.click()
            expect(page.locator("h1")).to_contain_text("Case")
            expect(page.locator("#pcn")).to_have_text("MCR1")
            expect(page.locator("#balance")).to_have_text("-80.00")
            expect(page.locator("#computation")).to_contain_text("W MCRB01")
            expect(page.locator("#computation .net-MCRB01")).to_have_text("160.00")
            expect(page.locator("#attribution")).to_contain_text("duplicate_payment")
            expect(page.locator(".adjudication .trn")).to_have_text(["TRACE120", "TRACE121"])
            expect(page.locator("#claim-lines")).to_contain_text("HC:99213")
            expect(page.locator("#ledger tbody tr")).to_have_count(3)
            expect(page.locator("#history")).to_contain_text("open")
            page.screenshot(path=shots / "2-case.png")

            hostile = "<img src=x onerror=alert(1)>"
            page.goto(f"{url}/console/cases?payer={hostile}&q=%27%20OR%201%3D1--")
            expect(page.locator("#cases tbody tr")).to_have_count(0)
            expect(page.locator("input[name=payer]")).to_have_value(hostile)
            assert page.locator("img[src=x]").count() == 0
            page.click("#logout")

            page.goto(f"{url}/console/login")
            page.fill("#key", aud.key)
            page.click("#sign-in")
            page.goto(f"{url}/console/cases?payer=MCRB01")
            expect(page.locator("#cases tbody tr")).to_have_count(1)
            assert "MCR1" not in page.content()
            page.locator("#cases tbody tr a").first.click()
            expect(page.locator("#phi-masked")).to_be_visible()
            expect(page.locator("#balance")).to_have_text("-80.00")
            assert "MCR1" not in page.content()
            assert "A-MCR" not in page.content()
            page.click("#logout")

            # ---- an analyst, signed in as a person, works the cases
            for name, data in MORE:
                assert ingest(gw, data, name).state == "processed", name
            run_reconcile(gw.db, as_of=dt.date(2026, 9, 30))
            with gw.db.write() as s:
                add_user(
                    s,
                    username="ana",
                    role=Role.ANALYST,
                    provider=None,
                    password=PASSWORD,
                    actor="t",
                )
            page.goto(f"{url}/console/login")
            page.fill("#username", "ana")
            page.fill("#password", PASSWORD)
            page.click("#sign-in-user")
            expect(page).to_have_url(f"{url}/console/")
            page.goto(f"{url}/console/cases?payer=MCRB01&government=true")
            rows = page.locator("#cases tbody tr")
            expect(rows).to_have_count(1)
            rows.first.locator("a").first.click()
            expect(page.locator("#pcn")).to_have_text("MCR1")  # an analyst sees PHI
            expect(page.locator("#balance")).to_have_text("-80.00")
            expect(page.locator("#computation .net-MCRB01")).to_have_text("160.00")
            expect(page.locator(".adjudication .trn")).to_have_text(["TRACE120", "TRACE121"])
            page.select_option("#assign-to", "ana")
            page.click("#assign")
            expect(page.locator("#notice")).to_have_text(re.compile("assigned to ana"))
            expect(page.locator("#assignee")).to_have_text("ana")
            note = "<b>called</b> the MAC; <script>alert(2)</script> refund expected"
            page.fill("#note-text", note)
            page.click("#add-note")
            expect(page.locator("#notes .note-text")).to_have_text(note)
            assert page.locator("#notes b").count() == 0
            page.select_option("#root-cause-code", "payer_error")
            page.fill("#root-cause-reason", "the MAC paid the claim twice")
            page.click("#set-root-cause")
            expect(page.locator("#root-cause")).to_have_text("payer_error")
            history = page.locator("#history")
            expect(history).to_contain_text("assigned to ana")
            expect(history).to_contain_text("note added")
            expect(history).to_contain_text("the MAC paid the claim twice")
            expect(history).to_contain_text("user:ana")
            page.screenshot(path=shots / "3-worked.png")

            page.goto(f"{url}/console/cases?assignee=me")
            expect(page.locator("#cases tbody tr")).to_have_count(1)
            expect(page.locator("#cases tbody tr .assignee")).to_have_text("ana")
            page.goto(f"{url}/console/cases?state=open")
            ids = []
            for pcn in ("MCR1", "COPAY2", "UHC1"):
                row = page.locator("#cases tbody tr", has_text=pcn)
                row.locator("input.pick").check()
                ids.append(row.locator("input.pick").get_attribute("value"))
            page.select_option("#bulk-action", "approve")
            page.fill("#bulk-reason", "verified against the remittances")
            page.click("#bulk-go")
            expect(page.locator("h1")).to_have_text("Bulk approve: 3 done, 0 refused")
            for i in ids:
                expect(page.locator(f"#result-{i} .outcome")).to_have_text("done")
            page.screenshot(path=shots / "4-bulk.png")

            page.goto(f"{url}/console/cases?state=approved&sort=claim")
            expect(page.locator("#cases tbody tr")).to_have_count(3)
            with page.expect_download() as dl:
                page.click("#export-csv")
            table = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
            assert table[0][2] == "State"
            assert table[0][-1] == "Assignee"
            assert [(r[4], r[2], r[-1]) for r in table[1:]] == [
                ("COPAY2", "approved", ""),
                ("MCR1", "approved", "ana"),
                ("UHC1", "approved", ""),
            ]
            with page.expect_download() as dl:
                page.click("#export-xlsx")
            ws = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).active
            assert ws is not None
            got = list(ws.iter_rows(values_only=True))
            assert [(r[4], r[2], r[-1]) for r in got[1:]] == [
                ("COPAY2", "approved", None),
                ("MCR1", "approved", "ana"),
                ("UHC1", "approved", None),
            ]
            assert violations == []
            assert dialogs == []
        finally:
            browser.close()
