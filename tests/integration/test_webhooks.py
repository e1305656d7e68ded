"""Webhooks against a real HTTP receiver on 127.0.0.1 (SQLite and PostgreSQL): events queued in
the transaction of the change, signatures the receiver verifies, a retry after a 500, failure
then replay from the delivery log, and nothing lost or queued twice across a crash."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.reconcile import run_reconcile
from gateway.reconcile.tables import Credit
from gateway.settings import Settings
from gateway.webhooks import signing
from gateway.webhooks.deliver import claim_next, drain
from gateway.webhooks.events import scan_deadlines
from gateway.webhooks.service import emit, subscribe
from gateway.webhooks.tables import WebhookDelivery
from tests.integration.helpers import GATEWAY_CMD, ROOT, Gateway, ingest
from tests.integration.test_api_support import PROVIDER_NPI, Api, api_fixture  # noqa: F401
from tests.integration.webhook_receiver import Receiver
from tests.integration.x12gen import make_835

RECON = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"
#: fast retries; loopback receivers are allowed in these tests only
FAST = {
    "webhook_allow_private_urls": True,
    "webhook_retry_base_seconds": 0.01,
    "webhook_retry_max_seconds": 0.05,
    "webhook_max_attempts": 3,
}
#: no PHI in a payload: only these keys, ever
ALLOWED_DATA = {
    "file_id",
    "error_code",
    "kind",
    "credit_id",
    "payer_id",
    "cause",
    "owed_to",
    "amount",
    "government",
    "identified_on",
    "due_by",
    "days_left",
    "status",
    "batch_id",
    "batch_key",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


def _settings(gw: Gateway, **extra: object) -> Settings:
    return gw.settings.model_copy(update={**FAST, **extra})


def _subscribe(gw: Gateway, receiver: Receiver, events: list[str], provider: str) -> int:
    with gw.db.write() as s:
        view, secret = subscribe(
            s,
            provider=provider,
            url=receiver.url,
            events=events,
            actor="pytest",
            allow_private=True,
        )
    receiver.secret = secret
    return view.id


def _deliveries(gw: Gateway) -> list[WebhookDelivery]:
    with gw.db.read() as s:
        return list(s.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars())


def _quarantine(api: Api, control: int) -> int:
    good = make_835(control, npi=PROVIDER_NPI, claims=1)
    broken = good.replace(b"\nSE*", b"\nSE*9", 1)
    r = api.client.post("/v1/files", content=broken, headers=api.auth("uploader"))
    assert r.status_code == 201, r.text
    api.process_queue()
    return int(r.json()["id"])


@pytest.mark.parametrize("api", [FAST], indirect=True)
def test_quarantine_is_signed_and_the_receiver_verifies_it(api: Api, receiver: Receiver) -> None:
    _subscribe(api.gw, receiver, ["file.quarantined"], PROVIDER_NPI)
    file_id = _quarantine(api, 91_001)  # the worker quarantines it, then (idle) sends it
    [sent] = _deliveries(api.gw)
    assert (sent.event, sent.state) == ("file.quarantined", "delivered")
    assert drain(api.gw.db, _settings(api.gw), owner="t").delivered == []  # sent once
    [got] = receiver.received
    assert got.signature_ok
    assert got.answered == 200
    body = json.loads(got.body)
    assert body["type"] == "file.quarantined"
    assert body["provider"] == f"npi:{PROVIDER_NPI}"
    assert body["data"]["file_id"] == file_id
    assert set(body["data"]) <= ALLOWED_DATA
    assert got.headers["gateway-delivery"] == body["id"]
    assert got.headers["gateway-event"] == "file.quarantined"
    # what the receiver's check refuses: another body, another secret, a stale timestamp
    header = got.headers[signing.HEADER.lower()]
    assert not signing.verify(receiver.secret, got.body + b" ", header)
    assert not signing.verify("whsec_other", got.body, header)
    stale = signing.sign(receiver.secret, got.body, now=1_000_000)
    assert not signing.verify(receiver.secret, got.body, stale)
    [done] = _deliveries(api.gw)
    assert (done.state, done.attempts, done.last_status) == ("delivered", 1, 200)
    # the delivery log over HTTP
    log = api.client.get("/v1/webhooks/deliveries", headers=api.auth("uploader")).json()
    assert [(d["id"], d["state"], d["attempts"]) for d in log] == [(done.id, "delivered", 1)]


def test_retry_after_a_500_then_success(gw: Gateway, receiver: Receiver) -> None:
    _subscribe(gw, receiver, ["file.quarantined"], PROVIDER_NPI)
    with gw.db.write() as s:
        emit(
            s,
            provider_key=f"npi:{PROVIDER_NPI}",
            event="file.quarantined",
            data={"file_id": 7, "error_code": "x", "kind": "835"},
            dedupe="file:7:q",
        )
    receiver.script.extend([500])
    result = drain(gw.db, _settings(gw), owner="t")
    assert len(result.delivered) == 1
    assert [r.answered for r in receiver.received] == [500, 200]
    assert all(r.signature_ok for r in receiver.received)
    ids = {r.headers["gateway-delivery"] for r in receiver.received}
    assert len(ids) == 1  # the same event both times: receivers de-duplicate on it
    [row] = _deliveries(gw)
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("delivered", 2, 200, None)


@pytest.mark.parametrize("api", [FAST], indirect=True)
def test_failed_delivery_is_replayed_from_the_log(api: Api, receiver: Receiver) -> None:
    _subscribe(api.gw, receiver, ["file.quarantined"], PROVIDER_NPI)
    receiver.script.extend([503, 503, 503])
    _quarantine(api, 91_002)  # the worker sends it when idle: three tries, all 503
    [failed] = _deliveries(api.gw)
    assert (failed.state, failed.attempts, failed.last_status) == ("failed", 3, 503)
    assert [r.answered for r in receiver.received] == [503, 503, 503]
    # a 4xx is not retried: the receiver refused it
    receiver.script.extend([410])
    r = api.client.post(f"/v1/webhooks/deliveries/{failed.id}/replay", headers=api.auth("uploader"))
    assert r.status_code == 202, r.text
    drain(api.gw.db, _settings(api.gw), owner="t")
    second = _deliveries(api.gw)[1]
    assert (second.state, second.attempts, second.last_status) == ("failed", 1, 410)
    # replay from the CLI; now the receiver takes it
    proc = subprocess.run(
        [*GATEWAY_CMD, "webhooks", "replay", str(failed.id)],
        env=api.gw.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    drain(api.gw.db, _settings(api.gw), owner="t")
    rows = _deliveries(api.gw)
    assert [(d.state, d.replay_of) for d in rows] == [
        ("failed", None),
        ("failed", failed.id),
        ("delivered", failed.id),
    ]
    assert len({d.event_id for d in rows}) == 1
    assert receiver.received[-1].body == receiver.received[0].body
    assert receiver.received[-1].signature_ok


def test_outbox_loses_nothing_and_queues_nothing_twice(gw: Gateway, receiver: Receiver) -> None:
    _subscribe(gw, receiver, ["file.quarantined"], PROVIDER_NPI)
    pk = f"npi:{PROVIDER_NPI}"
    data = {"file_id": 1, "error_code": "x", "kind": "835"}

    # an event whose transaction rolls back leaves no delivery behind
    def failing_change() -> None:
        with gw.db.write() as s:
            emit(s, provider_key=pk, event="file.quarantined", data=data, dedupe="file:1:q")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert _deliveries(gw) == []
    # the same event twice is queued once
    for _ in range(2):
        with gw.db.write() as s:
            emit(s, provider_key=pk, event="file.quarantined", data=data, dedupe="file:1:q")
    [row] = _deliveries(gw)
    # a sender that dies holding the lease: the row is claimed again once the lease expires
    assert claim_next(gw.db, "dead-sender") == row.id
    assert claim_next(gw.db, "other") is None  # leased: nobody else sends it meanwhile
    with gw.db.write() as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id)
            .values(lease_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    result = drain(gw.db, _settings(gw), owner="t")
    assert result.delivered == [row.id]
    assert len(receiver.received) == 1
    assert drain(gw.db, _settings(gw), owner="t").delivered == []  # sent once


def test_credits_identified_and_deadline_events(gw: Gateway, receiver: Receiver) -> None:
    for name in ("copay_twice/1.835", "copay_twice/2.csv"):
        assert ingest(gw, (RECON / name).read_bytes(), name).state == "processed"
    with gw.db.read() as s:
        [provider] = s.execute(select(Provider.key)).scalars().all()
    _subscribe(gw, receiver, ["credit.identified", "credit.deadline"], provider)
    summary = run_reconcile(gw.db, as_of=dt.date(2026, 9, 30))
    assert summary.credits_new >= 1
    identified = [d for d in _deliveries(gw) if d.event == "credit.identified"]
    assert len(identified) == summary.credits_new
    # a government credit due in 20 days: announced once however often the scan runs
    with gw.db.write() as s:
        pid = s.execute(select(tbl(Provider).c.id)).scalar_one()
        s.execute(
            insert(tbl(Credit)).values(
                provider_id=pid,
                account_id="A-9",
                patient_control_number="PCN9",
                owed_to="payer",
                payer_id="MCRB01",
                cause="duplicate_payment",
                amount=Decimal("10.00"),
                government=True,
                deadline_days=60,
                identified_on=dt.date.today(),
                due_by=dt.date.today() + dt.timedelta(days=20),
                status="open",
                first_run_id=0,
                last_run_id=0,
            )
        )
    for _ in range(2):
        with gw.db.write() as s:
            scan_deadlines(s, within_days=30)
    deadline = [d for d in _deliveries(gw) if d.event == "credit.deadline"]
    assert len(deadline) == 1
    drain(gw.db, _settings(gw), owner="t")
    bodies = [json.loads(r.body) for r in receiver.received]
    assert all(r.signature_ok for r in receiver.received)
    assert {b["type"] for b in bodies} == {"credit.identified", "credit.deadline"}
    for b in bodies:
        assert set(b["data"]) <= ALLOWED_DATA  # no patient control number, no account
    [due] = [b for b in bodies if b["type"] == "credit.deadline"]
    assert due["data"]["days_left"] == 20
    assert due["data"]["amount"] == "10.00"
