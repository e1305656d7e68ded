"""Case workflow rules on SQLite and PostgreSQL: transitions, reversals, audit, investigation,
MAC batch limits, MSP separation, cancellation, disputes and escheat."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import insert, select

from gateway.db.models import AuditEntry, Provider
from gateway.db.types import tbl
from gateway.errors import InputError
from gateway.reconcile import run_reconcile
from gateway.reconcile.refunds import validate_file
from gateway.reconcile.tables import Credit
from gateway.resolve import case_sync, case_views
from gateway.resolve import workflow as wf
from gateway.resolve.batches.delivery import cancel_batch
from gateway.resolve.batches.issue import create_batches
from gateway.resolve.batches.records import batch_content
from gateway.resolve.reports import escheat_report, mark_escheat
from mappings.escheat import EscheatRules
from mappings.payers import load_directory
from tests.integration.helpers import Gateway, ingest

HERE = Path(__file__).resolve().parents[1] / "fixtures"
PAYERS = load_directory(HERE / "resolution" / "payers")
DAY = dt.date(2026, 9, 30)


def _credits(gw: Gateway, specs: list[tuple[str, str, str, str]]) -> list[int]:
    """Insert a provider and credits (pcn, owed_to, payer, cause) of 10.00 each."""
    with gw.db.write() as s:
        pid = s.execute(
            insert(tbl(Provider))
            .values(key="1234567893", npi="1234567893", tin="123456789", name="Good Clinic")
            .returning(tbl(Provider).c.id)
        ).scalar_one()
        ids = []
        for pcn, owed, payer, cause in specs:
            gov = payer == "MCRB01"
            ids.append(
                s.execute(
                    insert(tbl(Credit))
                    .values(
                        provider_id=pid,
                        account_id=f"A-{pcn}",
                        patient_control_number=pcn,
                        owed_to=owed,
                        payer_id=payer,
                        cause=cause,
                        amount=Decimal("10.00"),
                        government=gov,
                        deadline_days=60 if gov else None,
                        identified_on=DAY,
                        due_by=DAY + dt.timedelta(days=60) if gov else None,
                        status="open",
                        first_run_id=0,
                        last_run_id=0,
                    )
                    .returning(tbl(Credit).c.id)
                ).scalar_one()
            )
        case_sync.sync_cases(s)
    return ids


def test_transitions_are_checked_audited_and_reversible(gw: Gateway) -> None:
    [mcr, pat] = _credits(
        gw,
        [
            ("M1", "payer", "MCRB01", "duplicate_payment"),
            ("P1", "patient", "", "patient_overpayment"),
        ],
    )
    with gw.db.write() as s:
        with pytest.raises(InputError, match="reason"):
            wf.approve(s, mcr, actor="bob", reason="", payers=PAYERS)
        case = wf.approve(s, mcr, actor="bob", reason="checked the 835", payers=PAYERS)
        assert (case.state, case.method, case.approved_by) == ("approved", "refund", "bob")
        wf.transition(s, mcr, "refund_sent", actor="bob", reason="check 5521 mailed")
        with pytest.raises(wf.InvalidTransitionError, match="cannot become disputed") as err:
            wf.dispute(s, mcr, actor="bob", reason="not ours")
        assert err.value.code == "invalid_transition"
        # reversals are new audited transitions, never edits
        wf.transition(s, mcr, "approved", actor="carol", reason="check 5521 voided")
        wf.reopen(s, mcr, actor="carol", reason="wrong MAC; decide again")
    with gw.db.write() as s:
        case = case_views.get_case(s, mcr)
        assert [(t.from_state, t.to_state, t.actor) for t in case.history] == [
            (None, "open", "reconcile"),
            ("open", "approved", "bob"),
            ("approved", "refund_sent", "bob"),
            ("refund_sent", "approved", "carol"),
            ("approved", "open", "carol"),
        ]
        assert (case.state, case.method, case.approved_by) == ("open", None, None)
        # investigation suspends the deadline (≤ 180 days) and is recorded in the history
        before = case_views.get_case(s, pat)
        assert before.due_by is None
        inv = wf.investigate(
            s,
            mcr,
            actor="bob",
            reason="MSP questionnaire pending",
            opened_on=DAY,
            closed_on=DAY + dt.timedelta(days=45),
        )
        assert inv.due_by == DAY + dt.timedelta(days=60 + 45)
        assert inv.history[-1].details is not None
        assert inv.history[-1].details["investigation_opened_on"] == DAY.isoformat()
        long = wf.investigate(
            s,
            mcr,
            actor="bob",
            reason="extended",
            opened_on=DAY,
            closed_on=DAY + dt.timedelta(days=400),
        )
        assert long.due_by == DAY + dt.timedelta(days=60 + 180)
        # the unknown owner cannot be refunded: a typed error
        with pytest.raises(wf.ResolutionError):
            wf.resolution_method(_unknown(case_views.get_case(s, pat)), PAYERS)
        audited = [r.action for r in s.execute(select(AuditEntry.action))]
    assert "case_approved" in audited
    assert "case_open" in audited
    assert "case_note" in audited


def _unknown(case: case_views.CaseView) -> case_views.CaseView:
    return case.model_copy(update={"owed_to": "unknown"})


def test_mac_twenty_icns_per_check_and_msp_apart(gw: Gateway) -> None:
    specs = [(f"D{i:02d}", "payer", "MCRB01", "duplicate_payment") for i in range(23)]
    specs += [(f"C{i:02d}", "payer", "MCRB01", "coordination_of_benefits") for i in range(22)]
    ids = _credits(gw, specs)
    with gw.db.write() as s:
        for cid in ids:
            wf.approve(s, cid, actor="bob", reason="verified", payers=PAYERS)
        res = create_batches(s, as_of=DAY, actor="bob", payers=PAYERS)
    assert res.problems == []
    shape = sorted((b.msp, b.record_count) for b in res.batches)
    assert shape == [(False, 3), (False, 20), (True, 2), (True, 20)]
    assert sum(b.amount for b in res.batches) == Decimal("450.00")
    assert len({c for b in res.batches for c in b.credit_ids}) == 45
    with gw.db.write() as s:
        assert create_batches(s, as_of=DAY, actor="bob", payers=PAYERS).batches == []
        msp = next(b for b in res.batches if b.msp and b.record_count == 2)
        files = batch_content(s, msp.id)
        letter = next(v for k, v in files.items() if k.endswith(".pdf"))
        text = PdfReader(io.BytesIO(letter)).pages[0].extract_text()
        assert "Medicare Secondary Payer" in text
        # cancelling puts the cases back to approved (audited); re-running issues them again
        cancel_batch(s, msp.id, actor="bob", reason="wrong check number")
        assert {case_views.get_case(s, c).state for c in msp.credit_ids} == {"approved"}
        again = create_batches(s, as_of=DAY, actor="bob", payers=PAYERS)
        assert [sorted(b.credit_ids) for b in again.batches] == [sorted(msp.credit_ids)]


def test_disputes_from_payer_refund_requests(gw: Gateway) -> None:
    folder = HERE / "reconcile" / "refund_requests"
    for name in ("1.835", "2.835", "3.835", "4.csv"):
        assert ingest(gw, (folder / name).read_bytes(), name).state == "processed"
    run_reconcile(gw.db, as_of=DAY, payers=PAYERS)
    assert ingest(gw, (folder / "5.835").read_bytes(), "5.835").state == "processed"
    run_reconcile(gw.db, as_of=dt.date(2026, 10, 20), payers=PAYERS)
    verdicts = validate_file(
        gw.db, (folder / "requests.csv").read_bytes(), name="requests.csv", payers=PAYERS
    )
    assert [v.verdict for v in verdicts].count("valid") == 1
    with gw.db.write() as s:
        res = create_batches(s, as_of=dt.date(2026, 10, 22), actor="bob", payers=PAYERS)
        disputes = {b.payer_id: b for b in res.batches if b.kind == "dispute"}
        assert sorted(disputes) == ["ACME01", "BETA02"]
        acme = batch_content(s, disputes["ACME01"].id)
        again = create_batches(s, as_of=dt.date(2026, 10, 22), actor="bob", payers=PAYERS)
    assert [b for b in again.batches if b.kind == "dispute"] == []
    data = acme[f"DISPUTE_ACME01_1234567893_{disputes['ACME01'].batch_key}.csv"].decode()
    lines = data.splitlines()
    assert lines[1].startswith("OR-1001,RR-DUP,QP2,100.00,80.00,20.00,partially_valid")
    assert lines[-1] == "#TOTAL,4,,,,230.00,,"
    text = (
        PdfReader(io.BytesIO(next(v for k, v in acme.items() if k.endswith(".pdf"))))
        .pages[0]
        .extract_text()
    )
    for needle in (
        "Dispute of Overpayment Refund Request",
        "RR-REC",
        "already recouped",
        "NO-SUCH-CLAIM",
        "no record of this claim",
        "230.00",
    ):
        assert needle in text, needle


def test_patient_credit_escheats_after_dormancy(gw: Gateway) -> None:
    [pat, _] = _credits(
        gw,
        [
            ("P1", "patient", "", "patient_overpayment"),
            ("M1", "payer", "MCRB01", "duplicate_payment"),
        ],
    )
    rules = EscheatRules.model_validate(
        {"default_state": "PA", "states": {"PA": {"dormancy_days": 1095}}}
    )
    with gw.db.write() as s:
        assert mark_escheat(s, as_of=DAY + dt.timedelta(days=1094), rules=rules, actor="bob") == []
        moved = mark_escheat(s, as_of=DAY + dt.timedelta(days=1095), rules=rules, actor="bob")
        assert [c.credit_id for c in moved] == [pat]
        assert case_views.get_case(s, pat).state == "escheat_pending"
        [report] = escheat_report(s, as_of=DAY + dt.timedelta(days=1095), rules=rules)
    assert report.filename == "ESCHEAT_1234567893_20290929.csv"
    assert (
        report.content.decode()
        .splitlines()[1]
        .startswith("PA,A-P1,P1,2026-09-30,2026-09-30,1095,10.00")
    )


def test_every_layout_a_shipped_payer_profile_names_exists() -> None:
    from mappings.outbound_layouts import get_layout
    from mappings.payers import default_directory

    for p in default_directory().profiles:
        if p.outbound.refund_layout:
            assert get_layout(p.outbound.refund_layout, document="refund_transmittal")
        if p.outbound.offset_layout:
            assert get_layout(p.outbound.offset_layout, document="offset")
