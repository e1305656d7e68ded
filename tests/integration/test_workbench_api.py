"""The case workbench over HTTP on SQLite and PostgreSQL: the worklist (every state with
counts, filters, search, sort, paging, totals), one case's evidence and computation (figures
worked by hand below), CSV/XLSX exports, provider scope, PHI masking and hostile filters.

Hand-worked figures (fixtures under tests/fixtures/reconcile):

- MCR1 (medicare_duplicate): 837 one line HC:99213 100.00. Two 835s (TRN TRACE120 and
  TRACE121, ICNs ...0101 and ...0102) each pay 80.00 with CAS CO*45 20.00. The effective
  adjudication is the later one, so W(MCRB01) = 20.00; N(MCRB01) = 80 + 80 = 160.00;
  the ledger's charge is 100.00, no patient money: B = 100 - 20 - 160 = -80.00, a credit of
  80.00 duplicate_payment to MCRB01 (government, 60 days: due 2026-11-29).
- COPAY1 (copay_twice): charge 100.00; 835 pays 70.00, CO*45 10.00, PR*3 20.00; the patient
  paid 20 + 20: B = 100 - 10 - 70 - 40 = -20.00, 20.00 patient_overpayment.
- DUP1 (duplicate_payment): 80.00 to ACME01 (no outbound layout: approve is not offered).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from gateway.errors import NotFoundError
from gateway.read.worklist import WorklistFilter
from gateway.reconcile import run_reconcile
from gateway.resolve.casefile import case_detail
from gateway.resolve.worklist import worklist
from tests.integration.helpers import ingest
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401

RECON = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"
FILES = (
    "copay_twice/1.835",
    "copay_twice/2.csv",
    "duplicate_payment/1.835",
    "duplicate_payment/2.835",
    "duplicate_payment/3.csv",
    "medicare_duplicate/1.837",
    "medicare_duplicate/1.835",
    "medicare_duplicate/2.835",
    "medicare_duplicate/3.csv",
)


def load(api: Api) -> dict[str, int]:
    for name in FILES:
        assert ingest(api.gw, (RECON / name).read_bytes(), name).state == "processed", name
    run_reconcile(api.gw.db, as_of=dt.date(2026, 9, 30))
    body = api.client.get("/v1/cases", headers=api.auth("ops")).json()
    return {c["patient_control_number"]: c["credit_id"] for c in body["items"]}


def _pcns(api: Api, query: str, who: str = "ops") -> list[str]:
    r = api.client.get(f"/v1/cases?{query}", headers=api.auth(who))
    assert r.status_code == 200, r.text
    return [c["patient_control_number"] for c in r.json()["items"]]


def test_worklist_states_filters_search_sort_paging(api: Api) -> None:
    ids = load(api)
    assert set(ids) == {"MCR1", "DUP1", "COPAY1"}
    ops = api.auth("ops")
    body = api.client.get("/v1/cases", headers=ops).json()
    assert (body["totals"]["count"], body["totals"]["amount"]) == (3, "180.00")
    counts = {s["state"]: s["count"] for s in body["states"]}
    assert counts["open"] == 3
    assert len(counts) == 8
    assert sum(counts.values()) == 3
    assert {c["provider_key"] for c in body["items"]} == {"npi:1234567893"}
    # worklist order: the government credit first
    assert next(c["patient_control_number"] for c in body["items"]) == "MCR1"
    today = dt.date.today()
    late = 1 if today > dt.date(2026, 11, 29) else 0
    assert body["totals"]["overdue_count"] == late

    assert _pcns(api, "payer=MCRB01") == ["MCR1"]
    assert _pcns(api, "government=true") == ["MCR1"]
    assert sorted(_pcns(api, "government=false")) == ["COPAY1", "DUP1"]
    assert sorted(_pcns(api, "cause=duplicate_payment")) == ["DUP1", "MCR1"]
    assert len(_pcns(api, "overdue=true")) == late
    assert sorted(_pcns(api, "amount_min=50")) == ["DUP1", "MCR1"]
    assert _pcns(api, "amount_max=20.00") == ["COPAY1"]
    assert _pcns(api, "identified_from=2026-10-01") == []
    assert len(_pcns(api, "identified_from=2026-09-30&identified_to=2026-09-30")) == 3
    assert _pcns(api, "q=A-DUP") == ["DUP1"]  # account
    assert _pcns(api, "q=COPAY") == ["COPAY1"]  # patient control number prefix
    assert _pcns(api, "q=22026182000102") == ["MCR1"]  # the payer's ICN
    assert _pcns(api, "provider=npi:1234567893&payer=MCRB01") == ["MCR1"]
    assert _pcns(api, "provider=npi:1999999992") == []
    assert _pcns(api, "sort=claim") == ["COPAY1", "DUP1", "MCR1"]
    assert _pcns(api, "sort=claim&desc=true") == ["MCR1", "DUP1", "COPAY1"]
    assert _pcns(api, "sort=amount")[0] == "COPAY1"
    assert _pcns(api, "sort=payer&desc=true")[0] == "MCR1"

    # a state with nothing in it is still counted, and filters keep the other counts
    r = api.client.get("/v1/cases?state=approved&government=false", headers=ops).json()
    assert r["items"] == []
    assert r["totals"]["count"] == 0
    assert {s["state"]: s["count"] for s in r["states"]}["open"] == 2
    page = api.client.get("/v1/cases?sort=claim&limit=1&offset=1", headers=ops).json()
    assert [c["patient_control_number"] for c in page["items"]] == ["DUP1"]
    assert (page["totals"]["count"], page["limit"], page["offset"]) == (3, 1, 1)

    # actions that cannot apply are not offered
    by = {c["patient_control_number"]: c for c in body["items"]}
    assert "approve" not in by["DUP1"]["actions"]  # ACME01 has no layout
    assert "dispute" in by["DUP1"]["actions"]
    assert "approve" in by["COPAY1"]["actions"]
    r = api.client.post(
        f"/v1/credits/{ids['COPAY1']}/approve", json={"reason": "paid twice"}, headers=ops
    )
    assert r.status_code == 200
    after = api.client.get("/v1/cases?state=approved", headers=ops).json()
    assert [c["patient_control_number"] for c in after["items"]] == ["COPAY1"]
    assert "approve" not in after["items"][0]["actions"]
    assert {s["state"]: s["count"] for s in after["states"]}["approved"] == 1
    # the totals of a state filter are those states' figures: COPAY1 is 20.00 of the 180.00
    two = api.client.get("/v1/cases?state=approved&state=open", headers=ops).json()
    assert (after["totals"]["count"], after["totals"]["amount"]) == (1, "20.00")
    assert (two["totals"]["count"], two["totals"]["amount"]) == (3, "180.00")
    open_only = api.client.get("/v1/cases?state=open", headers=ops).json()
    assert (open_only["totals"]["count"], open_only["totals"]["amount"]) == (2, "160.00")
    assert open_only["totals"]["overdue_count"] == late
    assert len(_pcns(api, "sort=provider&desc=true")) == 3
    # the schema names the typed models
    spec = api.client.get("/v1/openapi.json", headers=ops).json()
    assert {"CaseList", "CaseDetail", "WorklistRow", "Computation"} <= set(
        spec["components"]["schemas"]
    )


@pytest.mark.usefixtures("json_logs")
def test_case_detail_evidence_and_computation(api: Api, capfd: pytest.CaptureFixture[str]) -> None:
    ids = load(api)
    capfd.readouterr()
    r = api.client.get(f"/v1/cases/{ids['MCR1']}", headers=api.auth("ops"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["phi_masked"] is False
    assert d["case"]["patient_control_number"] == "MCR1"
    assert [(x["procedure"], x["charge"]) for x in d["claim_lines"]] == [("HC:99213", "100.00")]
    assert [(a["trace_number"], a["icn"], a["paid"]) for a in d["adjudications"]] == [
        ("TRACE120", "22026182000101", "80.00"),
        ("TRACE121", "22026182000102", "80.00"),
    ]
    assert d["adjudications"][0]["file_name"] == "medicare_duplicate/1.835"
    assert [
        (x["group_code"], x["reason"], x["amount"]) for x in d["adjudications"][1]["adjustments"]
    ] == [("CO", "45", "20.00")]
    assert [(x["type"], x["amount"]) for x in d["ledger"]] == [
        ("charge", "100.00"),
        ("payment", "80.00"),
        ("payment", "80.00"),
    ]
    k = d["computation"]
    assert (k["charges"], k["write_offs"], k["net_payments"], k["balance"]) == (
        "100.00",
        {"MCRB01": "20.00"},
        {"MCRB01": "160.00"},
        "-80.00",
    )
    assert k["attribution"] == [
        {"owed_to": "payer", "payer_id": "MCRB01", "amount": "80.00", "cause": "duplicate_payment"}
    ]
    assert d["case"]["history"][0]["to"] == "open"

    c = api.client.get(f"/v1/cases/{ids['COPAY1']}", headers=api.auth("ops")).json()
    k = c["computation"]
    assert (k["charges"], k["write_offs"], k["net_payments"]) == (
        "100.00",
        {"ACME01": "10.00"},
        {"ACME01": "70.00"},
    )
    assert (k["patient_responsibility"], k["patient_payments"], k["balance"]) == (
        "20.00",
        "40.00",
        "-20.00",
    )
    assert api.client.get("/v1/cases/99999", headers=api.auth("ops")).status_code == 404
    # searching and opening cases logs routes, never the patient's identifiers
    assert _pcns(api, "q=MCR1") == ["MCR1"]
    out, err = capfd.readouterr()
    assert "/v1/cases" in out + err
    assert "MCR1" not in out + err, [x for x in (out + err).splitlines() if "MCR1" in x][:3]
    assert "A-MCR" not in out + err
    assert "COPAY1" not in out + err


def test_auditor_sees_phi_masked_and_other_provider_gets_404(api: Api) -> None:
    ids = load(api)
    d = api.client.get(f"/v1/cases/{ids['MCR1']}", headers=api.auth("auditor")).json()
    assert d["phi_masked"] is True
    assert d["case"]["patient_control_number"] == "\u2022\u2022\u2022"
    assert d["case"]["account_id"] == "\u2022\u2022\u2022"
    assert all(x["account_id"] == "\u2022\u2022\u2022" for x in d["ledger"])
    assert "MCR1" not in str(d)
    assert "A-MCR" not in str(d)
    # but the money and the computation are there
    assert d["computation"]["balance"] == "-80.00"
    lst = api.client.get("/v1/cases", headers=api.auth("auditor")).json()
    assert {c["patient_control_number"] for c in lst["items"]} == {"\u2022\u2022\u2022"}
    assert "MCR1" not in str(lst)

    # only uploader keys belong to a provider today, and they may not read cases at all
    for who in ("uploader", "other-uploader"):
        r = api.client.get(f"/v1/cases/{ids['MCR1']}", headers=api.auth(who))
        assert r.status_code == 403
        assert "MCR1" not in r.text
        assert api.client.get("/v1/cases", headers=api.auth(who)).status_code == 403
    # the scope every read goes through: another provider's case is "not found", its
    # worklist empty, and a provider filter cannot widen it
    with api.gw.db.write() as s:
        with pytest.raises(NotFoundError):
            case_detail(s, ids["MCR1"], scope="npi:1999999992", phi=True)
        mine = case_detail(s, ids["MCR1"], scope="npi:1234567893", phi=True)
        assert mine.case.patient_control_number == "MCR1"
        f = WorklistFilter(provider="npi:1234567893")
        assert worklist(s, f, scope="npi:1999999992").totals.count == 0
        assert worklist(s, f, scope="npi:1234567893").totals.count == 3


def test_hostile_filter_values(api: Api) -> None:
    load(api)
    ops = api.auth("ops")
    for value in ("' OR 1=1 --", "x'); DROP TABLE credits; --", "<script>alert(1)</script>"):
        r = api.client.get("/v1/cases", params={"payer": value}, headers=ops)
        assert r.status_code == 200
        assert r.json()["items"] == []
        r = api.client.get("/v1/cases", params={"q": value}, headers=ops)
        assert r.status_code == 200
        assert r.json()["items"] == []
    assert _pcns(api, "q=%25") == []  # a LIKE wildcard is a literal
    assert _pcns(api, "q=_OPAY1") == []
    for bad in ("state=bogus", "sort=id;DROP", "amount_min=-1", "limit=0", "due_within=x"):
        r = api.client.get(f"/v1/cases?{bad}", headers=ops)
        assert r.status_code == 422, bad
    assert api.client.get("/v1/cases", headers=ops).json()["totals"]["count"] == 3


def test_csv_and_xlsx_exports_of_a_filtered_view(api: Api) -> None:
    load(api)
    ops = api.auth("ops")
    r = api.client.get("/v1/cases/export?government=false&sort=claim&format=csv", headers=ops)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["Credit", "Provider", "State"]
    assert [(x[4], x[7]) for x in rows[1:]] == [("COPAY1", "20.00"), ("DUP1", "80.00")]
    r = api.client.get("/v1/cases/export?payer=MCRB01&format=xlsx", headers=ops)
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    values = list(ws.iter_rows(values_only=True))
    assert values[0][4] == "Claim"
    assert values[1][4] == "MCR1"
    assert float(values[1][7]) == 80.0
    assert values[1][9] == "yes"
    # the auditor's export is masked like the screen
    r = api.client.get("/v1/cases/export?format=csv", headers=api.auth("auditor"))
    assert "MCR1" not in r.text
    assert "\u2022" in r.text
