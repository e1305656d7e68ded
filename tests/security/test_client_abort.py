"""Attacks on the request body (issue 17 hardening): a client that leaves halfway through an
upload, and a slow-loris that never finishes its body.

A raw socket against the real server on 127.0.0.1 (``api``, both databases). An abort is a
``client_abort`` log line and status 499 in the access line and the audit entry: no traceback,
no 500 (sent or audited), nothing stored. A stalled body is a 408 problem+json after
``GATEWAY_BODY_TIMEOUT_SECONDS`` (short here), with nothing stored either.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.db.models import AuditEntry, InboundFile
from tests.integration.test_api_support import Api
from tests.integration.x12gen import make_835

BOUNDARY = "gw-abort-boundary"


def _multipart(data: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="a.835"\r\n'
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _request_head(api: Api, path: str, ctype: str, length: int, key: str | None) -> bytes:
    port = api.url.rsplit(":", 1)[1]
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: {ctype}",
        f"Content-Length: {length}",
    ]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(api: Api) -> socket.socket:
    host, port = api.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _nothing_stored(api: Api) -> None:
    with api.gw.db.read() as s:
        assert s.execute(select(func.count()).select_from(InboundFile)).scalar_one() == 0
    raw = api.gw.settings.data_dir / "raw"
    assert not raw.exists() or not [p for p in raw.rglob("*") if p.is_file()]


def _upload_audit(api: Api) -> list[AuditEntry]:
    with api.gw.db.read() as s:
        rows = (
            s.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "http POST /v1/files")
                .order_by(AuditEntry.seq)
            )
            .scalars()
            .all()
        )
        s.expunge_all()
        return list(rows)


def _wait_for_log(capsys: pytest.CaptureFixture[str], event: str) -> list[dict[str, Any]]:
    """The server's log lines once ``event`` is among them (the server runs in a thread)."""
    text = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text += capsys.readouterr().err
        lines = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]
        if any(ln["event"] == event for ln in lines) and any(
            ln["event"] == "http_request" for ln in lines
        ):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {event} in the server log:\n{text}")


@pytest.mark.usefixtures("json_logs")
@pytest.mark.parametrize("kind", ["multipart", "raw"])
def test_client_aborting_mid_upload_is_a_client_abort(
    api: Api, kind: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Attack: a client sends half an upload body, then closes the socket (over and over it
    would fill the log with tracebacks and the audit log with 500s, and leave partial files)."""
    caplog.set_level(logging.DEBUG)
    data = make_835(9201, claims=20)
    body = _multipart(data) if kind == "multipart" else data
    ctype = (
        f"multipart/form-data; boundary={BOUNDARY}"
        if kind == "multipart"
        else "application/octet-stream"
    )
    capsys.readouterr()
    with _connect(api) as sock:
        sock.sendall(
            _request_head(api, "/v1/files?filename=a.835", ctype, len(body), api.keys["ops"])
            + body[: len(body) // 2]
        )
        time.sleep(0.2)  # let the server start reading the body (not an assertion on time)
    lines = _wait_for_log(capsys, "client_abort")
    aborts = [ln for ln in lines if ln["event"] == "client_abort"]
    assert len(aborts) == 1
    assert aborts[0]["route"] == "/v1/files"
    assert aborts[0]["level"] in ("info", "warning")
    # how much the server read before the close depends on scheduling (0 on a busy machine)
    assert 0 <= aborts[0]["body_bytes"] < len(body)
    access = [ln for ln in lines if ln["event"] == "http_request"]
    assert [(ln["route"], ln["status"], ln["client"]) for ln in access] == [
        ("/v1/files", 499, "127.0.0.1")
    ]
    text = json.dumps(lines)
    assert "Traceback" not in text
    assert "exception" not in text
    assert not any(ln["event"] == "request_failed" for ln in lines)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    _nothing_stored(api)
    audit = _upload_audit(api)
    assert [(e.outcome, (e.details or {}).get("client")) for e in audit] == [("499", "127.0.0.1")]
    # the server is still healthy and takes the whole upload afterwards
    assert api.client.get("/healthz").status_code == 200
    r = api.client.post("/v1/files?filename=a.835", content=data, headers=api.auth("ops"))
    assert r.status_code == 201, r.text
    assert [e.outcome for e in _upload_audit(api)] == ["499", "201"]


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without a response: {buf!r}"
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(status_line.split()[1]), headers, rest[:length]


@pytest.mark.usefixtures("json_logs")
@pytest.mark.parametrize("api", [{"body_timeout_seconds": 0.5}], indirect=True)
@pytest.mark.parametrize("target", ["upload", "console_login"])
def test_slow_loris_body_is_408(api: Api, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Attack: slow-loris: a request that declares a body, sends a piece of it and then
    nothing, holding a server connection (and a spool) open for as long as it likes."""
    if target == "upload":
        body = make_835(9301, claims=5)
        head = _request_head(
            api, "/v1/files?filename=s.835", "application/octet-stream", len(body), api.keys["ops"]
        )
    else:
        body = b"csrf=x&key=" + b"k" * 150
        head = _request_head(
            api, "/console/login", "application/x-www-form-urlencoded", len(body), None
        )
    capsys.readouterr()
    with _connect(api) as sock:
        sock.sendall(head + body[:40])
        status, headers, payload = _read_response(sock)  # no more is ever sent
    assert status == 408, payload
    assert headers["content-type"].startswith("application/problem+json")
    assert json.loads(payload)["code"] == "body_timeout"
    lines = _wait_for_log(capsys, "body_timeout")
    access = [ln for ln in lines if ln["event"] == "http_request"]
    assert [ln["status"] for ln in access] == [408]
    assert "Traceback" not in json.dumps(lines)
    _nothing_stored(api)
    if target == "upload":
        assert [e.outcome for e in _upload_audit(api)] == ["408"]
    assert api.client.get("/healthz").status_code == 200
