"""The console's KPI page in headless Chromium against `gateway serve` on 127.0.0.1: every chart
is drawn by the vendored Chart.js (served by the app, no CDN, no CSP violation) with the
figures of the hand-built data set (tests/integration/kpi_data.py; worked by hand in
tests/integration/test_kpi_reports.py). Driven as in test_console_browser.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.api.keys import Role, create_key
from tests.integration.helpers import Gateway
from tests.integration.kpi_data import P1_NPI, build
from tests.integration.test_api_support import serve_process
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS

#: canvas id → (labels, first dataset's values) expected for P1, as of 2026-06-30, 3 months
EXPECTED: dict[str, tuple[list[Any], list[Any]]] = {
    "chart-age": (["0-30", "31-60", "61-90", "91-180", "180+"], [112, 40.25, 250.5, 0, 20]),
    "chart-payer": (["MCR", "ACME01", "patient"], [350.5, 52.25, 20]),
    "chart-cause": (
        ["duplicate_payment", "overpayment", "patient_overpayment"],
        [250.5, 152.25, 20],
    ),
    "chart-root-cause": (
        ["unassigned", "registration_error", "payer_error"],
        [282.5, 100, 40.25],
    ),
    "chart-government": (["government", "other"], [350.5, 72.25]),
    # identified per month
    "chart-recovery": (["2026-04", "2026-05", "2026-06"], [310.5, 190.25, 112]),
    # median days per month of resolution
    "chart-days": (["2026-04", "2026-05", "2026-06"], [20, 30, 20]),
    # credits per 1,000 claims per payer (MCR has no claims here: no rate)
    "chart-rates": (["ACME01", "MCR"], [1250, None]),
    # the first root cause in label order is payer_error: May 115.25
    "chart-trend": (["2026-04", "2026-05", "2026-06"], [0, 115.25, 0]),
}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kpi_page_draws_every_chart(gw: Gateway, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: apt-get install -y chromium (CI must not skip)")
    from playwright.sync_api import expect, sync_playwright

    build(gw)
    with gw.db.write() as s:
        key = create_key(
            s, name="kpi-auditor", role=Role.AUDITOR, provider=None, pepper=None, actor="pytest"
        ).key
    with serve_process(gw, tmp_path) as (url, _pid), sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems: list[str] = []
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            failed: list[str] = []
            page.on(
                "response",
                lambda r: failed.append(r.url) if r.status >= 400 else None,
            )
            outside: list[str] = []
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(url) else None,
            )
            page.goto(f"{url}/console/login")
            page.fill("#key", key)
            page.click("#sign-in")
            expect(page).to_have_url(f"{url}/console/")
            page.click("text=KPIs")
            expect(page).to_have_url(f"{url}/console/kpi")
            page.goto(f"{url}/console/kpi?as_of=2026-06-30&months=3&provider={P1_NPI}")
            expect(page.locator("#kpi-totals")).to_contain_text("$422.75")
            for canvas_id, (labels, values) in EXPECTED.items():
                canvas = page.locator(f"#{canvas_id}")
                expect(canvas).to_have_attribute("data-rendered", "true")
                drawn = page.evaluate(
                    "(id) => { const c = Chart.getChart(document.getElementById(id));"
                    " return [c.data.labels, c.data.datasets[0].data,"
                    " c.chartArea.width, c.chartArea.height]; }",
                    canvas_id,
                )
                assert drawn[0] == labels, canvas_id
                assert drawn[1] == values, canvas_id
                assert drawn[2] > 100, canvas_id  # a chart with room to draw, labels included
                assert drawn[3] > 100, canvas_id
            rows = page.locator("#deadlines tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.first).to_contain_text("250.50")
            expect(page.locator("#offenders")).to_contain_text("ACME01")
            page.screenshot(path=tmp_path / "kpi.png", full_page=True)
            # every page resource loaded; the one console "Failed to load resource" is the
            # browser's own /favicon.ico probe (the console has no icon; not a page request)
            assert failed == []
            # no CSP violation ("Refused to ..."), no script error
            assert [p for p in problems if "Failed to load resource" not in p] == []
            assert outside == [], outside  # nothing fetched from anywhere else (no CDN)
        finally:
            browser.close()
