"""SQL metacharacters through every filter parameter of every list endpoint (enumerated from
the served OpenAPI document), on SQLite and PostgreSQL.

Every answer is 2xx, or 4xx as problem+json; never 5xx. No row count changes, and a filter
value that matches nothing returns nothing: a ``%`` or ``' OR 1=1 --`` that widened a query
(LIKE wildcards, string-built SQL) would return the seeded rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from gateway.api.keys import Role
from gateway.db.models import InboundFile
from tests.integration.helpers import counts
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401
from tests.integration.x12gen import make_835

PAYLOADS = [
    "' OR 1=1 --",
    '" OR ""="',
    "'; DROP TABLE inbound_files; --",
    '"; DROP TABLE x;',
    "%",
    "_",
    "%%",
    "\\",
    "\\'",
    "a\x00b",
    "x" * 10_000,
    "Ω≈ç√∫˜µ≤≥÷ ﷽ 𝕏 \u202e",
    "1) OR (1=1",
    "*/ SELECT pg_sleep(0) /*",
    "0x27",
    "NULL",
    "-1",
]
PAGING = {"limit", "offset"}


def list_endpoints(api: Api) -> dict[str, list[dict[str, Any]]]:
    """GET operations without path parameters that take query filters: path → parameters."""
    spec = api.client.get("/v1/openapi.json", headers=api.auth(Role.AUDITOR.value)).json()
    out: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None or "{" in path:
            continue
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        if any(p["name"] not in PAGING for p in params):
            out[path] = params
    return out


def _total(body: Any) -> int:
    if isinstance(body, dict) and "total" in body:
        return int(body["total"])
    if isinstance(body, dict) and "items" in body:
        return len(body["items"])
    if isinstance(body, list):
        return len(body)
    return 0


def test_sql_metacharacters_in_every_filter(api: Api) -> None:
    for n in range(1, 4):
        assert (
            api.client.post(
                "/v1/files", content=make_835(n), headers=api.auth("uploader")
            ).status_code
            == 201
        )
    api.process_queue()
    endpoints = list_endpoints(api)
    assert {"/v1/files", "/v1/audit"} <= set(endpoints), endpoints
    with api.gw.db.read() as s:
        files_before = s.execute(select(func.count()).select_from(InboundFile)).scalar_one()
    rows_before = counts(api.gw.db)
    ops = api.auth(Role.OPS.value)
    tried = 0
    for path, params in endpoints.items():
        required = any(p.get("required") for p in params)
        if not required:  # the endpoint answers without filters (and so must a bad filter)
            unfiltered = api.client.get(path, headers=ops)
            assert unfiltered.status_code == 200, (path, unfiltered.text[:300])
        for param in params:
            if param["name"] in PAGING:
                continue
            for payload in PAYLOADS:
                resp = api.client.get(path, params={param["name"]: payload}, headers=ops)
                tried += 1
                where = f"{path}?{param['name']}={payload[:40]!r}"
                assert resp.status_code < 500, (where, resp.text[:300])
                if resp.status_code >= 400:
                    assert resp.headers["content-type"].startswith("application/problem+json"), (
                        where
                    )
                    assert resp.json()["status"] == resp.status_code
                    continue
                if not required and resp.headers["content-type"].startswith("text/csv"):
                    # an export (/v1/cases/export): the header row and nothing else
                    assert len(resp.text.splitlines()) == 1, (where, resp.text[:300])
                elif not required:
                    assert _total(resp.json()) == 0, (where, resp.text[:300])
    assert tried >= 100
    with api.gw.db.read() as s:
        assert s.execute(select(func.count()).select_from(InboundFile)).scalar_one() == files_before
    assert counts(api.gw.db) == rows_before
