"""/metrics (credits, deliveries), the credits worklist in SQL, and the upload fast path.

Against a real uvicorn on 127.0.0.1 and both backends (``api`` fixture): rows are inserted
straight into the reconciliation and outbound tables, then read back over HTTP.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from gateway.api.keys import revoke_key
from gateway.db.models import AuditEntry, Provider
from gateway.db.types import tbl, utcnow
from gateway.outbound.tables import OutboundFile, TransferFailure
from gateway.reconcile.tables import Credit
from tests.integration.test_api_support import Api, api_fixture  # noqa: F401
from tests.integration.x12gen import make_835

TODAY = dt.date.today()


def _credit(
    pid: int,
    n: int,
    *,
    payer: str,
    cause: str,
    government: bool,
    amount: str,
    due_in: int | None,
    status: str = "open",
) -> dict[str, Any]:
    identified = TODAY - dt.timedelta(days=10)
    return {
        "provider_id": pid,
        "account_id": f"A{n}",
        "patient_control_number": f"PCN{n}",
        "owed_to": "payer" if payer else "patient",
        "payer_id": payer,
        "cause": cause,
        "amount": Decimal(amount),
        "government": government,
        "deadline_days": None if due_in is None else 60,
        "identified_on": identified,
        "due_by": None if due_in is None else TODAY + dt.timedelta(days=due_in),
        "status": status,
        "resolved_on": TODAY if status == "resolved" else None,
        "first_run_id": 1,
        "last_run_id": 1,
        "updated_at": utcnow(),
    }


def seed(api: Api) -> None:
    with api.gw.db.write() as s:
        pid = s.execute(
            insert(tbl(Provider))
            .values(key="npi:1234567893", npi="1234567893", name="Clinic", created_at=utcnow())
            .returning(tbl(Provider).c.id)
        ).scalar_one()
        s.execute(
            insert(tbl(Credit)),
            [
                _credit(
                    pid,
                    1,
                    payer="MEDICARE",
                    cause="overpayment",
                    government=True,
                    amount="100.10",
                    due_in=-5,
                ),
                _credit(
                    pid,
                    2,
                    payer="MEDICARE",
                    cause="duplicate_payment",
                    government=True,
                    amount="0.20",
                    due_in=20,
                ),
                _credit(
                    pid,
                    3,
                    payer="ACME",
                    cause="overpayment",
                    government=False,
                    amount="50.05",
                    due_in=-1,
                    status="pending",
                ),
                _credit(
                    pid,
                    4,
                    payer="",
                    cause="patient_overpayment",
                    government=False,
                    amount="7.00",
                    due_in=None,
                ),
                _credit(
                    pid,
                    5,
                    payer="ACME",
                    cause="overpayment",
                    government=False,
                    amount="999.99",
                    due_in=-30,
                    status="resolved",
                ),
            ],
        )
        now = utcnow()
        s.execute(
            insert(tbl(TransferFailure)),
            [
                {
                    "partner_id": "acme-sftp",
                    "direction": "outbound",
                    "operation": "put",
                    "error_code": "sftp_auth",
                    "message": "denied",
                    "at": now,
                    "resolved": False,
                },
                {
                    "partner_id": "acme-sftp",
                    "direction": "outbound",
                    "operation": "put",
                    "error_code": "sftp_auth",
                    "message": "denied",
                    "at": now,
                    "resolved": False,
                },
                {
                    "partner_id": "acme-sftp",
                    "direction": "inbound",
                    "operation": "list",
                    "error_code": "sftp_timeout",
                    "message": "slow",
                    "at": now,
                    "resolved": True,
                },
            ],
        )
        s.execute(
            insert(tbl(OutboundFile)),
            [
                {
                    "partner_id": "acme-sftp",
                    "kind": "refund",
                    "remote_dir": "/out",
                    "remote_name": f"r{i}.csv",
                    "sha256": f"{i:064x}",
                    "size": 10,
                    "state": state,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for i, state in enumerate(["queued", "queued", "failed", "delivered"])
            ],
        )


def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = api.client.get("/metrics", headers=api.auth("ops"))
    assert resp.status_code == 200, resp.text
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_count_credits_and_delivery_problems(api: Api) -> None:
    seed(api)
    m = scrape(api)

    def value(name: str, **labels: str) -> float:
        return m.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("gateway_credits_open", government="true", cause="overpayment", status="open") == 1
    assert (
        value("gateway_credits_open", government="false", cause="overpayment", status="pending")
        == 1
    )
    assert (
        value(
            "gateway_credits_open", government="false", cause="patient_overpayment", status="open"
        )
        == 1
    )
    assert (
        value(
            "gateway_credits_open_amount_dollars",
            government="true",
            cause="overpayment",
            status="open",
        )
        == 100.10
    )
    # resolved credits are not open, whatever their due date
    assert sum(v for (n, _), v in m.items() if n == "gateway_credits_open") == 4
    assert value("gateway_credits_overdue", government="true", payer="MEDICARE") == 1
    assert value("gateway_credits_overdue", government="false", payer="ACME") == 1
    assert (
        value("gateway_credits_overdue_amount_dollars", government="false", payer="ACME") == 50.05
    )
    assert sum(v for (n, _), v in m.items() if n == "gateway_credits_overdue") == 2
    assert (
        value(
            "gateway_transfer_failures_unresolved",
            partner="acme-sftp",
            direction="outbound",
            error_code="sftp_auth",
        )
        == 2
    )
    assert (
        value(
            "gateway_transfer_failures_unresolved",
            partner="acme-sftp",
            direction="inbound",
            error_code="sftp_timeout",
        )
        == 0
    )
    assert value("gateway_outbound_files", state="queued") == 2
    assert value("gateway_outbound_files", state="failed") == 1
    assert value("gateway_outbound_files", state="delivering") == 0
    # no claim, account or patient identifier in any label
    text = api.client.get("/metrics", headers=api.auth("ops")).text
    assert "PCN" not in text
    assert "A1" not in text


def credits(api: Api, query: str = "") -> dict[str, Any]:
    resp = api.client.get(f"/v1/credits?{query}", headers=api.auth("auditor"))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_worklist_filters_order_paging_and_totals(api: Api) -> None:
    seed(api)
    body = credits(api)
    # government first, soonest due first; then the rest, no deadline last; resolved ones
    # are not on the worklist (PCN3 is due before PCN2 but is not government money)
    assert [c["patient_control_number"] for c in body["items"]] == ["PCN1", "PCN2", "PCN3", "PCN4"]
    assert body["totals"] == {
        "count": 4,
        "amount": "157.35",
        "overdue_count": 2,
        "overdue_amount": "150.15",
    }
    assert body["items"][0]["days_left"] == -5
    # pages across the boundaries between government, other, dated and undated credits
    for offset in range(5):
        page = credits(api, f"limit=2&offset={offset}")["items"]
        assert [c["id"] for c in page] == [c["id"] for c in body["items"][offset : offset + 2]]
    assert credits(api, "payer=MEDICARE")["totals"]["count"] == 2
    assert credits(api, "cause=overpayment")["totals"]["amount"] == "150.15"
    assert [c["patient_control_number"] for c in credits(api, "government=false")["items"]] == [
        "PCN3",
        "PCN4",
    ]
    assert credits(api, "due_within=0")["totals"]["count"] == 2
    assert credits(api, "status=pending")["totals"]["count"] == 1
    everything = credits(api, "status=all&sort=claim")
    assert [c["patient_control_number"] for c in everything["items"]] == [
        "PCN1",
        "PCN2",
        "PCN3",
        "PCN4",
        "PCN5",
    ]
    assert everything["totals"]["overdue_count"] == 2  # a resolved credit is never overdue
    bad = api.client.get("/v1/credits?status=nope", headers=api.auth("auditor"))
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_upload_writes_one_audit_entry_with_the_registration(api: Api) -> None:
    data = make_835(88_001, claims=1)
    first = api.client.post("/v1/files", content=data, headers=api.auth("uploader"))
    again = api.client.post("/v1/files", content=data, headers=api.auth("uploader"))
    assert (first.status_code, again.status_code) == (201, 200)
    fid = first.json()["id"]
    with api.gw.db.read() as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.file_id)
            .where(AuditEntry.actor == "apikey:test-uploader")
            .order_by(AuditEntry.seq)
        ).all()
    http = [(r.action, r.outcome, r.file_id) for r in rows if r.action.startswith("http ")]
    # exactly one entry per call, with the status the client saw
    assert http == [("http POST /v1/files", "201", fid), ("http POST /v1/files", "200", fid)]
    assert [r.outcome for r in rows if r.action == "accept"] == ["received", "duplicate"]
    # a refused upload (no file stored) is still audited, by the middleware
    bad = api.client.post("/v1/files", content=b"not x12", headers=api.auth("uploader"))
    assert bad.status_code == 415
    with api.gw.db.read() as s:
        outcomes = (
            s.execute(
                select(AuditEntry.outcome).where(
                    AuditEntry.actor == "apikey:test-uploader",
                    AuditEntry.action == "http POST /v1/files",
                )
            )
            .scalars()
            .all()
        )
    assert sorted(outcomes) == ["200", "201", "415"]


def test_a_key_revoked_in_this_process_is_refused_at_once(api: Api) -> None:
    h = api.auth("ops")
    assert api.client.get("/v1/me", headers=h).status_code == 200  # now cached
    with api.gw.db.write() as s:
        revoke_key(s, "test-ops", actor="pytest")
    resp = api.client.get("/v1/me", headers=h)
    assert resp.status_code == 401
    assert resp.json()["code"] == "invalid_key"
