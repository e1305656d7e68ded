"""Working cases by person (issue 20) over HTTP on SQLite and PostgreSQL: assignment to a named
user, notes, root cause, investigate/reopen, bulk actions with per-case results, and the
attacker's side of every boundary (another provider's case, roles that may not act, an
assignee from another provider, forged console forms, a note carrying HTML).

The cases are those of test_workbench_api (MCR1 to MCRB01, COPAY1 to the patient, DUP1 to
ACME01, which has no outbound layout and so cannot be approved)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.api.console import SESSION_COOKIE, make_session
from gateway.db.models import AuditEntry
from gateway.resolve.tables import CaseNote, CaseTransition, ResolutionCase
from gateway.security.roles import Role
from gateway.users.service import add_user, disable_user, principal_of
from gateway.users.tables import User
from tests.integration.test_api_support import PROVIDER_NPI, Api, api_fixture  # noqa: F401
from tests.integration.test_workbench_api import load

PASSWORD = "correct horse battery staple"
OTHER = "npi:1999999992"
SCRIPT = "<script>alert('x')</script> called the patient"


def users(api: Api) -> None:
    with api.gw.db.write() as s:
        for name, role, provider in (
            ("ana", Role.ANALYST, None),
            ("bob", Role.ANALYST, f"npi:{PROVIDER_NPI}"),
            ("eve", Role.ANALYST, OTHER),
            ("aud", Role.AUDITOR, None),
            ("upl", Role.UPLOADER, f"npi:{PROVIDER_NPI}"),
            ("gone", Role.ANALYST, None),
        ):
            add_user(s, username=name, role=role, provider=provider, password=PASSWORD, actor="t")
        disable_user(s, "gone", actor="t")


def console_as(api: Api, username: str) -> str:
    """Sign ``username`` in (a server-side session) and return the page's CSRF token."""
    with api.gw.db.read() as s:
        row = s.execute(select(User).where(User.username == username)).scalar_one()
        principal = principal_of(row)
    api.client.cookies.clear()
    api.client.cookies.set(SESSION_COOKIE, make_session(api.app.state.ctx, principal))
    page = api.client.get("/console/")
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m, page.text[:300]
    return m.group(1)


def _case(api: Api, credit_id: int) -> dict[str, Any]:
    r = api.client.get(f"/v1/cases/{credit_id}", headers=api.auth("ops"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _audit(api: Api, action: str) -> list[AuditEntry]:
    with api.gw.db.read() as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


def _footprint(api: Api) -> tuple[Any, ...]:
    """Everything a case action could change."""
    with api.gw.db.read() as s:
        return (
            tuple(
                s.execute(
                    select(
                        ResolutionCase.state, ResolutionCase.assignee, ResolutionCase.root_cause
                    ).order_by(ResolutionCase.id)
                )
            ),
            s.execute(select(func.count()).select_from(CaseNote)).scalar_one(),
            s.execute(select(func.count()).select_from(CaseTransition)).scalar_one(),
        )


def test_assign_note_root_cause_and_history(api: Api) -> None:
    ids = load(api)
    users(api)
    ops = api.auth("ops")
    mcr = ids["MCR1"]
    r = api.client.post(f"/v1/cases/{mcr}/assign", json={"assignee": "Ana"}, headers=ops)
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == "ana"
    r = api.client.post(f"/v1/cases/{ids['COPAY1']}/assign", json={"assignee": "bob"}, headers=ops)
    assert r.json()["assignee"] == "bob"

    def pcns(q: str) -> list[str]:
        items = api.client.get(f"/v1/cases?{q}", headers=ops).json()["items"]
        return sorted(c["patient_control_number"] for c in items)

    assert pcns("assignee=ana") == ["MCR1"]
    assert pcns("assignee=none") == ["DUP1"]
    assert pcns("sort=assignee") == ["COPAY1", "DUP1", "MCR1"]
    # an API key is no person: assignee=me is refused, not guessed
    r = api.client.get("/v1/cases?assignee=me", headers=ops)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")

    # who may not be assigned: disabled, not a case worker, another provider's, nobody
    before = _footprint(api)
    for who, why in (
        ("gone", "no active user"),
        ("aud", "only analyst, ops and admin"),
        ("upl", "only analyst, ops and admin"),
        ("eve", "another provider"),
        ("nobody", "no active user"),
        ("Robert'); DROP TABLE users;--", "username"),
    ):
        r = api.client.post(f"/v1/cases/{mcr}/assign", json={"assignee": who}, headers=ops)
        assert r.status_code == 400, (who, r.text)
        assert why in r.json()["detail"], (who, r.json())
    assert _footprint(api) == before

    r = api.client.post(f"/v1/cases/{mcr}/notes", json={"text": SCRIPT}, headers=ops)
    assert r.status_code == 201, r.text
    assert r.json()["author"] == "apikey:test-ops"
    assert r.json()["text"] == SCRIPT
    r = api.client.post(
        f"/v1/cases/{mcr}/root-cause",
        json={"root_cause": "payer_error", "reason": "MAC paid twice"},
        headers=ops,
    )
    assert r.status_code == 200, r.text
    assert r.json()["root_cause"] == "payer_error"
    r = api.client.post(f"/v1/cases/{mcr}/root-cause", json={"root_cause": "bogus"}, headers=ops)
    assert r.status_code == 400
    assert r.json()["code"] == "bad_root_cause"

    d = _case(api, mcr)
    assert d["case"]["assignee"] == "ana"
    assert d["case"]["root_cause"] == "payer_error"
    assert [n["text"] for n in d["notes"]] == [SCRIPT]
    reasons = [t["reason"] for t in d["case"]["history"]]
    assert "assigned to ana" in reasons
    assert "note added" in reasons
    assert "MAC paid twice" in reasons
    # the auditor reads the note masked (it may name a patient)
    a = api.client.get(f"/v1/cases/{mcr}", headers=api.auth("auditor")).json()
    assert [n["text"] for n in a["notes"]] == ["\u2022" * 6]
    assert "called the patient" not in str(a)

    # audited with the person's name; the note's text never reaches the audit log
    (assigned,) = [
        e for e in _audit(api, "case_assigned") if (e.details or {}).get("assignee") == "ana"
    ]
    assert assigned.actor == "apikey:test-ops"
    (noted,) = _audit(api, "case_note_added")
    assert (noted.details or {}).get("length") == len(SCRIPT)
    with api.gw.db.read() as s:
        every = " ".join(
            str(e.details) + str(e.reason) for e in s.execute(select(AuditEntry)).scalars()
        )
    assert "called the patient" not in every
    assert len(_audit(api, "case_root_cause")) == 1
    with api.gw.db.read() as s:
        (stored,) = s.execute(select(CaseNote.text_sealed)).scalars()
    assert "called the patient" not in stored  # sealed at rest with the data keys

    # unassign
    r = api.client.post(f"/v1/cases/{mcr}/assign", json={"assignee": None}, headers=ops)
    assert r.json()["assignee"] is None
    assert len(_audit(api, "case_unassigned")) == 1


def test_investigate_and_reopen_over_the_api(api: Api) -> None:
    ids = load(api)
    ops = api.auth("ops")
    mcr = ids["MCR1"]
    r = api.client.post(
        f"/v1/cases/{mcr}/investigate",
        json={"reason": "checking the MAC's second payment", "opened_on": "2026-10-01"},
        headers=ops,
    )
    assert r.status_code == 200, r.text
    assert r.json()["investigation_opened_on"] == "2026-10-01"
    r = api.client.post(f"/v1/cases/{mcr}/reopen", json={"reason": "not approved"}, headers=ops)
    assert r.status_code == 409  # an open case cannot be reopened
    assert r.json()["code"] == "invalid_transition"
    api.client.post(f"/v1/credits/{mcr}/approve", json={"reason": "checked"}, headers=ops)
    r = api.client.post(f"/v1/cases/{mcr}/reopen", json={"reason": "wrong payer"}, headers=ops)
    assert r.status_code == 200
    assert r.json()["state"] == "open"


def test_bulk_actions_report_each_case(api: Api) -> None:
    ids = load(api)
    users(api)
    ops = api.auth("ops")
    mcr, copay, dup = ids["MCR1"], ids["COPAY1"], ids["DUP1"]
    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "approve", "credit_ids": [mcr, copay, dup, 99999], "reason": "checked"},
        headers=ops,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["done"], body["refused"]) == (2, 2)
    by = {i["credit_id"]: i for i in body["items"]}
    assert by[mcr]["ok"]
    assert by[mcr]["state"] == "approved"
    assert by[copay]["ok"]
    assert by[copay]["state"] == "approved"
    assert not by[dup]["ok"]
    assert by[dup]["code"] == "no_layout"
    assert by[dup]["state"] == "open"
    assert by[99999] == {**by[99999], "ok": False, "code": "case_not_found", "state": None}
    # approving again: refused per case with the reason, never a 500
    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "approve", "credit_ids": [mcr], "reason": "again"},
        headers=ops,
    )
    assert r.json()["items"][0]["code"] == "invalid_transition"

    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "assign", "credit_ids": [mcr, copay, dup], "assignee": "eve"},
        headers=ops,
    )
    assert {i["code"] for i in r.json()["items"]} == {"bad_assignee"}
    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "assign", "credit_ids": [mcr, copay, dup], "assignee": "bob"},
        headers=ops,
    )
    assert r.json()["done"] == 3

    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "investigate", "credit_ids": [dup], "reason": "asking ACME"},
        headers=ops,
    )
    assert r.json()["done"] == 1

    # a batch: only approved cases, and never one that was not selected: MCR1 is approved too
    # and would go with the patient refund's batch run, so COPAY1 alone is refused, naming it
    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "batch", "credit_ids": [copay, dup], "reason": "month end"},
        headers=ops,
    )
    assert r.status_code == 200, r.text
    by = {i["credit_id"]: i for i in r.json()["items"]}
    assert by[dup]["code"] == "not_approved"
    assert by[copay]["code"] == "batch_group_incomplete"
    assert str(mcr) in by[copay]["message"]
    assert _case(api, mcr)["case"]["state"] == "approved"
    assert api.client.get("/v1/batches", headers=ops).json() == []
    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "batch", "credit_ids": [copay, mcr], "reason": "month end"},
        headers=ops,
    )
    by = {i["credit_id"]: i for i in r.json()["items"]}
    assert by[mcr]["ok"], by[mcr]
    assert by[mcr]["state"] == "offset_requested"  # Medicare prefers an offset
    assert by[mcr]["batch_id"] != by[copay]["batch_id"]
    assert by[copay]["ok"], by[copay]
    assert by[copay]["state"] == "patient_refund_issued"
    assert by[copay]["batch_id"] >= 1
    batch_id = by[copay]["batch_id"]
    # its files: downloaded byte for byte (sha256 as listed), by operators only
    b = api.client.get(f"/v1/batches/{batch_id}", headers=ops).json()
    assert b["files"]
    for f in b["files"]:
        r = api.client.get(f"/v1/batches/{batch_id}/files/{f['name']}", headers=ops)
        assert r.status_code == 200, r.text
        assert hashlib.sha256(r.content).hexdigest() == f["sha256"]
        assert r.headers["cache-control"] == "no-store"
        for who in ("auditor", "uploader"):
            url = f"/v1/batches/{batch_id}/files/{f['name']}"
            assert api.client.get(url, headers=api.auth(who)).status_code == 403
    for name in ("nope.csv", "..%2F..%2Fetc%2Fpasswd", ".env"):
        r = api.client.get(f"/v1/batches/{batch_id}/files/{name}", headers=ops)
        assert r.status_code in (404, 422), (name, r.status_code)
    assert api.client.get("/v1/batches/4242/files/x.csv", headers=ops).status_code == 404
    # a patient refund list is for the AP system, not a payer: 409 with the reason
    r = api.client.post(f"/v1/batches/{batch_id}/deliver", json={}, headers=ops)
    assert r.status_code == 409
    assert r.json()["code"] == "not_for_payer"
    # creating batches over the API: everything approved is in a batch already
    r = api.client.post("/v1/batches", json={"as_of": "2026-10-01"}, headers=ops)
    assert r.status_code == 200, r.text
    issued = {c for x in r.json()["batches"] for c in x["credit_ids"]}
    assert not issued & {copay, mcr}  # never twice
    for bad in (
        {"action": "approve", "credit_ids": [], "reason": "x" * 3},
        {"action": "approve", "credit_ids": [mcr]},  # no reason
        {"action": "delete", "credit_ids": [mcr], "reason": "nope"},
        {"action": "approve", "credit_ids": [2**40], "reason": "big"},
    ):
        r = api.client.post("/v1/cases/bulk", json=bad, headers=ops)
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert len(_audit(api, "cases_bulk")) >= 5


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_attackers_change_nothing(api: Api) -> None:
    ids = load(api)
    users(api)
    mcr = ids["MCR1"]
    before = _footprint(api)
    # keys that do not work cases: 403 on every action
    for who in ("uploader", "other-uploader", "auditor"):
        for path, body in (
            (f"/v1/cases/{mcr}/assign", {"assignee": "ana"}),
            (f"/v1/cases/{mcr}/notes", {"text": "hi"}),
            (f"/v1/cases/{mcr}/root-cause", {"root_cause": "payer_error"}),
            ("/v1/cases/bulk", {"action": "approve", "credit_ids": [mcr], "reason": "go go"}),
        ):
            r = api.client.post(path, json=body, headers=api.auth(who))
            assert r.status_code == 403, (who, path, r.text)
    assert _footprint(api) == before

    # a person of another provider: the case is "not found", its worklist empty
    token = console_as(api, "eve")
    assert "MCR1" not in api.client.get("/console/cases").text
    assert api.client.get(f"/console/cases/{mcr}").status_code == 404
    for path, data in (
        (f"/console/cases/{mcr}/assign", {"assignee": "eve"}),
        (f"/console/cases/{mcr}/note", {"text": "mine now"}),
        (f"/console/cases/{mcr}/root-cause", {"root_cause": "payer_error"}),
    ):
        r = api.client.post(path, data={"csrf": token, **data}, follow_redirects=False)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
    r = api.client.post(
        "/console/cases/bulk",
        data={"csrf": token, "action": "approve", "credit_id": [str(mcr)], "reason": "mine"},
    )
    assert r.status_code == 200
    assert "case_not_found" in r.text
    assert _footprint(api) == before

    # an auditor and an uploader person: refused before anything is parsed
    for who in ("aud", "upl"):
        token = console_as(api, who) if who == "aud" else ""
        if who == "upl":
            with api.gw.db.read() as s:
                row = s.execute(select(User).where(User.username == "upl")).scalar_one()
            api.client.cookies.clear()
            api.client.cookies.set(
                SESSION_COOKIE, make_session(api.app.state.ctx, principal_of(row))
            )
        for path, data in (
            (f"/console/cases/{mcr}/assign", {"assignee": "ana"}),
            (f"/console/cases/{mcr}/note", {"text": "hi"}),
            ("/console/cases/bulk", {"action": "approve", "credit_id": str(mcr), "reason": "x"}),
        ):
            r = api.client.post(path, data={"csrf": token, **data}, follow_redirects=False)
            assert r.status_code == 403, (who, path, r.status_code)
    # CSRF: a signed-in analyst's forged or missing token changes nothing
    console_as(api, "ana")
    for token in ("forged", ""):
        for path, data in (
            (f"/console/cases/{mcr}/assign", {"assignee": "ana"}),
            (f"/console/cases/{mcr}/note", {"text": "hi"}),
            (f"/console/cases/{mcr}/root-cause", {"root_cause": "payer_error"}),
            ("/console/cases/bulk", {"action": "approve", "credit_id": str(mcr), "reason": "xx"}),
        ):
            r = api.client.post(path, data={"csrf": token, **data}, follow_redirects=False)
            assert r.status_code in (403, 422), (path, r.status_code)
    assert _footprint(api) == before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_console_case_work_as_an_analyst(api: Api) -> None:
    ids = load(api)
    users(api)
    mcr = ids["MCR1"]
    token = console_as(api, "bob")
    page = api.client.get(f"/console/cases/{mcr}")
    assert page.status_code == 200
    assert 'id="assign-form"' in page.text
    assert "MCR1" in page.text  # an analyst sees PHI
    assert '<option value="eve"' not in page.text  # another provider's user is not offered
    r = api.client.post(
        f"/console/cases/{mcr}/assign",
        data={"csrf": token, "assignee": "bob"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = api.client.post(
        f"/console/cases/{mcr}/note", data={"csrf": token, "text": SCRIPT}, follow_redirects=True
    )
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(" in r.text
    r = api.client.post(
        f"/console/cases/{mcr}/root-cause",
        data={"csrf": token, "root_cause": "cob_not_updated", "reason": "COB stale"},
        follow_redirects=True,
    )
    assert 'id="root-cause">cob_not_updated<' in r.text
    assert "user:bob" in r.text  # the history names the person
    mine = api.client.get("/console/cases?assignee=me").text
    assert f'id="case-{mcr}"' in mine
    assert f'id="case-{ids["DUP1"]}"' not in mine
    r = api.client.post(
        f"/console/cases/{mcr}/root-cause",
        data={"csrf": token, "root_cause": "<b>x</b>"},
    )
    assert r.status_code == 400
    assert "<b>x</b>" not in r.text
    # bulk from the worklist: per-case results page
    r = api.client.post(
        "/console/cases/bulk",
        data={
            "csrf": token,
            "action": "approve",
            "credit_id": [str(mcr), str(ids["DUP1"])],
            "reason": "checked both",
        },
    )
    assert r.status_code == 200
    assert "1 done, 1 refused" in r.text
    assert "no_layout" in r.text
    # the auditor sees the note masked on the page
    console_as(api, "aud")
    html = api.client.get(f"/console/cases/{mcr}").text
    assert "called the patient" not in html
    assert 'id="assign-form"' not in html


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_console_batches_download_and_deliver(api: Api) -> None:
    ids = load(api)
    ops = api.auth("ops")
    copay = ids["COPAY1"]
    api.client.post(f"/v1/credits/{copay}/approve", json={"reason": "checked"}, headers=ops)
    r = api.client.post(
        "/v1/cases/bulk",
        json={"action": "batch", "credit_ids": [copay], "reason": "month end"},
        headers=ops,
    )
    batch_id = r.json()["items"][0]["batch_id"]
    files = api.client.get(f"/v1/batches/{batch_id}", headers=ops).json()["files"]
    with api.gw.db.write() as s:
        add_user(s, username="adm", role=Role.ADMIN, provider=None, password=PASSWORD, actor="t")
        add_user(s, username="ana", role=Role.ANALYST, provider=None, password=PASSWORD, actor="t")
    token = console_as(api, "adm")
    page = api.client.get("/console/batches").text
    for f in files:
        href = f"/console/batches/{batch_id}/files/{f['name']}"
        assert f'href="{href}"' in page
        r = api.client.get(href)
        assert r.status_code == 200
        assert hashlib.sha256(r.content).hexdigest() == f["sha256"]
    assert api.client.get(f"/console/batches/{batch_id}/files/nope.csv").status_code == 404
    # the patient list gets no deliver button; forcing the form says why, and nothing moves
    assert 'class="deliver"' not in page
    r = api.client.post(f"/console/batches/{batch_id}/deliver", data={"csrf": "forged"})
    assert r.status_code == 403
    r = api.client.post(f"/console/batches/{batch_id}/deliver", data={"csrf": token})
    assert r.status_code == 409
    assert "export it" in r.text
    # an analyst works cases but does not handle batch files
    console_as(api, "ana")
    page = api.client.get("/console/batches").text
    assert "/files/" not in page
    assert (
        api.client.get(f"/console/batches/{batch_id}/files/{files[0]['name']}").status_code == 403
    )
