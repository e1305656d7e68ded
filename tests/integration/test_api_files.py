"""Upload, dedupe, sniffing, size limit, uploader scoping, replay, acks, raw, problem+json."""

from __future__ import annotations

import gc
import json
import socket
import time

import pytest
from sqlalchemy import select

from gateway.api.keys import CACHE_SECONDS, Role, create_key
from gateway.db.models import AuditEntry, InboundFile
from tests.integration.helpers import ROOT, Gateway
from tests.integration.test_api_support import PROVIDER_NPI, Api, api_fixture, start_api  # noqa: F401
from tests.integration.x12gen import make_835, make_837

FIXTURES = ROOT / "tests" / "fixtures"


def test_upload_multipart_and_raw_dedupe_and_process(api: Api) -> None:
    data = make_835(1, claims=2)
    first = api.client.post(
        "/v1/files", files={"file": ("a.835", data)}, headers=api.auth("uploader")
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["state"] == "received"
    assert body["duplicate"] is False
    assert body["kind"] == "835"
    again = api.client.post("/v1/files?filename=b.835", content=data, headers=api.auth("uploader"))
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert again.json()["duplicate"] is True
    api.process_queue()
    detail = api.client.get(f"/v1/files/{body['id']}", headers=api.auth("uploader")).json()
    assert detail["state"] == "processed"
    assert detail["claim_count"] == 2
    assert [e["to_state"] for e in detail["history"]] == ["received", "processing", "processed"]
    assert detail["history"][0]["actor"] == "apikey:test-uploader"
    assert detail["provider_key"] == f"npi:{PROVIDER_NPI}"
    # ledger CSV and 837 are accepted too
    for name in ("canonical_clean.csv",):
        r = api.client.post(
            "/v1/files", content=(FIXTURES / "ledger" / name).read_bytes(), headers=api.auth("ops")
        )
        assert r.status_code == 201
        assert r.json()["kind"] == "ledger"
    r = api.client.post("/v1/files", content=make_837(2), headers=api.auth("ops"))
    assert r.status_code == 201
    assert r.json()["kind"] == "837"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"%PDF-1.7\n...", "binary content"),
        (b"", "empty"),
        (b"name,date\nx,y\n", "not X12"),
        (make_835(3).replace(b"ST*835", b"ST*270"), "transaction set 270"),
    ],
)
def test_unsupported_content_is_415_with_a_reason(api: Api, content: bytes, reason: str) -> None:
    r = api.client.post("/v1/files", content=content, headers=api.auth("ops"))
    assert r.status_code == 415
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert reason in problem["detail"]
    assert problem["code"] == "unsupported_content"
    assert problem["status"] == 415
    assert problem["request_id"] == r.headers["x-request-id"]


def test_size_limit_is_enforced_while_streaming(api: Api) -> None:
    limit = api.gw.settings.max_upload_bytes
    big = b"ISA" + b"x" * (limit + 10)
    # declared too large: refused before the body is read
    r = api.client.post("/v1/files", content=big, headers=api.auth("ops"))
    assert r.status_code == 413
    assert r.json()["code"] == "file_too_large"
    # chunked (no Content-Length): refused once the running count passes the limit
    r = api.client.post(
        "/v1/files",
        content=iter([big[i : i + 8192] for i in range(0, len(big), 8192)]),
        headers=api.auth("ops"),
    )
    assert r.status_code == 413
    r = api.client.post("/v1/files", files={"file": ("big.835", big)}, headers=api.auth("ops"))
    assert r.status_code == 413
    with api.gw.db.read() as s:
        assert s.execute(select(InboundFile.id)).first() is None
    assert not any((api.gw.settings.data_dir / "raw" / ".tmp").glob("put-*"))


def test_raw_http_chunked_body_over_a_socket_gets_413(api: Api) -> None:
    """Plain socket: a body that never ends is cut off with 413, not buffered."""
    host, port = "127.0.0.1", int(api.url.rsplit(":", 1)[1])
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: Bearer " + api.keys["ops"].encode() + b"\r\n\r\n"
        )
        chunk = b"x" * 65536
        try:
            for _ in range(8):  # 512 KiB > 64 KiB limit
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server may close early; that is fine
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_uploader_sees_only_its_providers_files(api: Api) -> None:
    mine = api.client.post("/v1/files", content=make_835(10), headers=api.auth("uploader"))
    other_npi = api.client.post(
        "/v1/files", content=make_835(11, npi="1999999992"), headers=api.auth("ops")
    )
    # an uploader of another provider may not upload my provider's file (issue 17)...
    refused = api.client.post("/v1/files", content=make_835(12), headers=api.auth("other-uploader"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "provider_mismatch"
    # ...but a clearinghouse (here: ops) may send it
    theirs = api.client.post("/v1/files", content=make_835(12), headers=api.auth("ops"))
    api.process_queue()
    listed = api.client.get("/v1/files", headers=api.auth("uploader")).json()
    # by upload (mine) and by parsed provider (ops' file for my NPI? no: NPI 1999999992)
    ids = {f["id"] for f in listed["items"]}
    assert mine.json()["id"] in ids
    assert other_npi.json()["id"] not in ids
    # ops' file names MY provider in its payee, so it is mine once parsed
    assert theirs.json()["id"] in ids
    hidden = other_npi.json()["id"]
    for path in (f"/v1/files/{hidden}", f"/v1/files/{hidden}/acks"):
        r = api.client.get(path, headers=api.auth("uploader"))
        assert r.status_code == 404
        assert r.json()["code"] == "file_not_found"
    assert api.client.get("/v1/files", headers=api.auth("ops")).json()["total"] == 3


def test_failed_file_replay_is_audited_and_reprocessed(api: Api) -> None:
    broken = make_835(20).replace(b"SE*", b"XE*", 1)
    fid = api.client.post("/v1/files", content=broken, headers=api.auth("ops")).json()["id"]
    api.process_queue()
    failures = api.client.get("/v1/failures", headers=api.auth("auditor")).json()
    assert [f["id"] for f in failures["items"]] == [fid]
    failure = failures["items"][0]
    assert failure["error_code"]
    assert failure["error_location"]
    # auditor may read but not replay; ops replays with a reason
    assert (
        api.client.post(
            f"/v1/files/{fid}/replay", json={"reason": "try again"}, headers=api.auth("auditor")
        ).status_code
        == 403
    )
    r = api.client.post(
        f"/v1/files/{fid}/replay", json={"reason": "parser fixed"}, headers=api.auth("ops")
    )
    assert r.status_code == 202
    assert r.json() == {"id": fid, "previous_state": "failed", "state": "received"}
    r = api.client.post(
        f"/v1/files/{fid}/replay", json={"reason": "again"}, headers=api.auth("ops")
    )
    assert r.status_code == 409
    assert r.json()["code"] == "not_replayable"
    api.process_queue()
    assert api.client.get(f"/v1/files/{fid}", headers=api.auth("ops")).json()["state"] == "failed"
    with api.gw.db.read() as s:
        entries = s.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.reason).where(
                AuditEntry.file_id == fid
            )
        ).all()
    assert ("apikey:test-ops", "replay_requested", "parser fixed") in entries
    assert ("apikey:test-ops", "http POST /v1/files/{file_id}/replay", "") in entries
    audit = api.client.get(f"/v1/audit?file_id={fid}", headers=api.auth("auditor")).json()
    assert audit["total"] >= 3


def test_acks_raw_download_and_missing_things(api: Api) -> None:
    data = make_835(30)
    fid = api.client.post("/v1/files", content=data, headers=api.auth("ops")).json()["id"]
    api.process_queue()
    acks = api.client.get(f"/v1/files/{fid}/acks", headers=api.auth("auditor")).json()
    kinds = {a["kind"] for a in acks["acknowledgments"]}
    assert "999" in kinds
    x999 = next(a for a in acks["acknowledgments"] if a["kind"] == "999")
    assert x999["status"] == "A"
    assert "AK9*A" in x999["content"]
    assert api.client.get(f"/v1/files/{fid}/acks", headers=api.auth("ops")).json() == acks
    raw = api.client.get(f"/v1/files/{fid}/raw", headers=api.auth("ops"))
    assert raw.status_code == 200
    assert raw.content == data
    assert api.client.get(f"/v1/files/{fid}/raw", headers=api.auth("auditor")).status_code == 403
    for path in ("/v1/files/999999", "/v1/files/999999/raw", "/v1/nothing-here"):
        r = api.client.get(path, headers=api.auth("ops"))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
    r = api.client.get("/v1/files/not-a-number", headers=api.auth("ops"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["path", "file_id"]
    r = api.client.get("/v1/files?limit=100000", headers=api.auth("ops"))
    assert r.status_code == 422
    assert "limit" in r.json()["detail"]


def test_the_server_freezes_what_start_up_built_and_thaws_it_at_shutdown(gw: Gateway) -> None:
    """Full collections skip the objects of import and start-up while the server runs (they
    cost ~115 ms inside whichever request set one off); after shutdown they are collectable
    again, for the next app in the process."""
    _, server = start_api(gw)
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        server.stop()
    assert gc.get_freeze_count() == 0


def test_request_id_is_echoed_and_health(api: Api) -> None:
    r = api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "abc-123"
    r = api.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["schema_revision"]
    bad = api.client.get("/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith("Bearer")
    me = api.client.get("/v1/me", headers=api.auth("uploader")).json()
    assert me["role"] == "uploader"
    assert me["provider_key"] == f"npi:{PROVIDER_NPI}"
    keys = api.client.get("/v1/keys", headers=api.auth("auditor")).json()
    assert {k["name"] for k in keys} >= {"test-ops", "test-revoked"}
    assert not any("hash" in json.dumps(k) for k in keys)


def test_readyz_is_503_when_the_schema_is_behind(gw: Gateway) -> None:
    import httpx
    from sqlalchemy import text

    _app, server = start_api(gw)
    try:
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
        with gw.db.write() as s:  # as if a newer release's migration had not been run
            s.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        r = httpx.get(f"{server.url}/readyz", timeout=10)
        assert r.status_code == 503
        assert r.json()["code"] == "schema_outdated"
    finally:
        server.stop()


def test_pepper_hashed_keys_and_unknown_ids(gw: Gateway) -> None:
    import httpx
    from pydantic import SecretStr

    settings = gw.settings.model_copy(update={"api_key_pepper": SecretStr("p" * 32)})
    _app, server = start_api(gw, settings)
    try:
        with gw.db.write() as s:
            key = create_key(
                s, name="peppered", role=Role.AUDITOR, provider=None, pepper="p" * 32, actor="t"
            ).key
        ok = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        wrong = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
        for token in (wrong, "gw_0000000000000000_" + "A" * 43, "nonsense"):
            r = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
            assert r.json()["code"] == "invalid_key"
    finally:
        server.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # CLI-bound; slow
def test_keys_cli_create_list_revoke(gw: Gateway) -> None:
    out = gw.cli(
        "keys",
        "create",
        "--role",
        "uploader",
        "--name",
        "clinic-a",
        "--provider",
        PROVIDER_NPI,
        check=True,
    ).stdout
    key = out.strip().splitlines()[-1]
    assert key.startswith("gw_")
    assert len(key) == 63
    assert gw.cli("keys", "create", "--role", "uploader", "--name", "x").returncode == 2
    assert gw.cli("keys", "create", "--role", "ops", "--name", "clinic-a").returncode == 2
    listed = gw.cli("keys", "list", check=True).stdout
    assert "clinic-a" in listed
    assert key not in listed
    _app, server = start_api(gw)
    try:
        import httpx

        h = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server.url}/v1/me", headers=h).status_code == 200
        gw.cli("keys", "revoke", "clinic-a", check=True)
        # revoked by another process: refused once this process's key cache expires
        deadline = time.monotonic() + CACHE_SECONDS + 10
        while httpx.get(f"{server.url}/v1/me", headers=h).status_code != 401:
            assert time.monotonic() < deadline, "a revoked key was still accepted"
            time.sleep(0.2)
        assert gw.cli("keys", "revoke", "clinic-a").returncode == 2
    finally:
        server.stop()
    with gw.db.read() as s:
        actions = set(s.execute(select(AuditEntry.action)).scalars())
    assert {"api_key_created", "api_key_revoked"} <= actions
