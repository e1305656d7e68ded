"""Logs: JSON lines with the request id (and file id where there is one); no PHI, proven by
uploading every X12 fixture through the API, processing them, and grepping the captured logs
for the fixtures' patient names, member ids and dates of birth."""

from __future__ import annotations

import json
import threading

import pytest

from gateway.api.segments import tokenize
from gateway.logging import configure_logging
from gateway.worker import run_worker
from tests.integration.helpers import ROOT, Gateway
from tests.integration.test_api_support import make_keys, start_api

X12_FIXTURES = sorted(
    p for p in (ROOT / "tests" / "fixtures" / "x12").iterdir() if p.suffix != ".md"
)


def phi_tokens(data: bytes) -> set[str]:
    """Names and ids of people (NM1 with NM102=1), and DMG dates of birth, in a file."""
    out: set[str] = set()
    for seg, d in tokenize(data):
        el = seg.split(d.element)
        if el[0] == "NM1" and len(el) > 3 and el[2] == "1":
            out.update(el[i] for i in (3, 4, 9) if i < len(el))
        elif el[0] == "DMG" and len(el) > 2:
            out.add(el[2])
    return {t for t in out if len(t) >= 4}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_logs_carry_request_and_file_ids_and_no_phi(
    gw: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    configure_logging("DEBUG", "json")
    tokens: set[str] = set()
    for p in X12_FIXTURES:
        tokens |= phi_tokens(p.read_bytes())
    assert len(tokens) >= 5, tokens  # the fixtures really carry people to look for
    _app, server = start_api(gw)
    keys = make_keys(gw, None)
    h = {"Authorization": f"Bearer {keys['ops']}"}
    try:
        ids = []
        for p in X12_FIXTURES:
            data = p.read_bytes()
            r = httpx.post(
                f"{server.url}/v1/files?filename={p.name}", content=data, headers=h, timeout=30
            )
            assert r.status_code in (200, 201), r.text
            ids.append(r.json()["id"])
            # a broken copy, so the quarantine path logs too
            httpx.post(
                f"{server.url}/v1/files",
                content=data.replace(b"~", b"~\nZZZ*1~", 3) if b"~" in data else data + b"garbage",
                headers=h,
                timeout=30,
            )
        run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
        for fid in ids:
            assert (
                httpx.get(f"{server.url}/v1/files/{fid}", headers=h, timeout=30).status_code == 200
            )
    finally:
        server.stop()
        configure_logging("INFO", "auto")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(lines) > 20
    requests = [ln for ln in lines if ln["event"] == "http_request"]
    assert requests
    assert all(ln.get("request_id") for ln in requests)
    for ln in lines:
        if ln["event"] in ("file_uploaded", "file_processed", "file_quarantined"):
            assert isinstance(ln.get("file_id"), int), ln
        if ln["event"] == "file_uploaded":
            assert ln.get("request_id"), ln
    leaked = sorted(t for t in tokens if t in err)
    assert leaked == [], f"PHI in logs: {leaked}"
