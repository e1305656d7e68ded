"""Uploads are bound to the uploader key's provider (issue 17, item 1; docs/security.md 31-33).

Provider D is the ``uploader`` key's provider (NPI 1234567893); the attacker A holds the
``other-uploader`` key (NPI 1999999992). Real server on loopback, SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from gateway.api.keys import Role, create_key
from gateway.api.tables import ApiKey, ApiUpload
from gateway.db.models import AuditEntry, InboundFile, Provider
from gateway.db.remittance_rows import RemittanceRow
from gateway.db.types import tbl
from gateway.intake import accept_bytes
from gateway.reconcile import list_credits, run_reconcile
from gateway.reconcile.tables import LedgerEntry, LedgerImport
from gateway.worker import run_worker
from tests.integration.helpers import ROOT
from tests.integration.test_api_support import PROVIDER_NPI, Api
from tests.integration.x12gen import make_837

SCENARIO = ROOT / "tests" / "fixtures" / "reconcile" / "two_providers"
X12 = ROOT / "tests" / "fixtures" / "x12"
AS_OF = dt.date(2026, 9, 30)
OTHER_NPI = "1999999992"


def _post(api: Api, data: bytes, who: str, name: str = "up.835") -> tuple[int, dict[str, Any]]:
    r = api.client.post(f"/v1/files?filename={name}", content=data, headers=api.auth(who))
    return r.status_code, r.json()


def _refused(status: int, body: dict[str, Any]) -> None:
    assert status == 403, body
    assert body["code"] == "provider_mismatch"
    assert "id" not in body
    assert "duplicate" not in body
    assert "nothing was stored" in str(body["detail"])


def _counts(api: Api) -> tuple[int, int, int]:
    with api.gw.db.read() as s:
        return (
            s.execute(select(func.count()).select_from(InboundFile)).scalar_one(),
            s.execute(select(func.count()).select_from(RemittanceRow)).scalar_one(),
            s.execute(select(func.count()).select_from(ApiUpload)).scalar_one(),
        )


def _refusals(api: Api) -> list[tuple[str, str, object]]:
    with api.gw.db.read() as s:
        rows = s.execute(
            select(AuditEntry.actor, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == "upload_refused")
            .order_by(AuditEntry.seq)
        ).all()
    return [(r.actor, r.outcome, r.details) for r in rows]


def _credit(api: Api) -> Decimal:
    run_reconcile(api.gw.db, as_of=AS_OF, actor="pytest")
    with api.gw.db.read() as s:
        d = s.execute(select(Provider.id).where(Provider.key == f"npi:{PROVIDER_NPI}")).scalar_one()
        credits = [c for c in list_credits(s, provider_id=d) if c.cause == "duplicate_payment"]
    assert len(credits) == 1, credits
    return credits[0].amount


def test_other_providers_835_is_refused_and_ds_credit_is_unchanged(api: Api) -> None:
    """Attack: A's uploader key uploads an 835 whose payee is provider D, to inflate D's
    duplicate-payment credit. Refused 403 provider_mismatch, nothing stored or loaded, the
    refusal audited, and D's credit after reconcile is what D's own files make it."""
    for name in ("1.835", "2.835", "4.csv"):
        status, body = _post(api, (SCENARIO / name).read_bytes(), "uploader", name)
        assert status == 201, body
    api.process_queue()
    assert _credit(api) == Decimal("80.00")
    before = _counts(api)
    # a third payment of D's claim: same money, another ICN, trace and interchange
    forged = (
        (SCENARIO / "2.835")
        .read_bytes()
        .replace(b"000000132", b"000000199")
        .replace(b"TRACE132", b"TRACE199")
        .replace(b"*AP2*", b"*AP9*")
    )
    status, body = _post(api, forged, "other-uploader")
    _refused(status, body)
    detail = str(body["detail"])
    assert f"npi:{OTHER_NPI}" in detail
    assert "1 other provider" in detail
    assert PROVIDER_NPI not in detail  # D's identity is not echoed back
    assert _counts(api) == before
    refusals = _refusals(api)
    assert [(a, o) for a, o, _ in refusals] == [("apikey:test-other-uploader", "provider_mismatch")]
    assert isinstance(refusals[0][2], dict)
    assert refusals[0][2]["size"] == len(forged)
    with api.gw.db.read() as s:
        http = (
            s.execute(
                select(AuditEntry.outcome).where(
                    AuditEntry.actor == "apikey:test-other-uploader",
                    AuditEntry.action == "http POST /v1/files",
                )
            )
            .scalars()
            .all()
        )
    assert http == ["403"]  # one entry for the request, with the refusal
    api.process_queue()
    assert _credit(api) == Decimal("80.00")
    # the same bytes through an ops key (a clearinghouse) keep today's behaviour
    status, body = _post(api, forged, "ops")
    assert status == 201, body


def test_other_providers_837_is_refused(api: Api) -> None:
    """Attack: A's uploader key uploads an 837 whose billing provider (NM1*85) is D."""
    before = _counts(api)
    status, body = _post(api, make_837(41, npi=PROVIDER_NPI), "other-uploader", "c.837")
    _refused(status, body)
    assert "NM1 segment" in str(body["detail"])
    assert _counts(api) == before
    assert len(_refusals(api)) == 1
    # its own 837 is accepted
    status, body = _post(api, make_837(42, npi=OTHER_NPI), "other-uploader", "c.837")
    assert status == 201, body


def test_multi_provider_interchange_is_refused_whole(api: Api) -> None:
    """Attack: an uploader key of provider 6666666666 uploads an interchange whose third
    transaction pays provider 7777777777: refused whole, not even its own two are loaded."""
    with api.gw.db.write() as s:
        key = create_key(
            s, name="nevada", role=Role.UPLOADER, provider="6666666666", pepper=None, actor="pytest"
        ).key
    api.keys["nevada"] = key
    data = (X12 / "nevada_medicaid.txt").read_bytes()
    before = _counts(api)
    status, body = _post(api, data, "nevada")
    _refused(status, body)
    assert "1 of 3 transaction(s) name 1 other provider" in str(body["detail"])
    assert "7777777777" not in str(body["detail"])
    assert _counts(api) == before


def test_ledger_via_uploader_key_belongs_to_its_provider(api: Api) -> None:
    """Attack surface: a ledger carries no provider. Through an uploader key it is the key's
    provider's ledger (with several providers known it used to fail ledger_provider_unknown);
    the same bytes from another provider are that provider's own record, and neither learns
    of the other's."""
    for who, npi in (("ops", PROVIDER_NPI), ("ops", OTHER_NPI)):  # two providers known
        status, _ = _post(api, make_837(50 + len(npi) + int(npi[-1]), npi=npi), who, "c.837")
        assert status == 201
    ledger = (SCENARIO / "4.csv").read_bytes()
    status, mine = _post(api, ledger, "uploader", "ledger.csv")
    assert status == 201
    assert mine["duplicate"] is False
    assert mine["kind"] == "ledger"
    status, theirs = _post(api, ledger, "other-uploader", "ledger.csv")
    # A's copy: a record of its own, as if the bytes were new (no duplicate, no D's id)
    assert status == 201, theirs
    assert theirs["duplicate"] is False
    assert theirs["id"] != mine["id"]
    assert theirs["id"] > mine["id"]
    api.process_queue()
    with api.gw.db.read() as s:
        pid = {r[0]: r[1] for r in s.execute(select(Provider.key, Provider.id))}
        files = {r[0]: r[1] for r in s.execute(select(InboundFile.id, InboundFile.state))}
        entries = s.execute(
            select(LedgerEntry.file_id, LedgerEntry.provider_id, func.count()).group_by(
                LedgerEntry.file_id, LedgerEntry.provider_id
            )
        ).all()
        declared = {
            r[0]: r[1] for r in s.execute(select(LedgerImport.file_id, LedgerImport.provider_id))
        }
    assert files[mine["id"]] == files[theirs["id"]] == "processed"
    assert sorted(tuple(e) for e in entries) == sorted(
        [(mine["id"], pid[f"npi:{PROVIDER_NPI}"], 3), (theirs["id"], pid[f"npi:{OTHER_NPI}"], 3)]
    )
    assert declared == {
        mine["id"]: pid[f"npi:{PROVIDER_NPI}"],
        theirs["id"]: pid[f"npi:{OTHER_NPI}"],
    }
    for who, own, other in (("uploader", mine, theirs), ("other-uploader", theirs, mine)):
        assert api.client.get(f"/v1/files/{own['id']}", headers=api.auth(who)).status_code == 200
        r = api.client.get(f"/v1/files/{other['id']}", headers=api.auth(who))
        assert r.status_code == 404
        assert r.json()["code"] == "file_not_found"
        # again: a duplicate of its own record only
        status, body = _post(api, ledger, who, "again.csv")
        assert (status, body["id"], body["duplicate"]) == (200, own["id"], True)


def test_duplicate_of_another_providers_835_reveals_nothing(api: Api) -> None:
    """Attack: A re-posts D's exact stored 835 bytes to learn they are stored (today:
    ``duplicate: true`` with D's file id) and to be granted read access to D's file. The
    answer is the one any upload of D's file gets, stored or not, and D's file stays 404."""
    d_file = (SCENARIO / "1.835").read_bytes()
    status, body = _post(api, d_file, "uploader")
    assert status == 201
    fid = body["id"]
    never_stored = d_file.replace(b"000000131", b"000000177").replace(b"TRACE131", b"TRACE177")
    fresh_status, fresh = _post(api, never_stored, "other-uploader")
    for processed in (False, True):
        status, body = _post(api, d_file, "other-uploader")
        _refused(status, body)
        assert (status, body["detail"]) == (fresh_status, fresh["detail"])
        for path in (f"/v1/files/{fid}", f"/v1/files/{fid}/acks"):
            r = api.client.get(path, headers=api.auth("other-uploader"))
            assert r.status_code == 404
            assert r.json()["code"] == "file_not_found"
        listed = api.client.get("/v1/files", headers=api.auth("other-uploader")).json()
        assert listed["total"] == 0
        if not processed:
            api.process_queue()
    with api.gw.db.read() as s:
        grants = s.execute(
            select(func.count())
            .select_from(ApiUpload)
            .join(ApiKey, ApiKey.id == ApiUpload.api_key_id)
            .where(ApiKey.name == "test-other-uploader")
        ).scalar_one()
    assert grants == 0
    # D's own re-post is still a plain duplicate
    status, body = _post(api, d_file, "uploader")
    assert (status, body["id"], body["duplicate"]) == (200, fid, True)


def test_worker_quarantines_a_scoped_upload_of_another_provider(api: Api) -> None:
    """Attack: a file recorded as uploaded by A's key that names D got past the upload scan
    (registered here without the API). The worker quarantines it, located at D's N1*PE or
    NM1*85, and loads nothing; the same holds for a ledger declared for D but uploaded by A."""
    gw = api.gw
    ledger = (SCENARIO / "4.csv").read_bytes()
    with gw.db.write() as s:
        a_key = s.execute(
            select(ApiKey.id).where(ApiKey.name == "test-other-uploader")
        ).scalar_one()
    ids = {}
    for name, data in (
        ("r.835", (SCENARIO / "1.835").read_bytes()),
        ("c.837", make_837(61, npi=PROVIDER_NPI)),
        ("l.csv", ledger),
    ):
        res = accept_bytes(
            gw.db, gw.store, data, source="api:test-other-uploader", original_name=name
        )
        ids[name] = res.file_id
        with gw.db.write() as s:
            s.execute(
                insert(tbl(ApiUpload)).values(
                    file_id=res.file_id, api_key_id=a_key, uploaded_at=dt.datetime.now(dt.UTC)
                )
            )
            if name == "l.csv":
                s.execute(
                    insert(tbl(Provider)).values(
                        key=f"npi:{PROVIDER_NPI}", npi=PROVIDER_NPI, name=""
                    )
                )
                d = s.execute(
                    select(Provider.id).where(Provider.key == f"npi:{PROVIDER_NPI}")
                ).scalar_one()
                s.execute(
                    insert(tbl(LedgerImport)).values(
                        file_id=res.file_id, provider_id=d, declared_by="pytest"
                    )
                )
    stats = run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
    assert stats.failed == 3
    with gw.db.read() as s:
        rows = {r.id: r for r in s.execute(select(InboundFile)).scalars()}
        loaded = s.execute(select(func.count()).select_from(RemittanceRow)).scalar_one()
        entries = s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    assert (loaded, entries) == (0, 0)
    remit, claim, led = rows[ids["r.835"]], rows[ids["c.837"]], rows[ids["l.csv"]]
    for row in (remit, claim, led):
        assert (row.state, row.error_code, row.provider_id) == ("failed", "provider_mismatch", None)
        assert row.error_message is not None
        assert PROVIDER_NPI not in row.error_message
    assert remit.error_location == {
        "segment_number": 11,
        "segment_id": "N1",
        "transaction_control_number": "0001",
        "st_segment_number": 3,
    }
    assert claim.error_location is not None
    assert (claim.error_location["segment_id"], claim.error_location["segment_number"]) == (
        "NM1",
        8,
    )
    assert "1 of 1 transaction(s) name 1 other provider" in str(claim.error_message)
    assert led.error_location == {"line": 1}


def test_duplicate_interchange_never_names_another_providers_file(api: Api) -> None:
    """Attack: provider D's uploader re-sends an interchange identity (ISA sender, receiver,
    control number) that A's clearinghouse already sent, to learn A's file id from the
    quarantine reason. The reason says an earlier file holds it, never which."""
    from tests.integration.x12gen import make_835

    gw = api.gw
    status, first = _post(api, make_835(4242, npi=OTHER_NPI, seed=1), "ops", "a.835")
    assert status in (200, 201, 202), first
    run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
    status, mine = _post(api, make_835(4242, npi=PROVIDER_NPI, seed=2), "uploader", "d.835")
    assert status in (200, 201, 202), mine
    run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
    r = api.client.get(f"/v1/files/{mine['id']}", headers=api.auth("uploader"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["error_code"] == "duplicate_interchange", body
    assert "an earlier file" in body["error_message"]
    assert f"file {first['id']}" not in body["error_message"]
    assert set(body["error_location"]) == {"segment_number", "segment_id", "element"}
    assert (
        api.client.get(f"/v1/files/{first['id']}", headers=api.auth("uploader")).status_code == 404
    )
