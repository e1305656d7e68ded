"""Attacks on the console's browser side (issue 17, hardening): a replayed cookie after
sign-out, framing, sniffing, caching of PHI pages, and status text planted through a link.
Real server on 127.0.0.1, sign-in through the real form, SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from gateway.api.console import SESSION_COOKIE
from gateway.api.headers import CSP
from gateway.api.tables import ConsoleSession
from tests.integration.test_api_support import Api
from tests.integration.x12gen import make_835
from tests.security.helpers import console_login


def _failed_file(api: Api) -> int:
    broken = make_835(900).replace(b"SE*", b"XE*", 1)
    fid: int = api.client.post("/v1/files", content=broken, headers=api.auth("ops")).json()["id"]
    api.process_queue()
    return fid


def _sessions(api: Api) -> int:
    with api.gw.db.read() as s:
        return s.execute(select(func.count()).select_from(ConsoleSession)).scalar_one()


def test_old_cookie_is_dead_after_logout(api: Api) -> None:
    """Attack: copy the session cookie, let its owner sign out, then replay the cookie (it
    used to open every page, and replay files, for 8 hours)."""
    fid = _failed_file(api)
    csrf = console_login(api, "ops")
    stolen = api.client.cookies.get(SESSION_COOKIE, path="/console")
    assert stolen
    assert _sessions(api) == 1
    with api.gw.db.read() as s:  # only a hash of the cookie is kept
        assert s.execute(select(ConsoleSession.token_hash)).scalar_one() != stolen
    r = api.client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/console/login?signed_out=1")
    assert _sessions(api) == 0
    api.client.cookies.clear()
    api.client.cookies.set(SESSION_COOKIE, stolen, path="/console")
    for path in ("/console/", "/console/failures", f"/console/files/{fid}"):
        r = api.client.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/console/login"), path
    r = api.client.post(
        f"/console/files/{fid}/replay",
        follow_redirects=False,
        data={"csrf": csrf, "reason": "replay with a stolen cookie"},
    )
    assert (r.status_code, r.headers["location"]) == (303, "/console/login")
    detail = api.client.get(f"/v1/files/{fid}", headers=api.auth("ops")).json()
    assert detail["state"] == "failed"  # nothing was replayed


def test_forged_or_legacy_cookies_are_refused(api: Api) -> None:
    """Attack: a v1 cookie signed with a known session secret (the old format could be
    forged offline from a weak secret), or a guessed v2 token."""
    import hashlib
    import hmac
    import time

    secret = api.app.state.ctx.session_secret
    payload = f"v1.1.{int(time.time())}"
    forged = f"{payload}.{hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()}"
    for cookie in (forged, "v2." + "A" * 43, "v2.", "x" * 5000):
        api.client.cookies.clear()
        api.client.cookies.set(SESSION_COOKIE, cookie, path="/console")
        r = api.client.get("/console/", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/console/login"), cookie[:10]


def test_console_pages_cannot_be_framed_sniffed_or_cached(api: Api) -> None:
    """Attack: frame the console (clickjacking the replay button), inject a script or style
    the CSP would allow, or read a PHI page back from a shared cache or the back button."""
    fid = _failed_file(api)
    console_login(api, "auditor")
    pages = [
        "/console/",
        "/console/failures",
        f"/console/files/{fid}",
        "/console/credits",
        "/console/batches",
        "/console/files/999999",
        "/console/login",
    ]
    for path in pages:
        r = api.client.get(path)
        assert r.status_code in (200, 404), path
        h = r.headers
        assert h["content-security-policy"] == CSP, path
        assert "unsafe-inline" not in CSP
        assert "script-src 'self'" in CSP
        assert "frame-ancestors 'none'" in CSP
        assert h["x-frame-options"] == "DENY"
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["cache-control"] == "no-store"
        # nothing inline that the CSP would have to allow
        assert "<script" not in r.text, path
        assert "<style" not in r.text, path
        assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), path
    # the 403 page of a forbidden action carries them too
    r = api.client.post(f"/console/files/{fid}/replay", data={"csrf": "x", "reason": "nope"})
    assert r.status_code == 403
    assert r.headers["content-security-policy"] == CSP
    css = api.client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["x-content-type-options"] == "nosniff"
    # API answers carry PHI as well: never cached, never sniffed
    raw = api.client.get(f"/v1/files/{fid}/raw", headers=api.auth("ops"))
    assert raw.headers["cache-control"] == "no-store"
    assert raw.headers["x-content-type-options"] == "nosniff"


def test_status_text_in_a_link_is_not_shown(api: Api) -> None:
    """Attack: a phishing link ``/console/files/1?notice=Your+key+expired,+call+...`` that
    writes the attacker's text into a trusted console page. Messages come only from the
    session's server-side flash state, and show once."""
    fid = _failed_file(api)
    csrf = console_login(api, "ops")
    bait = "Your key expired, call 555-0100"
    for path in (f"/console/files/{fid}", "/console/credits", "/console/"):
        page = api.client.get(path, params={"notice": bait}).text
        assert "555-0100" not in page, path
        assert 'id="notice"' not in page, path
    r = api.client.post(
        f"/console/files/{fid}/replay",
        follow_redirects=False,
        data={"csrf": csrf, "reason": "fixed upstream"},
    )
    assert (r.status_code, r.headers["location"]) == (303, f"/console/files/{fid}")
    page = api.client.get(f"/console/files/{fid}").text
    assert re.search(r'id="notice"[^>]*>replay queued \(was failed\)<', page)
    again = api.client.get(f"/console/files/{fid}").text
    assert 'id="notice"' not in again  # shown once
