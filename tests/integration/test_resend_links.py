"""A re-sent ERA over the HTTP API: processed, acknowledged, and linked to its original in
``GET /v1/files/{id}`` and on the console's file page (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from tests.integration.test_api_support import Api, api_fixture  # noqa: F401
from tests.integration.test_console_pages import _login
from tests.integration.test_reconcile_resends import Clp, era

CLAIMS = [Clp("LK1", "Z1", "100.00", "80.00", [("CO", "45", "20.00")])]


def test_resend_is_accepted_acknowledged_and_linked(api: Api) -> None:
    ids = []
    for isa13, st02 in ((801, "0001"), (802, "0002")):
        r = api.client.post(
            "/v1/files",
            content=era(isa13, "TRC801", CLAIMS, st02=st02),
            headers=api.auth("uploader"),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    api.process_queue()
    original, resent = (
        api.client.get(f"/v1/files/{i}", headers=api.auth("uploader")).json() for i in ids
    )
    assert resent["state"] == "processed"
    assert resent["resend_of"] == [ids[0]]
    assert resent["resent_by"] == []
    assert original["resent_by"] == [ids[1]]
    codes = [f["code"] for f in resent["findings"]]
    assert codes == ["remittance_resent"]
    acks = api.client.get(f"/v1/files/{ids[1]}/acks", headers=api.auth("ops")).json()
    x999 = [a for a in acks["acknowledgments"] if a["kind"] == "999"]
    assert [a["status"] for a in x999] == ["A"]
    _login(api, "auditor")
    page = api.client.get(f"/console/files/{ids[1]}").text
    link = re.search(r'id="resend-of">Resend of <a href="/console/files/(\d+)">', page)
    assert link is not None
    assert int(link.group(1)) == ids[0]
    assert "remittance_resent" in page
    back = api.client.get(f"/console/files/{ids[0]}").text
    assert f'href="/console/files/{ids[1]}"' in back
