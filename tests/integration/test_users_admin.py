"""User management over the API (ops keys) and in the console (admin people), provider-scoped
and audited; the attacker's side: other roles, another provider's users, forged forms,
an admin locking itself out, passwords never echoed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.db.models import AuditEntry
from gateway.security.roles import Role
from gateway.users.service import add_user
from tests.integration.test_api_support import PROVIDER_NPI, Api, api_fixture  # noqa: F401
from tests.integration.test_casework import PASSWORD, console_as

MINE = f"npi:{PROVIDER_NPI}"
OTHER = "npi:1999999992"


def _add(api: Api, name: str, role: Role, provider: str | None = None) -> None:
    with api.gw.db.write() as s:
        add_user(s, username=name, role=role, provider=provider, password=PASSWORD, actor="t")


def test_users_over_the_api(api: Api) -> None:
    ops = api.auth("ops")
    secret = "a long enough password 123"
    r = api.client.post(
        "/v1/users",
        json={"username": "carol", "role": "analyst", "provider": PROVIDER_NPI, "password": secret},
        headers=ops,
    )
    assert r.status_code == 201, r.text
    assert r.json()["provider_key"] == MINE
    assert secret not in r.text
    assert "hash" not in r.text
    r = api.client.post(
        "/v1/users", json={"username": "carol", "role": "ops", "password": secret}, headers=ops
    )
    assert r.status_code == 409
    r = api.client.post(
        "/v1/users", json={"username": "dan", "role": "ops", "password": "short"}, headers=ops
    )
    assert r.status_code == 400
    assert "short" not in r.text
    names = [u["username"] for u in api.client.get("/v1/users", headers=api.auth("auditor")).json()]
    assert names == ["carol"]
    for who in ("auditor", "uploader"):
        r = api.client.post(
            "/v1/users",
            json={"username": "mallory", "role": "admin", "password": secret},
            headers=api.auth(who),
        )
        assert r.status_code == 403
        r = api.client.post("/v1/users/carol/disable", headers=api.auth(who))
        assert r.status_code == 403
    r = api.client.post("/v1/users/carol/role", json={"role": "ops"}, headers=ops)
    assert r.status_code == 200
    assert r.json()["role"] == "ops"
    assert r.json()["provider_key"] == MINE
    r = api.client.post(
        "/v1/users/carol/role", json={"role": "uploader", "provider": "junk"}, headers=ops
    )
    assert r.status_code == 400
    assert api.client.post("/v1/users/nobody/disable", headers=ops).status_code == 404
    r = api.client.post("/v1/users/carol/disable", headers=ops)
    assert r.json()["disabled"] is True
    assert api.client.post("/v1/users/carol/disable", headers=ops).status_code == 409
    with api.gw.db.read() as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.actor).where(AuditEntry.action.like("user_%"))
        ).all()
        every = " ".join(str(e.details) for e in s.execute(select(AuditEntry)).scalars())
    assert ("user_created", "apikey:test-ops") in rows
    assert ("user_role_set", "apikey:test-ops") in rows
    assert ("user_disabled", "apikey:test-ops") in rows
    assert secret not in every


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_users_in_the_console_for_admins(api: Api) -> None:
    _add(api, "root", Role.ADMIN)
    _add(api, "padm", Role.ADMIN, MINE)
    _add(api, "ana", Role.ANALYST, MINE)
    _add(api, "olga", Role.ANALYST, OTHER)
    token = console_as(api, "root")
    page = api.client.get("/console/users").text
    assert all(f'id="user-{n}"' in page for n in ("root", "padm", "ana", "olga"))
    r = api.client.post(
        "/console/users",
        data={
            "csrf": token,
            "username": "newbie",
            "role": "analyst",
            "provider": "",
            "password": "a long enough password 123",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert 'id="user-newbie"' in r.text
    assert "a long enough password" not in r.text
    r = api.client.post(
        "/console/users/newbie/role", data={"csrf": token, "role": "ops"}, follow_redirects=True
    )
    assert "user newbie is now ops" in r.text
    r = api.client.post("/console/users/root/disable", data={"csrf": token})
    assert r.status_code == 400  # never itself
    assert "yourself" in r.text
    r = api.client.post("/console/users/newbie/disable", data={"csrf": "forged"})
    assert r.status_code == 403

    # a provider's admin: only its provider's users, and new users are its provider's
    token = console_as(api, "padm")
    page = api.client.get("/console/users").text
    assert 'id="user-ana"' in page
    assert 'id="user-olga"' not in page
    assert 'id="user-root"' not in page
    for name in ("olga", "root"):
        r = api.client.post(f"/console/users/{name}/disable", data={"csrf": token})
        assert r.status_code == 404, name
        r = api.client.post(f"/console/users/{name}/role", data={"csrf": token, "role": "admin"})
        assert r.status_code == 404, name
    r = api.client.post(
        "/console/users",
        data={
            "csrf": token,
            "username": "sneaky",
            "role": "admin",
            "provider": OTHER,
            "password": "a long enough password 123",
        },
    )
    assert r.status_code == 403
    r = api.client.post(
        "/console/users",
        data={
            "csrf": token,
            "username": "helper",
            "role": "analyst",
            "password": "a long enough password 123",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200
    users = {u["username"]: u for u in api.client.get("/v1/users", headers=api.auth("ops")).json()}
    assert users["helper"]["provider_key"] == MINE
    assert "sneaky" not in users
    assert users["olga"]["disabled"] is False
    assert users["root"]["role"] == "admin"

    # an analyst (and an ops or auditor key) does not manage users
    console_as(api, "ana")
    assert api.client.get("/console/users").status_code == 403
    r = api.client.post("/console/users/olga/disable", data={"csrf": "x"})
    assert r.status_code == 403
