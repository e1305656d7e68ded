"""The ops console end to end in headless Chromium against `gateway serve` on 127.0.0.1:
sign in with an ops key, find a quarantined file, replay it, sign out. Screenshots of every
step go to the test's tmp dir.

Needs Debian's chromium at /usr/bin/chromium (CI: ``apt-get install -y --no-install-recommends
chromium``) and the Python ``playwright`` package (its own browser download is never used).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gateway.api.keys import Role, create_key
from gateway.db.models import FileEvent
from gateway.reconcile import run_reconcile
from gateway.reconcile.tables import Credit
from gateway.resolve.case_views import get_case
from gateway.worker import run_worker
from tests.integration.helpers import ROOT, Gateway, ingest
from tests.integration.test_api_support import serve_process
from tests.integration.x12gen import make_835

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sign_in_and_replay_a_failed_file(gw: Gateway, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: apt-get install -y chromium (CI must not skip)")
    from playwright.sync_api import expect, sync_playwright

    with gw.db.write() as s:
        key = create_key(
            s, name="console-ops", role=Role.OPS, provider=None, pepper=None, actor="pytest"
        ).key
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # a patient credit to approve from the worklist (tests/fixtures/reconcile/copay_twice)
    copay = ROOT / "tests" / "fixtures" / "reconcile" / "copay_twice"
    for name in ("1.835", "2.csv"):
        assert ingest(gw, (copay / name).read_bytes(), name).state == "processed"
    run_reconcile(gw.db, as_of=dt.date(2026, 9, 30))
    with gw.db.read() as s:
        [credit_id] = s.execute(select(Credit.id)).scalars().all()
    with serve_process(gw, tmp_path, {"GATEWAY_LOG_LEVEL": "INFO"}) as (url, _pid):
        broken = make_835(40).replace(b"SE*", b"XE*", 1)
        r = httpx.post(
            f"{url}/v1/files",
            content=broken,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        fid = r.json()["id"]
        run_worker(gw.db, gw.store, gw.settings, stop=__import__("threading").Event(), once=True)
        failure = httpx.get(
            f"{url}/v1/failures", headers={"Authorization": f"Bearer {key}"}, timeout=30
        ).json()["items"][0]
        seg_no = failure["error_location"]["segment_number"]
        assert failure["id"] == fid
        assert seg_no > 0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                # CSP: nothing inline, so the console must work without one violation report
                violations: list[str] = []
                page.on(
                    "console",
                    lambda m: (
                        violations.append(m.text) if "Content Security Policy" in m.text else None
                    ),
                )
                page.goto(f"{url}/console/")
                expect(page).to_have_url(f"{url}/console/login")
                page.screenshot(path=shots / "1-login.png")
                page.fill("#key", "gw_wrong_key")
                page.click("#sign-in")
                expect(page.get_by_role("alert")).to_contain_text("not valid")
                page.fill("#key", key)
                page.click("#sign-in")
                expect(page).to_have_url(f"{url}/console/")
                expect(page.locator('[data-state="failed"]')).to_have_text("1")
                # the stylesheet loaded under the CSP (header colour from console.css)
                expect(page.locator("header")).to_have_css("background-color", "rgb(23, 33, 47)")
                page.screenshot(path=shots / "2-dashboard.png")
                cookie = next(c for c in page.context.cookies() if c["name"] == "gw_session")
                assert cookie["httpOnly"]
                assert cookie["sameSite"] == "Strict"
                page.click("text=Failures")
                row = page.locator(f"#failure-{fid}")
                expect(row).to_contain_text("segment")
                page.screenshot(path=shots / "3-failures.png")
                row.locator("input[name=reason]").fill("fixed upstream, replay")
                row.locator("button.replay").click()
                # the status message is the session's flash state, not text from the URL
                expect(page).to_have_url(f"{url}/console/files/{fid}")
                expect(page.locator("#notice")).to_have_text("replay queued (was failed)")
                expect(page.locator("#file-state")).to_have_text("received")
                # the highlighted line is the segment the parser named
                expect(page.locator("pre.segs .hit")).to_have_text(re.compile(rf"^\s*{seg_no}\s"))
                page.screenshot(path=shots / "4-replayed.png")
                page.goto(f"{url}/console/credits")
                credit = page.locator(f"#credit-{credit_id}")
                expect(credit.locator(".state")).to_have_text("open")
                expect(page.locator("#chart-cause")).to_contain_text("patient_overpayment")
                page.screenshot(path=shots / "5-credits.png")
                credit.locator("input[type=text][name=reason]").fill("patient paid the copay twice")
                credit.locator("button.approve").click()
                expect(page.locator("#notice")).to_contain_text(f"credit {credit_id} approved")
                expect(page.locator(f"#credit-{credit_id} .state")).to_have_text("approved")
                page.screenshot(path=shots / "6-approved.png")
                page.click("#logout")
                expect(page).to_have_url(f"{url}/console/login?signed_out=1")
                page.goto(f"{url}/console/failures")
                expect(page).to_have_url(f"{url}/console/login")
                assert violations == []
            finally:
                browser.close()
    with gw.db.read() as s:
        events = s.execute(
            select(FileEvent.actor, FileEvent.to_state, FileEvent.reason)
            .where(FileEvent.file_id == fid)
            .order_by(FileEvent.id)
        ).all()
    assert events[-1] == ("apikey:console-ops", "received", "replay: fixed upstream, replay")
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-login.png",
        "2-dashboard.png",
        "3-failures.png",
        "4-replayed.png",
        "5-credits.png",
        "6-approved.png",
    ]
    with gw.db.read() as s:
        case = get_case(s, credit_id)
    assert (case.state, case.approved_by) == ("approved", "apikey:console-ops")
    assert case.history[-1].reason == "patient paid the copay twice"
