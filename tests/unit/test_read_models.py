"""The read models (gateway.read) print what the CLI and the API always printed: money as
two-decimal strings, dates ISO, timestamps ``+00:00``, the stable field names; their committed
JSON Schemas equal a fresh export and validate what they emit."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import BaseModel

from gateway.read import dump, export
from gateway.read.batches import BatchFileRead, BatchRead, ReceiptRead
from gateway.read.credits import CaseRead, CreditRead, TransitionRead
from schemas.export import stale_files
from schemas.states import BatchDelivery, CaseState, CreditStatus

DAY = dt.date(2026, 9, 30)
AT = dt.datetime(2026, 9, 30, 14, 5, 6, tzinfo=dt.UTC)


def _credit(**over: Any) -> CreditRead:
    fields: dict[str, Any] = {
        "id": 7,
        "provider_id": 1,
        "account_id": "A1",
        "patient_control_number": "PCN1",
        "owed_to": "payer",
        "payer_id": "MCRB01",
        "amount": Decimal("12.5"),
        "cause": "duplicate_payment",
        "government": True,
        "identified_on": DAY,
        "due_by": DAY + dt.timedelta(days=60),
        "status": "open",
        "medicare_part": "B",
        "medicare_verified": False,
        "days_left": 60,
    }
    return CreditRead(**(fields | over))


def _case(**over: Any) -> CaseRead:
    fields: dict[str, Any] = {
        "case_id": 3,
        "credit_id": 7,
        "provider_id": 1,
        "provider_npi": "1234567893",
        "state": "approved",
        "method": "refund",
        "reference": None,
        "approved_by": "bob",
        "account_id": "A1",
        "patient_control_number": "PCN1",
        "owed_to": "payer",
        "payer_id": "MCRB01",
        "amount": Decimal("0.005"),
        "cause": "duplicate_payment",
        "government": True,
        "identified_on": DAY,
        "due_by": DAY + dt.timedelta(days=5),
        "credit_status": "open",
        "investigation_opened_on": None,
        "investigation_closed_on": None,
        "history": (
            TransitionRead(
                from_state=None, to_state="open", actor="reconcile", at=AT, reason="", details=None
            ),
        ),
    }
    return CaseRead(**(fields | over))


def test_credit_prints_the_stable_fields() -> None:
    out = dump(_credit())
    assert out["amount"] == "12.50"
    assert (out["identified_on"], out["due_by"]) == ("2026-09-30", "2026-11-29")
    assert out["claim_kind"] is None  # "" in Python, null in JSON as before
    assert "medicare_verified" not in out  # an input of ``warnings``, never printed
    assert out["warnings"] == ["unverified_medicare_payer"]
    assert out["status"] == "open"
    assert out["days_left"] == 60
    c = _credit(medicare_verified=True)
    assert c.status is CreditStatus.OPEN
    assert c.amount == Decimal("12.5")
    assert dump(c)["warnings"] == []


def test_case_counts_days_from_the_day_asked_and_names_moves_from_to() -> None:
    case = _case()
    assert case.state is CaseState.APPROVED
    out = dump(case.on(DAY + dt.timedelta(days=7)))
    assert (out["days_left"], out["overdue"]) == (-2, True)
    assert dump(case.on(DAY))["days_left"] == 5
    assert out["amount"] == "0.01"  # half-up, as schemas.serialize.money
    assert out["history"] == [
        {
            "from": None,
            "to": "open",
            "actor": "reconcile",
            "at": "2026-09-30T14:05:06+00:00",
            "reason": "",
            "details": None,
        }
    ]
    assert not dump(_case(state="resolved").on(DAY + dt.timedelta(days=7)))["overdue"]


def test_batch_dispute_has_no_payer_and_receipts_are_typed() -> None:
    f = BatchFileRead(
        name="RF1.txt",
        role="payer_file",
        sha256="ab" * 32,
        size=10,
        record_count=1,
        amount_sum=Decimal("3"),
        outbound_id=4,
        delivery_state="delivered",
        last_error=None,
        receipt=ReceiptRead(
            partner_id="p", remote_path="/out/RF1.txt", size=10, sha256="ab" * 32, delivered_at=AT
        ),
    )
    b = BatchRead(
        id=1,
        batch_key="DS000001",
        provider_id=1,
        provider_npi=None,
        payer_id="",
        kind="dispute",
        msp=False,
        state="issued",
        delivery="delivered",
        as_of=DAY,
        reference="",
        partner_id=None,
        record_count=1,
        amount=Decimal("3"),
        created_by="bob",
        created_at=AT,
        credit_ids=(7,),
        files=(f,),
    )
    out = dump(b)
    assert out["payer_id"] is None
    assert b.payer_id == ""
    assert out["delivery"] == BatchDelivery.DELIVERED.value == "delivered"
    assert out["files"][0]["amount_sum"] == "3.00"
    assert out["files"][0]["receipt"]["delivered_at"] == "2026-09-30T14:05:06+00:00"
    assert out["credit_ids"] == [7]


def test_committed_schemas_are_current() -> None:
    assert stale_files(export.JSON_DIR, export.MODELS) == []


def test_schemas_validate_what_the_models_emit() -> None:
    samples: list[BaseModel] = [_credit(), _case().on(DAY)]
    for model in samples:
        path = Path(export.JSON_DIR) / f"{type(model).__name__.replace('Read', '_read').lower()}"
        schema = json.loads(path.with_suffix(".schema.json").read_text(encoding="utf-8"))
        jsonschema.validate(dump(model), schema)


def test_every_resolution_route_documents_its_response_schema() -> None:
    from fastapi import FastAPI

    from gateway.api.routes import credits, resolution, variances

    app = FastAPI()
    for r in (credits.router, resolution.router, variances.router):
        app.include_router(r)
    doc = app.openapi()
    want = {
        ("/v1/credits/{credit_id}/approve", "post"): "CaseRead",
        ("/v1/credits/{credit_id}/dispute", "post"): "CaseRead",
        ("/v1/credits/{credit_id}/resolve", "post"): "CaseRead",
        ("/v1/batches", "get"): "BatchRead",
        ("/v1/batches/{batch_id}", "get"): "BatchRead",
        ("/v1/reports/cms838", "get"): "Cms838Read",
        ("/v1/reports/credits", "get"): "CreditReportRead",
    }
    for (path, method), name in want.items():
        schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert name in json.dumps(schema["schema"]), (path, schema)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert ok != {}, (path, method)
            assert "additionalProperties" not in ok, (path, method)
    assert "CreditRead" in doc["components"]["schemas"]
