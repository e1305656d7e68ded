"""``gateway cases list`` filters/sort/paging and ``gateway cases show`` evidence, as
subprocesses on SQLite and PostgreSQL (figures worked by hand in test_workbench_api)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from gateway.reconcile import run_reconcile
from tests.integration.helpers import ROOT, Gateway, ingest
from tests.integration.test_workbench_api import FILES

RECON = ROOT / "tests" / "fixtures" / "reconcile"
AS_OF = ("--as-of", "2026-09-30")


def _load(gw: Gateway) -> None:
    for name in FILES:
        assert ingest(gw, (RECON / name).read_bytes(), name).state == "processed"
    run_reconcile(gw.db, as_of=dt.date(2026, 9, 30))


def _json(gw: Gateway, *args: str, code: int = 0) -> Any:
    proc = gw.cli(*args)
    assert proc.returncode == code, proc.stderr
    return json.loads(proc.stdout)


def _pcns(gw: Gateway, *args: str, code: int = 0) -> list[str]:
    rows = _json(gw, "cases", "list", "--json", *AS_OF, *args, code=code)
    return [r["patient_control_number"] for r in rows]


def test_cases_list_filters_and_show_evidence(gw: Gateway) -> None:
    _load(gw)
    everything = _json(gw, "cases", "list", "--json", *AS_OF)
    assert everything[0]["patient_control_number"] == "MCR1"  # government first
    assert {r["provider_key"] for r in everything} == {"npi:1234567893"}
    assert _pcns(gw, "--payer", "MCRB01") == ["MCR1"]
    assert _pcns(gw, "--government") == ["MCR1"]
    assert sorted(_pcns(gw, "--commercial")) == ["COPAY1", "DUP1"]
    assert _pcns(gw, "--search", "A-DUP") == ["DUP1"]
    assert _pcns(gw, "--search", "22026182000101") == ["MCR1"]
    assert _pcns(gw, "--sort", "claim", "--desc") == ["MCR1", "DUP1", "COPAY1"]
    assert sorted(_pcns(gw, "--amount-min", "50")) == ["DUP1", "MCR1"]
    assert _pcns(gw, "--cause", "patient_overpayment") == ["COPAY1"]
    assert _pcns(gw, "--provider", "npi:1999999992") == []
    assert _pcns(gw, "--sort", "claim", "--limit", "1", "--offset", "2") == ["MCR1"]
    assert _pcns(gw, "--identified-from", "2026-10-01") == []
    # as of 2026-12-01 MCR1 (due 2026-11-29) is overdue: listed, warned, exit 1
    late = _json(gw, "cases", "list", "--json", "--overdue", "--as-of", "2026-12-01", code=1)
    assert [(r["patient_control_number"], r["days_left"]) for r in late] == [("MCR1", -2)]
    for bad in (["--state", "bogus"], ["--amount-min", "-1"], ["--sort", "x;DROP"]):
        proc = gw.cli("cases", "list", *bad)
        assert proc.returncode == 2, bad
        assert "bad_filter" in proc.stderr
        assert "Traceback" not in proc.stderr

    [mcr] = _json(gw, "cases", "list", "--json", *AS_OF, "--payer", "MCRB01")
    d = _json(gw, "cases", "show", str(mcr["credit_id"]), "--json", *AS_OF)
    assert d["case"]["patient_control_number"] == "MCR1"
    assert [a["trace_number"] for a in d["adjudications"]] == ["TRACE120", "TRACE121"]
    k = d["computation"]
    assert (k["charges"], k["write_offs"], k["net_payments"], k["balance"]) == (
        "100.00",
        {"MCRB01": "20.00"},
        {"MCRB01": "160.00"},
        "-80.00",
    )
    proc = gw.cli("cases", "show", str(mcr["credit_id"]), *AS_OF)
    assert proc.returncode == 0, proc.stderr
    assert "B(c)" in proc.stdout
    assert "-80.00" in proc.stdout
    assert "TRACE121" in proc.stdout
    proc = gw.cli("cases", "show", "99999")
    assert proc.returncode == 2
    assert "case_not_found" in proc.stderr


def test_cases_assign_note_bulk_and_users_set_role(gw: Gateway) -> None:
    """The CLI's case work goes through the same service as the API (gateway.resolve.casework)."""
    from sqlalchemy import select

    from gateway.db.models import AuditEntry
    from gateway.resolve.tables import CaseNote
    from gateway.security.roles import Role
    from gateway.users.service import add_user

    _load(gw)
    with gw.db.write() as s:
        for name, role, provider in (
            ("ana", Role.ANALYST, None),
            ("eve", Role.ANALYST, "npi:1999999992"),
        ):
            add_user(
                s,
                username=name,
                role=role,
                provider=provider,
                password="correct horse battery staple",
                actor="t",
            )
    ids = {
        r["patient_control_number"]: r["credit_id"]
        for r in _json(gw, "cases", "list", "--json", *AS_OF)
    }
    mcr = str(ids["MCR1"])
    proc = gw.cli("cases", "assign", mcr, "ana", "--actor", "ops-shell")
    assert proc.returncode == 0, proc.stderr
    assert "assigned to ana" in proc.stdout
    assert _pcns(gw, "--assignee", "ana") == ["MCR1"]
    assert sorted(_pcns(gw, "--assignee", "none")) == ["COPAY1", "DUP1"]
    proc = gw.cli("cases", "assign", mcr, "eve")
    assert proc.returncode == 2
    assert "bad_assignee" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = gw.cli("cases", "note", mcr, "patient called back about the refund", "--actor", "ana")
    assert proc.returncode == 0, proc.stderr
    d = _json(gw, "cases", "show", mcr, "--json", *AS_OF)
    assert d["case"]["assignee"] == "ana"
    assert [(n["author"], n["text"]) for n in d["notes"]] == [
        ("ana", "patient called back about the refund")
    ]
    proc = gw.cli("cases", "show", mcr, *AS_OF)
    assert "assigned to ana" in proc.stdout
    assert "notes: 1" in proc.stdout
    with gw.db.read() as s:
        (stored,) = s.execute(select(CaseNote.text_sealed)).scalars()
    assert "called back" not in stored  # sealed at rest with the data keys
    assert stored.startswith("v1:")
    assert "called back" not in (proc.stdout + proc.stderr)
    res = _json(
        gw,
        "cases",
        "bulk",
        "approve",
        mcr,
        str(ids["DUP1"]),
        "--reason",
        "checked",
        "--json",
        code=1,
    )
    assert [(i["credit_id"], i["ok"], i["code"]) for i in res["items"]] == [
        (ids["MCR1"], True, None),
        (ids["DUP1"], False, "no_layout"),
    ]
    proc = gw.cli("users", "set-role", "ana", "ops", "--actor", "root")
    assert proc.returncode == 0, proc.stderr
    with gw.db.read() as s:
        actions = set(s.execute(select(AuditEntry.action)).scalars())
    assert {"case_assigned", "case_note_added", "cases_bulk", "user_role_set"} <= actions
