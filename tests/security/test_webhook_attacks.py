"""Attack tests of webhooks: URLs that would turn the gateway against its own network (SSRF),
the signing secret after creation, and provider scope of subscriptions and deliveries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gateway.errors import InputError
from gateway.webhooks.service import emit
from gateway.webhooks.tables import WebhookSubscription
from gateway.webhooks.urls import check_url
from tests.integration.test_api_support import PROVIDER_NPI, Api

OTHER_NPI = "1999999992"
REFUSED = [
    ("file:///etc/passwd", "bad_url_scheme"),
    ("ftp://example.com/x", "bad_url_scheme"),
    ("gopher://example.com/", "bad_url_scheme"),
    ("javascript:alert(1)", "bad_url_scheme"),
    ("http://127.0.0.1:8000/v1/files", "private_url"),
    ("http://localhost/", "private_url"),
    ("http://10.1.2.3/hook", "private_url"),
    ("http://192.168.0.5/hook", "private_url"),
    ("http://169.254.169.254/latest/meta-data/", "private_url"),
    ("http://[::1]/hook", "private_url"),
    ("http://[::ffff:127.0.0.1]/hook", "private_url"),
    ("http://0.0.0.0/hook", "private_url"),
    ("https://user:pw@203.0.113.9/hook", "bad_url"),
    ("http://203.0.113.9/hook\nHost: evil", "bad_url"),
]


@pytest.mark.parametrize(("url", "code"), REFUSED)
def test_hostile_urls_are_refused(url: str, code: str) -> None:
    with pytest.raises(InputError) as err:
        check_url(url, allow_private=False)
    assert err.value.code == code


def test_private_addresses_only_with_the_setting() -> None:
    assert check_url("http://127.0.0.1:9/x", allow_private=True)
    with pytest.raises(InputError):  # the scheme rule holds whatever the setting
        check_url("file:///etc/passwd", allow_private=True)
    assert check_url("https://93.184.215.14/hook", allow_private=False)


def _create(api: Api, who: str, url: str, provider: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"url": url, "events": ["file.quarantined"]}
    if provider is not None:
        body["provider"] = provider
    r = api.client.post("/v1/webhooks", json=body, headers=api.auth(who))
    return {"status": r.status_code, "body": r.json()}


def test_api_refuses_hostile_urls_with_problem_json(api: Api) -> None:
    for url, code in REFUSED[:6]:
        r = api.client.post(
            "/v1/webhooks",
            json={"url": url, "events": ["file.quarantined"]},
            headers=api.auth("uploader"),
        )
        assert r.status_code == 400, (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == code
    with api.gw.db.read() as s:
        assert s.execute(select(WebhookSubscription.id)).all() == []


@pytest.mark.parametrize("api", [{"webhook_allow_private_urls": True}], indirect=True)
def test_secret_is_shown_once_and_stored_sealed(api: Api) -> None:
    made = _create(api, "uploader", "http://127.0.0.1:9/hook")
    assert made["status"] == 201
    body = made["body"]
    assert isinstance(body, dict)
    secret = str(body["secret"])
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    pages = [
        api.client.get("/v1/webhooks", headers=api.auth(who)).text
        for who in ("uploader", "ops", "auditor")
    ]
    with api.gw.db.write() as s:
        emit(
            s,
            provider_key=f"npi:{PROVIDER_NPI}",
            event="file.quarantined",
            data={"file_id": 1, "error_code": "x", "kind": "835"},
            dedupe="file:1:q",
        )
    pages.append(api.client.get("/v1/webhooks/deliveries", headers=api.auth("ops")).text)
    pages.append(api.client.get("/v1/openapi.json", headers=api.auth("ops")).text)
    for page in pages:
        assert secret not in page
        assert secret[6:] not in page
    listed = json.loads(pages[0])
    assert [sorted(item) for item in listed] == [
        ["active", "created_at", "created_by", "events", "id", "provider", "url"]
    ]
    with api.gw.db.read() as s:
        sealed = s.execute(select(WebhookSubscription.secret_sealed)).scalar_one()
    assert secret not in sealed  # sealed with the data keys, not kept in the clear
    cli = api.gw.cli("webhooks", "list")
    assert cli.returncode == 0, cli.stderr
    assert secret not in cli.stdout + cli.stderr


@pytest.mark.parametrize("api", [{"webhook_allow_private_urls": True}], indirect=True)
def test_provider_scope_of_subscriptions_and_deliveries(api: Api) -> None:
    mine = _create(api, "uploader", "http://127.0.0.1:9/a")
    assert mine["status"] == 201
    body = mine["body"]
    assert isinstance(body, dict)
    sub_id = body["id"]
    assert body["provider"] == f"npi:{PROVIDER_NPI}"
    # another provider's key: cannot subscribe for it, see it, disable it or replay its log
    assert _create(api, "other-uploader", "http://127.0.0.1:9/b", PROVIDER_NPI)["status"] == 403
    with api.gw.db.write() as s:
        emit(
            s,
            provider_key=f"npi:{PROVIDER_NPI}",
            event="file.quarantined",
            data={"file_id": 1, "error_code": "x", "kind": "835"},
            dedupe="file:1:q",
        )
    other = api.auth("other-uploader")
    assert api.client.get("/v1/webhooks", headers=other).json() == []
    assert api.client.get("/v1/webhooks/deliveries", headers=other).json() == []
    assert api.client.delete(f"/v1/webhooks/{sub_id}", headers=other).status_code == 404
    [delivery] = api.client.get("/v1/webhooks/deliveries", headers=api.auth("uploader")).json()
    r = api.client.post(f"/v1/webhooks/deliveries/{delivery['id']}/replay", headers=other)
    assert r.status_code == 404
    # an event of provider B never reaches provider A's subscription
    with api.gw.db.write() as s:
        queued = emit(
            s,
            provider_key=f"npi:{OTHER_NPI}",
            event="file.quarantined",
            data={"file_id": 2, "error_code": "x", "kind": "835"},
            dedupe="file:2:q",
        )
    assert queued == 0
    # roles: an auditor reads but cannot subscribe; ops must name the provider
    assert _create(api, "auditor", "http://127.0.0.1:9/c", PROVIDER_NPI)["status"] == 403
    assert _create(api, "ops", "http://127.0.0.1:9/d")["status"] == 422
    assert _create(api, "ops", "http://127.0.0.1:9/d", OTHER_NPI)["status"] == 201
    assert len(api.client.get("/v1/webhooks", headers=api.auth("auditor")).json()) == 2
    # the owner can disable its own
    assert (
        api.client.delete(f"/v1/webhooks/{sub_id}", headers=api.auth("uploader")).json()["active"]
        is False
    )
