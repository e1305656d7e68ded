"""KPI reports over HTTP and the CLI, on the hand-built data set (tests/integration/kpi_data.py):
provider scope attacks (a provider-bound key sees only its provider, naming another is 403),
global keys choosing a provider, bad input as problem+json, ``gateway report`` JSON/CSV and
``gateway cases root-cause``."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from gateway.api.keys import Role, create_key
from gateway.db.models import AuditEntry
from gateway.resolve.tables import ResolutionCase
from tests.integration.kpi_data import P1_NPI, P2_NPI, build
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401

ENDPOINTS = ("inventory", "deadlines", "recovery", "days-to-resolve", "rates", "root-causes")
Q = "as_of=2026-06-30&months=3"


def _get(api: Api, path: str, headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = api.client.get(f"/v1/reports/kpi/{path}", headers=headers)
    return r.status_code, r.json()


def test_provider_scope_attacks(api: Api) -> None:
    """The uploader key is P1's (NPI 1234567893): P1's inventory is 422.75 (5 credits, see
    test_kpi_reports.test_inventory); P2's only credit C10 is 999.99; all providers 1422.74."""
    build(api.gw)
    up, ops, auditor = api.auth("uploader"), api.auth("ops"), api.auth("auditor")
    with api.gw.db.write() as s:
        other = create_key(
            s, name="p2-up", role=Role.UPLOADER, provider=P2_NPI, pepper=None, actor="pytest"
        ).key
        empty = create_key(
            s, name="nobody-up", role=Role.UPLOADER, provider="1999999992", pepper=None, actor="t"
        ).key
    p2 = {"Authorization": f"Bearer {other}"}

    code, body = _get(api, f"inventory?{Q}", up)
    assert code == 200
    assert body["total_amount"] == "422.75"
    assert body["provider_id"] is not None
    code, body = _get(api, f"inventory?{Q}", p2)
    assert code == 200
    assert body["total_amount"] == "999.99"
    # a provider-bound key naming another provider: refused on every report, nothing leaks
    for name in ENDPOINTS:
        for who, asked in ((up, P2_NPI), (up, f"npi:{P2_NPI}"), (p2, P1_NPI)):
            r = api.client.get(f"/v1/reports/kpi/{name}?{Q}&provider={asked}", headers=who)
            assert r.status_code == 403, (name, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "provider_forbidden"
            assert "999.99" not in r.text
            assert "422.75" not in r.text
        # naming its own provider is fine
        r = api.client.get(f"/v1/reports/kpi/{name}?{Q}&provider={P1_NPI}", headers=up)
        assert r.status_code == 200, (name, r.text)
        # no key, a wrong key
        assert api.client.get(f"/v1/reports/kpi/{name}").status_code == 401
        assert (
            api.client.get(f"/v1/reports/kpi/{name}", headers=api.auth("revoked")).status_code
            == 401
        )
    # a key whose provider has sent nothing sees nothing (not everyone's figures)
    code, body = _get(api, f"inventory?{Q}", {"Authorization": f"Bearer {empty}"})
    assert code == 200
    assert (body["total_count"], body["total_amount"]) == (0, "0.00")
    code, body = _get(api, f"recovery?{Q}", {"Authorization": f"Bearer {empty}"})
    assert body["total"]["identified"] == "0.00"

    # global keys: everyone, or the provider they pick
    code, body = _get(api, f"inventory?{Q}", ops)
    assert (code, body["total_amount"], body["provider_id"]) == (200, "1422.74", None)
    code, body = _get(api, f"inventory?{Q}&provider={P2_NPI}", auditor)
    assert (code, body["total_amount"]) == (200, "999.99")
    code, body = _get(api, f"inventory?{Q}&provider=1888888881", ops)
    assert (code, body["code"]) == (404, "provider_not_found")
    for bad in ("abc", "12345", "npi:1' OR 1=1--"):
        r = api.client.get(f"/v1/reports/kpi/inventory?provider={bad}", headers=ops)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "bad_provider"
    # the console page needs a console session (an API key header is not one)
    r = api.client.get("/console/kpi", headers=up, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/login")
    # the vendored chart library and its licence are served by the app itself
    js = api.client.get("/console/static/chart.umd.min.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.text.startswith("/*!\n * Chart.js v4")
    assert "MIT" in api.client.get("/console/static/chart.js.LICENSE.md").text
    assert api.client.get("/console/static/../keys.json").status_code == 404
    assert api.client.get("/v1/reports/kpi/recovery?months=0", headers=ops).status_code == 422
    assert api.client.get("/v1/reports/kpi/recovery?months=37", headers=ops).status_code == 422
    assert (
        api.client.get("/v1/reports/kpi/inventory?as_of=2026-13-01", headers=ops).status_code == 422
    )


def test_api_figures_match_the_reports(api: Api) -> None:
    """The JSON of each endpoint carries the hand-worked figures (Decimal as strings)."""
    build(api.gw)
    ops = api.auth("ops")
    q = f"{Q}&provider={P1_NPI}"
    _, dl = _get(api, f"deadlines?{q}", ops)
    assert (dl["past_count"], dl["past_amount"], dl["near_count"], dl["near_amount"]) == (
        1,
        "250.50",
        1,
        "100.00",
    )
    _, rec = _get(api, f"recovery?{q}", ops)
    assert [m["identified"] for m in rec["months"]] == ["310.50", "190.25", "112.00"]
    _, days = _get(api, f"days-to-resolve?{q}", ops)
    assert (days["overall"]["median_days"], days["overall"]["p90_days"]) == (20, 30)
    _, rates = _get(api, f"rates?{q}", ops)
    acme = next(r for r in rates["by_payer"] if r["payer_id"] == "ACME01")
    assert (acme["credits_per_1000_claims"], acme["credit_dollars_per_1000_paid"]) == (
        "1250.00",
        "163.56",
    )
    _, rc = _get(api, f"root-causes?{q}&min_months=2", ops)
    assert [g["root_cause"] for g in rc["growing"]] == ["registration_error"]
    schema = api.client.get("/v1/openapi.json", headers=ops).json()
    assert "Inventory" in schema["components"]["schemas"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_reports_and_root_cause(api: Api) -> None:
    """``gateway report inventory --json`` for P1 is the 422.75 of test_inventory; setting C2's
    root cause to cob_not_updated moves 250.50 from unassigned (282.50 → 32.00) to it."""
    ids = build(api.gw)
    gw = api.gw
    args = ("--as-of", "2026-06-30", "--provider", P1_NPI)
    out = gw.cli("report", "inventory", *args, "--json", check=True)
    data = json.loads(out.stdout)
    assert (data["total_count"], data["total_amount"]) == (5, "422.75")
    rows = list(
        csv.reader(io.StringIO(gw.cli("report", "inventory", *args, "--csv", check=True).stdout))
    )
    assert ["by_age", "0-30", "2", "112.00"] in rows
    assert ["by_root_cause", "unassigned", "3", "282.50"] in rows
    for name in ("deadlines", "recovery", "days-to-resolve", "rates", "root-causes"):
        proc = gw.cli("report", name, *args, "--json")
        assert proc.returncode == 0, (name, proc.stderr)
        assert json.loads(proc.stdout)["as_of"] == "2026-06-30"
    bad = gw.cli("report", "inventory", "--provider", "nope")
    assert bad.returncode == 2
    assert "bad_provider" in bad.stderr
    assert "Traceback" not in bad.stderr

    refused = gw.cli("cases", "root-cause", str(ids["C2"]), "not_a_code")
    assert refused.returncode == 2
    assert "bad_root_cause" in refused.stderr
    assert "cob_not_updated" in refused.stderr
    missing = gw.cli("cases", "root-cause", "999999", "payer_error")
    assert missing.returncode == 2
    assert "case_not_found" in missing.stderr
    gw.cli("cases", "root-cause", str(ids["C2"]), "cob_not_updated", "--reason", "COB", check=True)
    with gw.db.read() as s:
        assert (
            s.execute(
                select(ResolutionCase.root_cause).where(ResolutionCase.credit_id == ids["C2"])
            ).scalar_one()
            == "cob_not_updated"
        )
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "case_root_cause")
        ).scalar_one()
        assert entry.details is not None
        assert entry.details["root_cause"] == "cob_not_updated"
    data = json.loads(gw.cli("report", "inventory", *args, "--json", check=True).stdout)
    by_rc = {b["key"]: b["amount"] for b in data["by_root_cause"]}
    assert (by_rc["cob_not_updated"], by_rc["unassigned"]) == ("250.50", "32.00")
