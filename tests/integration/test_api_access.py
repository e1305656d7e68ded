"""Every route of the app × every role (+ no key, + revoked key) against ONE explicit table.

AU route missing from ``ACCESS`` fails the test, so a new endpoint cannot ship without someone
deciding who may call it. Every mutating call made with a valid key must be in the audit log
under that key's name with the response status.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from gateway.api.console import SESSION_COOKIE, csrf_token, make_session
from gateway.api.keys import Role, authenticate
from gateway.db.models import AuditEntry
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401
from tests.integration.x12gen import make_835

PUBLIC = "public"
UP, OP, AU = Role.UPLOADER.value, Role.OPS.value, Role.AUDITOR.value
ALL = frozenset({UP, OP, AU})
READERS = frozenset({OP, AU})
OPS = frozenset({OP})

#: (method, path template) -> who may call it. THE access-control contract.
ACCESS: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): READERS,
    ("GET", "/v1/openapi.json"): ALL,
    ("POST", "/v1/files"): frozenset({UP, OP}),
    ("GET", "/v1/files"): ALL,
    ("GET", "/v1/files/{file_id}"): ALL,
    ("GET", "/v1/files/{file_id}/raw"): OPS,
    ("POST", "/v1/files/{file_id}/replay"): OPS,
    ("GET", "/v1/files/{file_id}/acks"): ALL,
    ("GET", "/v1/failures"): READERS,
    ("GET", "/v1/me"): ALL,
    ("GET", "/v1/keys"): READERS,
    ("GET", "/v1/audit"): READERS,
    ("GET", "/v1/credits"): READERS,
    ("GET", "/v1/variances"): READERS,
    ("POST", "/v1/variances/{variance_id}/resolve"): OPS,
    ("POST", "/v1/credits/{credit_id}/approve"): OPS,
    ("POST", "/v1/credits/{credit_id}/dispute"): OPS,
    ("POST", "/v1/credits/{credit_id}/resolve"): OPS,
    ("POST", "/v1/batches"): OPS,
    ("GET", "/v1/batches"): READERS,
    ("GET", "/v1/batches/{batch_id}"): READERS,
    ("POST", "/v1/batches/{batch_id}/deliver"): OPS,
    ("GET", "/v1/batches/{batch_id}/files/{name}"): OPS,
    ("GET", "/v1/reports/cms838"): READERS,
    ("GET", "/v1/reports/credits"): READERS,
    ("POST", "/v1/webhooks"): frozenset({UP, OP}),
    ("GET", "/v1/webhooks"): ALL,
    ("DELETE", "/v1/webhooks/{subscription_id}"): frozenset({UP, OP}),
    ("GET", "/v1/webhooks/deliveries"): ALL,
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): frozenset({UP, OP}),
    ("GET", "/v1/cases"): READERS,
    ("GET", "/v1/cases/export"): READERS,
    ("GET", "/v1/cases/{credit_id}"): READERS,
    ("GET", "/v1/users"): READERS,
    ("POST", "/v1/users"): OPS,
    ("POST", "/v1/users/{username}/disable"): OPS,
    ("POST", "/v1/users/{username}/role"): OPS,
    ("POST", "/v1/cases/bulk"): OPS,
    ("POST", "/v1/cases/{credit_id}/assign"): OPS,
    ("POST", "/v1/cases/{credit_id}/notes"): OPS,
    ("POST", "/v1/cases/{credit_id}/root-cause"): OPS,
    ("POST", "/v1/cases/{credit_id}/investigate"): OPS,
    ("POST", "/v1/cases/{credit_id}/reopen"): OPS,
    # console: session cookie instead of a bearer key; sign-in itself is public
    ("GET", "/console/static/console.css"): PUBLIC,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): READERS,
    ("GET", "/console/"): READERS,
    ("GET", "/console/failures"): READERS,
    ("GET", "/console/files/{file_id}"): READERS,
    ("POST", "/console/files/{file_id}/replay"): OPS,
    ("GET", "/console/credits"): READERS,
    ("POST", "/console/credits/{credit_id}/{action}"): OPS,
    ("GET", "/console/batches"): READERS,
    ("GET", "/console/batches/{batch_id}/files/{name}"): OPS,
    ("POST", "/console/batches/{batch_id}/deliver"): OPS,
    # KPI reports (issue 21): every role, each scoped to its provider (test_kpi_api.py)
    ("GET", "/v1/reports/kpi/inventory"): ALL,
    ("GET", "/v1/reports/kpi/deadlines"): ALL,
    ("GET", "/v1/reports/kpi/recovery"): ALL,
    ("GET", "/v1/reports/kpi/days-to-resolve"): ALL,
    ("GET", "/v1/reports/kpi/rates"): ALL,
    ("GET", "/v1/reports/kpi/root-causes"): ALL,
    ("GET", "/console/kpi"): READERS,
    ("GET", "/console/static/kpi.js"): PUBLIC,
    ("GET", "/console/static/chart.umd.min.js"): PUBLIC,
    ("GET", "/console/static/chart.js.LICENSE.md"): PUBLIC,
    ("GET", "/console/cases"): READERS,
    ("GET", "/console/cases/export"): READERS,
    ("GET", "/console/cases/{credit_id}"): READERS,
    # case work (issue 20): analyst, ops and admin people; of API keys only ops
    # users: admin people only (no API key is an admin)
    ("GET", "/console/users"): frozenset(),
    ("POST", "/console/users"): frozenset(),
    ("POST", "/console/users/{username}/disable"): frozenset(),
    ("POST", "/console/users/{username}/role"): frozenset(),
    ("POST", "/console/cases/bulk"): OPS,
    ("POST", "/console/cases/{credit_id}/assign"): OPS,
    ("POST", "/console/cases/{credit_id}/note"): OPS,
    ("POST", "/console/cases/{credit_id}/root-cause"): OPS,
}


def walk(routes: list[Any]) -> Iterator[Any]:
    for r in routes:
        if hasattr(r, "original_router"):
            yield from walk(r.original_router.routes)
        else:
            yield r


def app_routes(api: Api) -> set[tuple[str, str]]:
    out = set()
    for r in walk(api.app.routes):
        for m in getattr(r, "methods", None) or ():
            if m != "HEAD":
                out.add((m, r.path))
    return out


def test_every_route_is_in_the_access_table(api: Api) -> None:
    assert app_routes(api) == set(ACCESS)


def _console_session(api: Api, who: str) -> dict[str, str] | None:
    """AU session cookie for ``who``'s key (None when that key cannot hold one)."""
    ctx = api.app.state.ctx
    with api.gw.db.read() as s:
        principal = authenticate(s, api.keys[who], None)
    if principal is None or principal.role.value not in READERS:
        return None
    return {SESSION_COOKIE: make_session(ctx, principal)}


#: what a console request sent back to the sign-in page answers
TO_LOGIN = 3030


def _call(
    api: Api,
    method: str,
    path: str,
    who: str | None,
    file_id: int,
) -> int:
    """The response status (``TO_LOGIN`` for a redirect to the sign-in page)."""
    url = (
        path.replace("{file_id}", str(file_id))
        .replace("{credit_id}", "1")
        .replace("{batch_id}", "1")
        .replace("{action}", "approve")
        .replace("{variance_id}", "1")
        .replace("{subscription_id}", "1")
        .replace("{delivery_id}", "1")
        .replace("{name}", "manifest.json")
        .replace("{username}", "nobody")
    )
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    if path.startswith("/console"):
        session = _console_session(api, who) if who else None
        if session:
            cookies = session
        if method == "POST":
            token = csrf_token(api.app.state.ctx, session[SESSION_COOKIE]) if session else "x"
            kwargs["data"] = {"csrf": token, "reason": "route walk", "key": "not-a-key"}
    else:
        if who:
            headers = api.auth(who)
        if path == "/v1/files":
            kwargs["content"] = (
                make_835(70_000 + len(who or ""), claims=1) if method == "POST" else None
            )
        elif path.endswith(("/replay", "/approve", "/dispute", "/resolve")):
            kwargs["json"] = {"reason": "route walk"}
        elif path == "/v1/batches" and method == "POST":
            kwargs["json"] = {"as_of": "2026-10-01", "reference": "route walk"}
        elif path == "/v1/reports/cms838":
            url += "?quarter=2026Q3"
    api.client.cookies.clear()
    for name, value in cookies.items():
        api.client.cookies.set(name, value)
    resp = api.client.request(
        method,
        url,
        headers=headers,
        follow_redirects=False,
        **{k: v for k, v in kwargs.items() if v is not None},
    )
    if resp.status_code >= 400 and not path.startswith("/console"):
        assert resp.headers["content-type"].startswith("application/problem+json"), url
    if resp.status_code == 303 and resp.headers["location"] == "/console/login":
        return TO_LOGIN
    return resp.status_code


def _denied(path: str, status: int, authenticated: bool) -> bool:
    if path.startswith("/console"):
        # no valid session: redirect to sign-in; signed in without the role: 403 page
        return status == (403 if authenticated else TO_LOGIN)
    return status == (403 if authenticated else 401)


# the revoked key fails on every route: more failures than the sign-in limit (10) allows
@pytest.mark.parametrize("api", [{"auth_failure_limit": 1000}], indirect=True)
@pytest.mark.parametrize("who", [UP, OP, AU, None, "revoked"])
def test_route_role_matrix(api: Api, who: str | None) -> None:
    up = api.client.post("/v1/files", content=make_835(71_000, claims=1), headers=api.auth(OP))
    assert up.status_code == 201, up.text
    file_id = up.json()["id"]
    api.process_queue()
    audited: list[tuple[str, str, int]] = []
    for (method, path), allowed in sorted(ACCESS.items()):
        status = _call(api, method, path, who, file_id)
        valid_key = who in ALL
        console_session = path.startswith("/console") and who in READERS
        if allowed == PUBLIC:
            assert status not in (401, 403) or path == "/console/login", (method, path, status)
            continue
        assert isinstance(allowed, frozenset)
        if who in allowed:
            assert status not in (401, 403, TO_LOGIN), (who, method, path, status)
        else:
            authenticated = console_session if path.startswith("/console") else valid_key
            assert _denied(path, status, authenticated), (who, method, path, status)
        if method == "POST" and (console_session if path.startswith("/console") else valid_key):
            audited.append((method, path, status))
    with api.gw.db.read() as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.outcome).where(
                AuditEntry.actor == f"apikey:test-{who}"
            )
        ).all()
    got = [(r.action, r.outcome) for r in rows if r.action.startswith("http ")]
    for method, path, status in audited:
        assert (f"http {method} {path}", str(status)) in got, (method, path, status, got)


def test_metrics_and_openapi_list_the_contract(api: Api) -> None:
    schema = api.client.get("/v1/openapi.json", headers=api.auth(AU)).json()
    api_paths = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert api_paths == {
        k for k in ACCESS if k[1].startswith("/v1") or k[1] in ("/healthz", "/readyz", "/metrics")
    } - {("GET", "/v1/openapi.json")}
    for method, path in api_paths:
        op = schema["paths"][path][method.lower()]
        if ACCESS[(method, path)] != PUBLIC:
            assert "401" in op["responses"], (method, path)
    assert re.search(
        r'gateway_files\{state="processed"\}', api.client.get("/metrics", headers=api.auth(OP)).text
    )
