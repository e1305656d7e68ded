"""The console's KPI page in headless Chromium against `gateway serve` on 127.0.0.1: every chart
is drawn by the vendored Chart.js (served by the app, no CDN, no CSP violation) with the
figures of the hand-built data set (tests/integration/kpi_data.py; worked by hand in
tests/integration/test_kpi_reports.py), and again with the demo half-year's figures (from its
answer file). Driven as in test_console_browser.py."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.api.keys import Role, create_key
from gateway.demo import generate
from gateway.demo.calendar import shift
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


@dataclass
class _Seen:
    """What the browser reported while the test ran."""

    problems: list[str] = field(default_factory=list)  # console errors and warnings
    failed: list[str] = field(default_factory=list)  # responses of status 400 and above
    outside: list[str] = field(default_factory=list)  # requests to anywhere but the gateway


@contextmanager
def _kpi_session(gw: Gateway, tmp_path: Path, name: str) -> Iterator[tuple[Any, str, _Seen]]:
    """A served gateway and a headless Chromium page signed in with a new auditor key."""
    from playwright.sync_api import expect, sync_playwright

    with gw.db.write() as s:
        key = create_key(
            s, name=name, role=Role.AUDITOR, provider=None, pepper=None, actor="pytest"
        ).key
    with serve_process(gw, tmp_path) as (url, _pid), sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            seen = _Seen()
            page.on(
                "console",
                lambda m: seen.problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("response", lambda r: seen.failed.append(r.url) if r.status >= 400 else None)
            page.on(
                "request",
                lambda r: seen.outside.append(r.url) if not r.url.startswith(url) else None,
            )
            page.goto(f"{url}/console/login")
            page.fill("#key", key)
            page.click("#sign-in")
            expect(page).to_have_url(f"{url}/console/")
            yield page, url, seen
        finally:
            browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kpi_page_draws_every_chart(gw: Gateway, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: apt-get install -y chromium (CI must not skip)")
    from playwright.sync_api import expect

    build(gw)
    with _kpi_session(gw, tmp_path, "kpi-auditor") as (page, url, seen):
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
        assert seen.failed == []
        # no CSP violation ("Refused to ..."), no script error
        assert [p for p in seen.problems if "Failed to load resource" not in p] == []
        assert seen.outside == [], seen.outside  # nothing fetched from elsewhere (no CDN)


# --------------------------------------------------------------------------- the demo half-year

DEMO_AS_OF = "2025-11-17"  # the demo's final reconciliation
DEMO_MONTHS = 8  # April (the first checkpoint) to November 2025
AGE_BUCKETS = ((0, 30, "0-30"), (31, 60, "31-60"), (61, 90, "61-90"), (91, 180, "91-180"))


def _demo_expected(answers: list[dict[str, Any]], runs: list[dt.date]) -> dict[str, Any]:
    """The charts' figures from answers.json (not from the reports), and the days to resolve
    from the planted design: in each month k, the Medicare Part A duplicate is undone by the
    practice's refund posted 5 May + shift(k), the Aetna duplicate by a PLB of 15 May +
    shift(k), each resolved by the first run on or after that day."""
    as_of = dt.date.fromisoformat(DEMO_AS_OF)
    months = [f"2025-{m:02d}" for m in range(4, 12)]
    active = [r for r in answers if r["status"] != "resolved"]

    def total(rows: list[dict[str, Any]], key: Any) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for r in rows:
            out[key(r)] = out.get(key(r), Decimal(0)) + Decimal(r["amount"])
        return out

    def by_amount(cells: dict[str, Decimal]) -> tuple[list[str], list[float]]:
        keys = sorted(cells, key=lambda k: (-cells[k], k))
        return keys, [float(cells[k]) for k in keys]

    def bucket(r: dict[str, Any]) -> str:
        age = (as_of - dt.date.fromisoformat(r["identified_on"])).days
        return next((name for lo, hi, name in AGE_BUCKETS if lo <= age <= hi), "180+")

    ages = total(active, bucket)
    identified = total(answers, lambda r: r["identified_on"][:7])
    resolved_days: dict[str, list[int]] = {}
    recouped: dict[str, Decimal] = {}
    refunded: dict[str, Decimal] = {}
    for payer, undone, ledger in (("MCRA01", (5, 5), refunded), ("60054", (5, 15), recouped)):
        for k, row in enumerate(_resolved(answers, payer)):
            on = next(run for run in runs if run >= dt.date(2025, *undone) + shift(k))
            m = on.isoformat()[:7]
            identified_on = dt.date.fromisoformat(row["identified_on"])
            resolved_days.setdefault(m, []).append((on - identified_on).days)
            ledger[m] = ledger.get(m, Decimal(0)) + Decimal(row["amount"])

    def median(values: list[int] | None) -> int | None:
        if not values:
            return None
        return sorted(values)[max(1, math.ceil(len(values) / 2)) - 1]

    gov = total(active, lambda r: "government" if r["government"] else "other")
    return {
        "chart-age": (
            [*(b[2] for b in AGE_BUCKETS), "180+"],
            [float(ages.get(name, 0)) for name in [*(b[2] for b in AGE_BUCKETS), "180+"]],
        ),
        "chart-payer": by_amount(total(active, lambda r: r["payer_id"] or r["owed_to"])),
        "chart-cause": by_amount(total(active, lambda r: r["cause"])),
        # no case has a root cause yet
        "chart-root-cause": (["unassigned"], [float(sum(Decimal(r["amount"]) for r in active))]),
        "chart-government": (
            ["government", "other"],
            [float(gov.get("government", 0)), float(gov.get("other", 0))],
        ),
        "chart-recovery": (months, [float(identified.get(m, 0)) for m in months]),
        "recovery-refunded": [float(refunded.get(m, 0)) for m in months],
        "recovery-recouped": [float(recouped.get(m, 0)) for m in months],
        "chart-days": (months, [median(resolved_days.get(m)) for m in months]),
        "chart-trend": (months, [float(identified.get(m, 0)) for m in months]),
    }


def _resolved(answers: list[dict[str, Any]], payer: str) -> list[dict[str, Any]]:
    """One planted resolved duplicate, month by month (each month's claims are numbered after
    the month before's)."""
    rows = [r for r in answers if r["status"] == "resolved" and r["payer_id"] == payer]
    assert len(rows) == 6, rows
    return sorted(rows, key=lambda r: str(r["patient_control_number"]))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kpi_page_draws_the_demo_half_year(gw: Gateway, tmp_path: Path) -> None:
    """The demo's six months through ingest and reconciliation at its checkpoints; the KPI
    page over April–November 2025 draws the answer file's figures, a trend month by month."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: apt-get install -y chromium (CI must not skip)")
    from playwright.sync_api import expect

    out = tmp_path / "demo"
    manifest = generate(out, claims=40, seed=5)
    for step in manifest.checkpoints:
        proc = gw.cli("ingest", *(str(out / p) for p in step.files), timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        gw.cli("reconcile", "--as-of", step.as_of.isoformat(), check=True, timeout=300)
    answers = json.loads(manifest.answers_path.read_text(encoding="utf-8"))["credits"]
    expected = _demo_expected(answers, [c.as_of for c in manifest.checkpoints])
    # worked by hand from the schedule (30 Apr, 4 Jun, 2 Jul, 30 Jul, 3 Sep, 1 Oct, 17 Nov):
    # June: month 1's two, 35 days each; July: month 2's 63 and 28, month 3's 56 and 56;
    # September: month 4's 63 and 63; October: month 5's 63 and 28; November: month 6's 75, 75
    assert expected["chart-days"][1] == [None, None, 35, 56, None, 63, 28, 75]
    # the trend the page must show: credits identified in six different months
    assert sum(1 for v in expected["chart-recovery"][1] if v) >= 6
    with _kpi_session(gw, tmp_path, "kpi-demo") as (page, url, seen):
        page.goto(f"{url}/console/kpi?as_of={DEMO_AS_OF}&months={DEMO_MONTHS}")
        active = sum(Decimal(r["amount"]) for r in answers if r["status"] != "resolved")
        expect(page.locator("#kpi-totals")).to_contain_text(f"${active:.2f}")
        for canvas_id in (
            "chart-age",
            "chart-payer",
            "chart-cause",
            "chart-root-cause",
            "chart-government",
            "chart-recovery",
            "chart-days",
            "chart-trend",
            "chart-rates",
        ):
            canvas = page.locator(f"#{canvas_id}")
            expect(canvas).to_have_attribute("data-rendered", "true")
            drawn = page.evaluate(
                "(id) => { const c = Chart.getChart(document.getElementById(id));"
                " return [c.data.labels, c.data.datasets.map(d => d.data),"
                " c.data.datasets.map(d => d.label), c.chartArea.width,"
                " c.chartArea.height]; }",
                canvas_id,
            )
            assert drawn[3] > 100, canvas_id  # room to draw, labels included
            assert drawn[4] > 100, canvas_id
            if canvas_id == "chart-rates":
                # every payer owed a credit, each with a rate drawn (claims paid > 0)
                owed = {r["payer_id"] for r in answers if r["payer_id"]}
                assert owed <= set(drawn[0]), drawn[0]
                rates = dict(zip(drawn[0], drawn[1][0], strict=True))
                assert all(rates[p] and rates[p] > 0 for p in owed), rates
                continue
            labels, values = expected[canvas_id]
            assert drawn[0] == labels, canvas_id
            assert drawn[1][0] == values, canvas_id
            if canvas_id == "chart-recovery":
                series = dict(zip(drawn[2], drawn[1], strict=True))
                assert series["refunded"] == expected["recovery-refunded"]
                assert series["recouped"] == expected["recovery-recouped"]
        page.screenshot(path=tmp_path / "kpi-demo.png", full_page=True)
        assert [p for p in seen.problems if "Failed to load resource" not in p] == []
