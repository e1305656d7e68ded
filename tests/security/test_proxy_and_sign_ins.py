"""Attacks on who the gateway thinks the caller is (issue 17 hardening): forged forwarded
headers, and guessing API keys through the API or the console's sign-in form.

A real server on 127.0.0.1 (the ``api`` fixture, both databases). ``X-Forwarded-For``/``-Proto``
count only from a peer in ``GATEWAY_TRUSTED_PROXIES``; the client address lands in the access
log and in every audit entry; failed sign-ins are audited (never the key) and, past the limit,
answered 429 with ``Retry-After``.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.audit import verify_chain
from gateway.db.models import AuditEntry
from tests.integration.test_api_support import Api
from tests.integration.x12gen import make_835

pytestmark = pytest.mark.usefixtures("json_logs")
SPOOFED = "203.0.113.66"


def _log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    err = capsys.readouterr().err
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def _audit(api: Api, since: int = 0) -> list[AuditEntry]:
    with api.gw.db.read() as s:
        rows = (
            s.execute(select(AuditEntry).where(AuditEntry.seq > since).order_by(AuditEntry.seq))
            .scalars()
            .all()
        )
        s.expunge_all()
        return list(rows)


def _head(api: Api) -> int:
    rows = _audit(api)
    return rows[-1].seq if rows else 0


def _chain_ok(api: Api) -> None:
    with api.gw.db.read() as s:
        report = verify_chain(s)
    assert report.ok, report.broken


def _upload(api: Api, headers: dict[str, str], control: int) -> httpx.Response:
    return api.client.post(
        f"/v1/files?filename=f{control}.835",
        content=make_835(control),
        headers={**api.auth("ops"), **headers},
    )


def _login_cookie(set_cookies: list[str], name: str) -> str:
    found = [c for c in set_cookies if c.startswith(f"{name}=")]
    assert len(found) == 1, set_cookies
    return found[0]


def _is_secure(set_cookie: str) -> bool:
    return any(a.strip().lower() == "secure" for a in set_cookie.split(";")[1:])


@pytest.mark.parametrize("api", [{"trusted_proxies": "10.0.0.0/8, 192.0.2.1"}], indirect=True)
def test_spoofed_forwarded_headers_from_untrusted_peer_are_ignored(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack: a client (not a trusted proxy) sends ``X-Forwarded-For: 203.0.113.66`` to be
    audited and logged under someone else's address, and ``X-Forwarded-Proto: https``."""
    before = _head(api)
    capsys.readouterr()
    spoof = {"X-Forwarded-For": SPOOFED, "X-Forwarded-Proto": "https"}
    r = _upload(api, spoof, 9101)
    assert r.status_code == 201, r.text
    entries = _audit(api, before)
    assert entries, "the upload wrote no audit entry"
    assert {e.details["client"] for e in entries if e.details} == {"127.0.0.1"}
    assert all(e.details and e.details.get("client") for e in entries)
    lines = _log_lines(capsys)
    access = [ln for ln in lines if ln["event"] == "http_request" and ln["route"] == "/v1/files"]
    assert [ln["client"] for ln in access] == ["127.0.0.1"]
    assert SPOOFED not in json.dumps(lines)
    # the scheme claim is ignored too: no Secure cookie over plain http
    form = api.client.get("/console/login", headers=spoof)
    assert form.status_code == 200
    assert not _is_secure(_login_cookie(form.headers.get_list("set-cookie"), "gw_login_csrf"))
    _chain_ok(api)


@pytest.mark.parametrize("api", [{"trusted_proxies": "127.0.0.1, 10.1.0.0/16"}], indirect=True)
def test_trusted_proxys_forwarded_for_is_used(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """Attack: the client writes a fake hop (``6.6.6.6``) at the left of ``X-Forwarded-For``;
    the trusted proxies (127.0.0.1, then 10.1.2.3) append what they saw. The rightmost address
    that is not a trusted proxy is the client: 198.51.100.7, never the client's own claim."""
    before = _head(api)
    capsys.readouterr()
    r = _upload(api, {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.1.2.3"}, 9102)
    assert r.status_code == 201, r.text
    entries = _audit(api, before)
    assert entries
    assert {(e.details or {}).get("client") for e in entries} == {"198.51.100.7"}
    access = [
        ln
        for ln in _log_lines(capsys)
        if ln["event"] == "http_request" and ln["route"] == "/v1/files"
    ]
    assert [ln["client"] for ln in access] == ["198.51.100.7"]
    # a forwarded-for of trusted hops only: the leftmost of them is the client
    before = _head(api)
    r = _upload(api, {"X-Forwarded-For": "10.1.9.9"}, 9103)
    assert r.status_code == 201, r.text
    assert {(e.details or {}).get("client") for e in _audit(api, before)} == {"10.1.9.9"}
    _chain_ok(api)


@pytest.mark.parametrize("api", [{"trusted_proxies": "127.0.0.1"}], indirect=True)
def test_secure_cookie_only_via_trusted_https_proxy(api: Api) -> None:
    """Attack: cookies sent without ``Secure`` to a browser that reached the console over HTTPS
    through the proxy (a later plain-http request would leak them), or marked by a claim."""
    plain = api.client.get("/console/login")
    assert not _is_secure(_login_cookie(plain.headers.get_list("set-cookie"), "gw_login_csrf"))
    http = api.client.get("/console/login", headers={"X-Forwarded-Proto": "http"})
    assert not _is_secure(_login_cookie(http.headers.get_list("set-cookie"), "gw_login_csrf"))
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.8"}
    form = api.client.get("/console/login", headers=https)
    csrf_cookie = _login_cookie(form.headers.get_list("set-cookie"), "gw_login_csrf")
    assert _is_secure(csrf_cookie)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    api.client.cookies.clear()  # the jar would not send a Secure cookie over http: do it by hand
    r = api.client.post(
        "/console/login",
        data={"csrf": token.group(1), "key": api.keys["ops"]},
        headers={**https, "Cookie": f"gw_login_csrf={token.group(1)}"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    session = _login_cookie(r.headers.get_list("set-cookie"), "gw_session")
    assert _is_secure(session)
    assert "httponly" in session.lower()
    assert "samesite=strict" in session.lower()


def _wrong_key() -> str:
    return f"gw_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"


def _assert_429(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1


def test_brute_forcing_api_keys_is_audited_then_429(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack: guessing API keys against /v1 as fast as possible, each guess with another
    ``X-Forwarded-For`` (no proxy is trusted) to dodge a per-address limit."""
    before = _head(api)
    capsys.readouterr()
    guesses = [_wrong_key() for _ in range(10)]
    for n, key in enumerate(guesses):
        r = api.client.get(
            "/v1/files",
            headers={"Authorization": f"Bearer {key}", "X-Forwarded-For": f"198.51.100.{n}"},
        )
        assert r.status_code == 401, (n, r.text)
    r = api.client.get("/v1/files", headers={"Authorization": f"Bearer {_wrong_key()}"})
    _assert_429(r)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "too_many_failures"
    # while blocked, even the right key is refused: a guess that happens to be right is too
    _assert_429(api.client.get("/v1/files", headers=api.auth("ops")))
    entries = _audit(api, before)
    failed = [e for e in entries if e.action == "api_auth_failed"]
    assert len(failed) == 10
    assert all(
        e.outcome == "401"
        and e.details
        and e.details["client"] == "127.0.0.1"
        and re.fullmatch(r"[0-9a-f]{8}", e.details["key_fingerprint"])
        for e in failed
    )
    assert len({e.details["key_fingerprint"] for e in failed if e.details}) == 10
    assert [e.outcome for e in entries if e.action == "auth_rate_limited"] == ["429"]
    assert len(entries) == 11  # the refusals after the trip are logged, not audited
    stored = json.dumps([[e.actor, e.reason, e.details] for e in entries])
    logged = capsys.readouterr().err
    for key in [*guesses, api.keys["ops"]]:
        secret = key.split("_", 2)[2]  # gw_<id>_<secret>; the secret may hold "_"
        assert secret not in stored
        assert secret not in logged
    # the limit is per client address: another address (127.0.0.2) still signs in
    with httpx.Client(
        base_url=api.url, timeout=30, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    ) as other:
        assert other.get("/v1/files", headers=api.auth("ops")).status_code == 200
    _chain_ok(api)


def test_brute_forcing_console_logins_is_audited_then_429(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attack: guessing keys through the console's sign-in form."""
    before = _head(api)
    capsys.readouterr()
    form = api.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    guesses = [_wrong_key() for _ in range(9)] + ["not-even-a-key"]
    for key in guesses:
        r = api.client.post(
            "/console/login", data={"csrf": token.group(1), "key": key}, follow_redirects=False
        )
        assert r.status_code == 401, r.text
        assert "That key is not valid." in r.text
    r = api.client.post(
        "/console/login",
        data={"csrf": token.group(1), "key": api.keys["ops"]},
        follow_redirects=False,
    )
    _assert_429(r)
    assert "gw_session=" not in ";".join(r.headers.get_list("set-cookie"))
    entries = _audit(api, before)
    failed = [e for e in entries if e.action == "console_login_failed"]
    assert len(failed) == 10
    assert all(
        e.outcome == "401"
        and e.actor == "unauthenticated"
        and e.details
        and e.details["client"] == "127.0.0.1"
        for e in failed
    )
    assert [e.outcome for e in entries if e.action == "auth_rate_limited"] == ["429"]
    stored = json.dumps([[e.reason, e.details] for e in entries])
    logged = capsys.readouterr().err
    for key in [*guesses, api.keys["ops"]]:
        assert key not in stored
        assert key not in logged
    # the API shares the limiter: the same address is blocked there too
    _assert_429(api.client.get("/v1/files", headers=api.auth("ops")))
    _chain_ok(api)
