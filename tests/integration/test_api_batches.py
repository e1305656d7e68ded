"""``POST /v1/batches`` on SQLite and PostgreSQL: what ``gateway batches create`` does, over HTTP,
with the check or EFT reference the operator gives printed on the letters (issue 21); ops only,
provider-scoped, never twice."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from gateway.db.models import AuditEntry
from gateway.reconcile import run_reconcile
from gateway.resolve.batches.records import batch_content
from tests.integration.helpers import ingest
from tests.integration.test_api_support import PROVIDER_NPI, Api, api_fixture  # noqa: F401

RECON = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"


def _approved_copay(api: Api) -> int:
    """COPAY1 (the patient paid the 20.00 copay twice) approved as a patient refund."""
    for name in ("copay_twice/1.835", "copay_twice/2.csv"):
        assert ingest(api.gw, (RECON / name).read_bytes(), name).state == "processed"
    run_reconcile(api.gw.db, as_of=dt.date(2026, 9, 30))
    items = api.client.get("/v1/credits", headers=api.auth("ops")).json()["items"]
    [credit] = [c["id"] for c in items if c["patient_control_number"] == "COPAY1"]
    r = api.client.post(
        f"/v1/credits/{credit}/approve", json={"reason": "paid twice"}, headers=api.auth("ops")
    )
    assert r.status_code == 200, r.text
    return int(credit)


def _letter_text(api: Api, batch_id: int) -> str:
    with api.gw.db.read() as s:
        files = batch_content(s, batch_id)
    [pdf] = [data for name, data in files.items() if name.endswith(".pdf")]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_batches_over_http_cite_the_operators_check_reference(api: Api) -> None:
    credit = _approved_copay(api)
    ops = api.auth("ops")
    body = {"as_of": "2026-10-01", "reference": "CHK-004417"}
    # not an operator: refused, and nothing is issued
    for who in ("auditor", "uploader"):
        r = api.client.post("/v1/batches", json=body, headers=api.auth(who))
        assert r.status_code == 403, (who, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert api.client.post("/v1/batches", json=body).status_code == 401
    assert api.client.get("/v1/batches", headers=ops).json() == []
    # bad input is a 422 problem, never a 500
    for bad in ({"reference": "X" * 81}, {"reference": ""}, {"as_of": "2026-13-01"}):
        r = api.client.post("/v1/batches", json=bad, headers=ops)
        assert r.status_code == 422, (bad, r.text)
    # a provider that has sent nothing: 404, nothing issued
    r = api.client.post("/v1/batches", json={**body, "provider": "1999999992"}, headers=ops)
    assert r.status_code == 404
    assert r.json()["code"] == "provider_not_found"
    assert api.client.get("/v1/batches", headers=ops).json() == []

    r = api.client.post("/v1/batches", json={**body, "provider": PROVIDER_NPI}, headers=ops)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["problems"] == []
    [batch] = out["batches"]
    assert (batch["kind"], batch["credit_ids"], batch["amount"]) == (
        "patient_refunds",
        [credit],
        "20.00",
    )
    assert batch["created_by"] == "apikey:test-ops"
    letter = _letter_text(api, batch["id"])
    assert "CHK-004417" in letter  # the operator's check number, not the batch number
    assert batch["batch_key"] not in letter.split("Check reference")[-1].splitlines()[0]
    # never twice
    again = api.client.post("/v1/batches", json=body, headers=ops)
    assert again.json() == {"batches": [], "problems": []}
    with api.gw.db.read() as s:
        acts = [(r.actor, r.action) for r in s.execute(select(AuditEntry.actor, AuditEntry.action))]
    assert ("apikey:test-ops", "batch_issued") in acts
    assert ("apikey:test-ops", "http POST /v1/batches") in acts


def test_without_a_reference_the_letter_leaves_a_blank(api: Api) -> None:
    _approved_copay(api)
    r = api.client.post("/v1/batches", json={"as_of": "2026-10-01"}, headers=api.auth("ops"))
    assert r.status_code == 200, r.text
    [batch] = r.json()["batches"]
    line = _letter_text(api, batch["id"]).split("Check reference")[-1].splitlines()[0]
    assert batch["batch_key"] not in line
    assert "CHK" not in line
