"""Audit action names have one style (``batch_issued``); rows written under the old names
("batch issued") are never rewritten (the chain hashes them), still verify, and are found by
the new name, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest

from gateway import audit
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401


def test_new_rows_must_use_the_one_style(api: Api) -> None:
    with api.gw.db.write() as s, pytest.raises(ValueError, match="snake_case"):
        audit.record(s, actor="ops", action="batch issued", outcome="ok")


def test_old_names_still_verify_and_are_found_by_the_new_name(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_writer:  # what the gateway wrote before issue 19
        old_writer.setattr(audit, "ACTION_NAME", re.compile(r".+"))
        with api.gw.db.write() as s:
            audit.record(s, actor="ops", action="batch issued", outcome="ok", reason="old")
            audit.record(s, actor="ops", action="case approved", outcome="ok", reason="old")
    with api.gw.db.write() as s:
        audit.record(s, actor="ops", action="batch_issued", outcome="ok", reason="new")
        audit.record(s, actor="ops", action="batch_cancelled", outcome="ok", reason="new")

    with api.gw.db.read() as s:
        assert audit.verify_chain(s).ok  # the old rows were not touched
    r = api.client.get("/v1/audit?action=batch_issued", headers=api.auth("auditor"))
    assert r.status_code == 200, r.text
    got = sorted((e["action"], e["reason"]) for e in r.json()["items"])
    assert got == [("batch issued", "old"), ("batch_issued", "new")]
    r = api.client.get("/v1/audit?action=case_approved", headers=api.auth("auditor"))
    assert [e["action"] for e in r.json()["items"]] == ["case approved"]
    # the old spelling as a filter finds both too
    r = api.client.get("/v1/audit?action=batch%20issued", headers=api.auth("auditor"))
    assert r.json()["total"] == 2


def test_names_map_old_to_new() -> None:
    assert audit.action_name("case refund_sent") == "case_refund_sent"
    assert audit.action_name("batch_issued") == "batch_issued"
    assert audit.stored_actions("cases_opened") == ["cases_opened", "cases opened"]
    assert audit.stored_actions("http POST /v1/files") == ["http POST /v1/files"]
