"""Resolution over HTTP on SQLite and PostgreSQL: approve / dispute / resolve (ops only, reason
required, audited), batches with receipts, CMS-838 preview and credit reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from gateway.db.models import AuditEntry
from gateway.reconcile import run_reconcile
from gateway.resolve.batches.issue import create_batches
from mappings.payers import default_directory
from tests.integration.helpers import ingest
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401

RECON = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"


def _credits(api: Api) -> dict[str, int]:
    for name in (
        "copay_twice/1.835",
        "copay_twice/2.csv",
        "duplicate_payment/1.835",
        "duplicate_payment/2.835",
        "duplicate_payment/3.csv",
    ):
        assert ingest(api.gw, (RECON / name).read_bytes(), name).state == "processed"
    run_reconcile(api.gw.db, as_of=dt.date(2026, 9, 30))
    items = api.client.get("/v1/credits", headers=api.auth("ops")).json()["items"]
    return {c["patient_control_number"]: c["id"] for c in items}


def test_actions_reports_and_batches(api: Api) -> None:
    ids = _credits(api)
    ops, auditor = api.auth("ops"), api.auth("auditor")
    copay, dup = ids["COPAY1"], ids["DUP1"]

    r = api.client.post(
        f"/v1/credits/{copay}/approve", json={"reason": "paid twice"}, headers=auditor
    )
    assert r.status_code == 403
    r = api.client.post(f"/v1/credits/{copay}/approve", json={}, headers=ops)
    assert r.status_code == 422  # reason required
    r = api.client.post(f"/v1/credits/{copay}/approve", json={"reason": "paid twice"}, headers=ops)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["method"], r.json()["approved_by"]) == (
        "approved",
        "patient_refund",
        "apikey:test-ops",
    )

    # ACME01 has no shipped payer profile: no layout, a clear 409, the case stays open
    r = api.client.post(f"/v1/credits/{dup}/approve", json={"reason": "duplicate"}, headers=ops)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "no_layout"
    assert "ACME01" in r.json()["detail"]
    r = api.client.post(
        f"/v1/credits/{dup}/dispute", json={"reason": "payer says no dup"}, headers=ops
    )
    assert r.json()["state"] == "disputed"
    r = api.client.post(f"/v1/credits/{dup}/approve", json={"reason": "again"}, headers=ops)
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"
    r = api.client.post(
        f"/v1/credits/{dup}/resolve",
        json={"reason": "payer confirmed", "reference": "CONF-77"},
        headers=ops,
    )
    assert (r.json()["state"], r.json()["reference"]) == ("resolved", "CONF-77")
    assert (
        api.client.post(
            "/v1/credits/99999/resolve", json={"reason": "x y z"}, headers=ops
        ).status_code
        == 404
    )

    by_cause = api.client.get("/v1/reports/credits?by=cause", headers=auditor).json()
    assert {r["key"]: r["amount"] for r in by_cause["rows"]} == {
        "duplicate_payment": "80.00",
        "patient_overpayment": "20.00",
    }
    assert api.client.get("/v1/reports/credits?by=age", headers=auditor).status_code == 200
    assert api.client.get("/v1/reports/cms838?quarter=2026Q3", headers=auditor).json() == []
    assert api.client.get("/v1/reports/cms838?quarter=2026-13", headers=auditor).status_code == 422

    with api.gw.db.write() as s:
        [batch] = create_batches(
            s, as_of=dt.date(2026, 10, 1), actor="pytest", payers=default_directory()
        ).batches
    listed = api.client.get("/v1/batches", headers=auditor).json()
    assert [b["batch_key"] for b in listed] == [batch.batch_key]
    shown = api.client.get(f"/v1/batches/{batch.id}", headers=auditor).json()
    assert shown["kind"] == "patient_refunds"
    assert shown["credit_ids"] == [copay]
    assert [f["role"] for f in shown["files"]] == ["data", "letter", "manifest"]
    assert shown["delivery"] == "not_queued"
    assert api.client.get("/v1/batches/999", headers=auditor).status_code == 404

    with api.gw.db.read() as s:
        acts = [(r.actor, r.action) for r in s.execute(select(AuditEntry.actor, AuditEntry.action))]
    assert ("apikey:test-ops", "case_approved") in acts
    assert ("apikey:test-ops", "case_disputed") in acts
    assert ("apikey:test-ops", "http POST /v1/credits/{credit_id}/approve") in acts
