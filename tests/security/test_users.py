"""Attack tests of per-person console users (gateway.users): passwords, disabled users,
provider scope, roles, the cost of a refusal, and what never leaves the server (the password,
its hash)."""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest
from sqlalchemy import select

from gateway.api.keys import create_key
from gateway.api.signin import fingerprint
from gateway.api.tables import ConsoleSession
from gateway.db.models import AuditEntry
from gateway.errors import InputError
from gateway.security.roles import Role
from gateway.users import passwords
from gateway.users.service import add_user, authenticate_user, disable_user, set_password
from gateway.users.tables import User
from tests.integration.helpers import GATEWAY_CMD, ROOT, Gateway
from tests.integration.test_api_support import PROVIDER_NPI, Api
from tests.integration.x12gen import make_835

PASSWORD = "correct horse battery staple"
OTHER_NPI = "1999999992"


def _add(gw: Gateway, name: str, role: Role, provider: str | None = None) -> None:
    with gw.db.write() as s:
        add_user(s, username=name, role=role, provider=provider, password=PASSWORD, actor="pytest")


def _login(
    client: httpx.Client, username: str, password: str = PASSWORD
) -> tuple[httpx.Response, str]:
    """Post the console's sign-in form; returns the response and its CSRF token."""
    client.cookies.clear()
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/console/login",
        data={"csrf": token.group(1), "username": username, "password": password},
        follow_redirects=False,
    )
    return r, token.group(1)


def _page_csrf(client: httpx.Client) -> str:
    page = client.get("/console/failures")
    assert page.status_code == 200
    m = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert m
    return m.group(1)


def _audit(gw: Gateway, action: str) -> list[AuditEntry]:
    with gw.db.read() as s:
        return list(
            s.execute(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
            .scalars()
            .all()
        )


def _signed_in(client: httpx.Client) -> bool:
    r = client.get("/console/", follow_redirects=False)
    return r.status_code == 200


def test_user_signs_in_and_the_session_and_audit_name_the_person(api: Api) -> None:
    _add(api.gw, "alice", Role.ANALYST)
    r, _ = _login(api.client, "Alice")  # usernames are case-insensitive
    assert r.status_code == 303
    assert _signed_in(api.client)
    with api.gw.db.read() as s:
        rows = s.execute(select(ConsoleSession.user_id, ConsoleSession.api_key_id)).all()
        alice = s.execute(select(User).where(User.username == "alice")).scalar_one()
        assert alice.last_login_at is not None
    assert [(row.user_id, row.api_key_id) for row in rows] == [(alice.id, None)]
    [entry] = _audit(api.gw, "console_login")
    assert entry.actor == "user:alice"
    # the page shows who is signed in; sign-out deletes the session on the server
    csrf = _page_csrf(api.client)
    cookie = api.client.cookies.get("gw_session")
    out = api.client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    api.client.cookies.set("gw_session", cookie or "", path="/console")
    assert not _signed_in(api.client)
    with api.gw.db.read() as s:
        assert s.execute(select(ConsoleSession.id)).all() == []


def test_machine_key_still_signs_in(api: Api) -> None:
    from tests.security.helpers import console_login

    assert console_login(api, "ops")


def test_wrong_password_and_unknown_user_are_refused_and_audited(api: Api) -> None:
    _add(api.gw, "bob", Role.OPS)
    for username, password in (("bob", PASSWORD + "x"), ("nobody", PASSWORD), ("bob", "")):
        r, _ = _login(api.client, username, password)
        assert r.status_code == 401, (username, r.status_code)
        assert "do not match an active user" in r.text
        assert not _signed_in(api.client)
    failures = _audit(api.gw, "console_login_failed")
    assert [e.reason for e in failures] == ["invalid_login"] * 3
    assert failures[0].details is not None
    assert failures[0].details["key_fingerprint"] == fingerprint("bob")


@pytest.mark.parametrize("api", [{"auth_failure_limit": 2}], indirect=True)
def test_guessing_passwords_is_rate_limited_even_with_the_right_one(api: Api) -> None:
    api.app.state.ctx.sign_ins.limit = 2
    _add(api.gw, "carol", Role.ANALYST)
    for _ in range(2):
        assert _login(api.client, "carol", "wrong password!!")[0].status_code == 401
    r, _ = _login(api.client, "carol")
    assert r.status_code == 429
    assert r.headers["Retry-After"]
    assert len(_audit(api.gw, "auth_rate_limited")) == 1


def test_disabled_user_is_refused_and_its_session_ends(api: Api) -> None:
    _add(api.gw, "dave", Role.OPS)
    assert _login(api.client, "dave")[0].status_code == 303
    assert _signed_in(api.client)
    with api.gw.db.write() as s:
        disable_user(s, "dave", actor="pytest")
    assert not _signed_in(api.client)  # the open session is dead at the next request
    assert _login(api.client, "dave")[0].status_code == 401
    with api.gw.db.write() as s, pytest.raises(InputError):
        disable_user(s, "dave", actor="pytest")


def test_set_password_ends_older_sessions_and_the_old_password(api: Api) -> None:
    _add(api.gw, "erin", Role.AUDITOR)
    assert _login(api.client, "erin")[0].status_code == 303
    with api.gw.db.write() as s:
        set_password(s, "erin", "a brand new passphrase", actor="pytest")
    assert not _signed_in(api.client)
    assert _login(api.client, "erin")[0].status_code == 401
    assert _login(api.client, "erin", "a brand new passphrase")[0].status_code == 303


def _file(api: Api, npi: str, control: int) -> int:
    r = api.client.post(
        "/v1/files", content=make_835(control, npi=npi, claims=1), headers=api.auth("ops")
    )
    assert r.status_code in (200, 201, 202), r.text
    return int(r.json()["id"])


def _garbage(api: Api, who: str, control: int = 82_000) -> int:
    """A file that is accepted, then quarantined (its SE segment is broken)."""
    npi = OTHER_NPI if who == "other-uploader" else PROVIDER_NPI
    good = make_835(control, npi=npi, claims=1)
    broken = good.replace(b"\nSE*", b"\nSE*9", 1)  # a wrong segment count
    assert broken != good
    r = api.client.post("/v1/files", content=broken, headers=api.auth(who))
    assert r.status_code in (200, 201, 202), r.text
    return int(r.json()["id"])


def test_user_of_provider_a_cannot_read_provider_b(api: Api) -> None:
    mine, theirs = _file(api, PROVIDER_NPI, 81_001), _file(api, OTHER_NPI, 81_002)
    bad_mine, bad_theirs = (
        _garbage(api, "uploader", 82_001),
        _garbage(api, "other-uploader", 82_002),
    )
    api.process_queue()
    _add(api.gw, "frank", Role.OPS, provider=PROVIDER_NPI)
    assert _login(api.client, "frank")[0].status_code == 303
    assert api.client.get(f"/console/files/{mine}").status_code == 200
    other = api.client.get(f"/console/files/{theirs}")
    assert other.status_code == 404  # answered like a file that does not exist
    assert api.client.get(f"/console/files/{bad_theirs}").status_code == 404
    listing = api.client.get("/console/failures").text
    assert f"/console/files/{bad_mine}" in listing
    assert f"/console/files/{bad_theirs}" not in listing
    # replaying another provider's file is refused like a missing one
    csrf = _page_csrf(api.client)
    r = api.client.post(
        f"/console/files/{bad_theirs}/replay",
        data={"csrf": csrf, "reason": "try it"},
        follow_redirects=False,
    )
    assert r.status_code == 404
    # pages that do not filter by provider yet refuse a scoped user (fail closed)
    assert api.client.get("/console/credits").status_code == 403
    assert api.client.get("/console/batches").status_code == 403


def test_roles_cannot_be_escalated(api: Api) -> None:
    bad = _garbage(api, "ops")
    api.process_queue()
    _add(api.gw, "gina", Role.ANALYST)
    # a role field smuggled into the sign-in form is ignored
    api.client.cookies.clear()
    form = api.client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    r = api.client.post(
        "/console/login",
        data={"csrf": token.group(1), "username": "gina", "password": PASSWORD, "role": "admin"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    csrf = _page_csrf(api.client)
    replay = api.client.post(
        f"/console/files/{bad}/replay", data={"csrf": csrf, "reason": "escalate"}
    )
    assert replay.status_code == 403
    # nobody can mint a person's role as an API key, nor a user with a made-up role
    with api.gw.db.write() as s:
        for role in (Role.ANALYST, Role.ADMIN):
            with pytest.raises(InputError):
                create_key(s, name=f"k-{role}", role=role, provider=None, pepper=None, actor="t")
    with pytest.raises(ValueError, match="superuser"):
        Role("superuser")
    # an uploader user needs a provider (never an unscoped uploader)
    with api.gw.db.write() as s, pytest.raises(InputError):
        add_user(
            s, username="henry", role=Role.UPLOADER, provider=None, password=PASSWORD, actor="t"
        )
    # an admin user may replay
    _add(api.gw, "ivy", Role.ADMIN)
    assert _login(api.client, "ivy")[0].status_code == 303
    csrf = _page_csrf(api.client)
    ok = api.client.post(
        f"/console/files/{bad}/replay",
        data={"csrf": csrf, "reason": "admin replay"},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_every_refusal_costs_one_argon2_verification(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown, disabled, malformed and wrong all run exactly one verification (the library's
    constant-time compare), so the answer's timing does not tell which usernames exist."""
    _add(api.gw, "jack", Role.OPS)
    _add(api.gw, "kate", Role.OPS)
    with api.gw.db.write() as s:
        disable_user(s, "kate", actor="pytest")
    real = passwords._HASHER
    calls: list[str] = []

    class Counting:
        """The real hasher, counting its verifications."""

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(passwords, "_HASHER", Counting())
    with api.gw.db.read() as s:
        for username, password in (
            ("nobody", PASSWORD),
            ("kate", PASSWORD),
            ("NOT A NAME!", PASSWORD),
            ("jack", "wrong password here"),
            ("jack", "x" * 10_000),
        ):
            calls.clear()
            assert authenticate_user(s, username, password) is None
            assert len(calls) == 1, username
            assert calls[0].startswith("$argon2id$")
        calls.clear()
        assert authenticate_user(s, "jack", PASSWORD) is not None
        assert len(calls) == 1


def _cli(gw: Gateway, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY_CMD, *args],
        env=gw.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("json_logs")
def test_password_never_in_argv_logs_or_output_and_hash_never_shown(
    api: Api, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "never-log-this-passphrase"
    add = _cli(
        api.gw, "users", "add", "lena", "--role", "analyst", "--password-stdin", stdin=secret
    )
    assert add.returncode == 0, add.stderr
    # there is no way to pass it on the command line
    argv = _cli(api.gw, "users", "add", "mike", "--role", "ops", "--password", secret)
    assert argv.returncode == 2
    weak = _cli(api.gw, "users", "add", "nina", "--role", "ops", "--password-stdin", stdin="short")
    assert weak.returncode == 2
    assert "weak_password" in weak.stderr
    assert "short" not in weak.stderr.replace("weak_password", "")
    listed = _cli(api.gw, "users", "list")
    assert listed.returncode == 0
    assert "lena" in listed.stdout
    reset = _cli(api.gw, "users", "set-password", "lena", "--password-stdin", stdin=secret + "2")
    assert reset.returncode == 0, reset.stderr
    # sign in (a failure, then a success) and browse
    assert _login(api.client, "lena", secret)[0].status_code == 401
    r, _ = _login(api.client, "lena", secret + "2")
    assert r.status_code == 303
    pages = [api.client.get(p).text for p in ("/console/", "/console/failures")]
    with api.gw.db.read() as s:
        stored = s.execute(select(User.password_hash)).scalars().all()
        audit_text = " ".join(
            f"{e.actor} {e.action} {e.reason} {e.details}"
            for e in s.execute(select(AuditEntry)).scalars()
        )
    assert stored
    assert all(h.startswith("$argon2id$") for h in stored)
    captured = capfd.readouterr()
    everything = "\n".join(
        [
            add.stdout,
            add.stderr,
            argv.stdout,
            argv.stderr,
            listed.stdout,
            listed.stderr,
            reset.stdout,
            reset.stderr,
            captured.out,
            captured.err,
            audit_text,
            *pages,
        ]
    )
    assert secret not in everything
    for h in stored:
        assert h not in everything
        assert h.split("$")[-1] not in everything  # not even the digest part
    assert "$argon2" not in everything
