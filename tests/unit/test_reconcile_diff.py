"""The pure rules of a run's bookkeeping (``gateway.reconcile.diff``), with no database: how a
claim's credits and line variances are diffed against the stored rows, and the small
classifications beside them (issue 19 §4: split out of ``service``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from gateway.reconcile import diff
from gateway.reconcile.model import (
    Adjudication,
    ClaimFacts,
    ClaimOutcome,
    CreditRow,
    LineVariance,
)

DAY = dt.date(2026, 9, 30)
NOW = dt.datetime(2026, 9, 30, 12, 0, tzinfo=dt.UTC)
KEY = (7, "PCN1")


def _now() -> dt.datetime:
    return NOW


def _row(
    owed_to: str = "payer", payer: str | None = "ACME", amount: str = "10.00", **kw: Any
) -> CreditRow:
    values: dict[str, Any] = {
        "provider_id": KEY[0],
        "account_id": "A1",
        "patient_control_number": KEY[1],
        "owed_to": owed_to,
        "payer_id": payer,
        "amount": Decimal(amount),
        "cause": "duplicate_payment",
        "government": False,
        "status": "open",
        "deadline_days": 60,
    }
    values.update(kw)
    return CreditRow(**values)


def _facts(**kw: Any) -> ClaimFacts:
    values: dict[str, Any] = {"account_id": "A1", **kw}
    return ClaimFacts(provider_id=KEY[0], patient_control_number=KEY[1], **values)


def _stored(ident_id: int, **kw: Any) -> dict[str, Any]:
    row = {
        "id": ident_id,
        "identified_on": dt.date(2026, 8, 1),
        "basis": {"recouped": "0", "refunded": "0", "reversals": 0},
        "investigation_opened_on": None,
        "investigation_closed_on": None,
        "investigation_days": None,
    }
    row.update(kw)
    return row


def test_money_is_cents_as_a_two_place_decimal() -> None:
    assert diff.money(12345) == Decimal("123.45")
    assert str(diff.money(None)) == "0.00"
    assert diff.money(-5) == Decimal("-0.05")


def test_merge_sums_rows_of_one_identity() -> None:
    merged = diff.merge([_row(amount="10.00"), _row(amount="2.50"), _row(payer="BETA")])
    assert merged[("payer", "ACME", "duplicate_payment")].amount == Decimal("12.50")
    assert merged[("payer", "BETA", "duplicate_payment")].amount == Decimal("10.00")
    patient = diff.merge([_row(owed_to="patient", payer=None)])
    assert list(patient) == [("patient", "", "duplicate_payment")]


def test_a_new_identity_is_inserted_with_its_deadline_from_today() -> None:
    rows = diff.merge([_row()])
    inserts, updates, resolves = diff.credit_changes(KEY, _facts(), rows, {}, DAY, 3, _now)
    assert (updates, resolves) == ([], [])
    [ins] = inserts
    assert ins["identified_on"] == DAY
    assert ins["due_by"] == DAY + dt.timedelta(days=60)
    assert ins["amount"] == Decimal("10.00")
    assert ins["account_id"] == "A1"
    assert ins["basis"] == {"recouped": "0", "refunded": "0", "reversals": 0}
    assert (ins["first_run_id"], ins["last_run_id"], ins["updated_at"]) == (3, 3, NOW)
    assert ins["return_method"] is None


def test_a_persisting_identity_keeps_its_first_day_and_its_investigation_suspends() -> None:
    ident = ("payer", "ACME", "duplicate_payment")
    opened = _stored(
        11,
        investigation_opened_on=dt.date(2026, 8, 10),
        investigation_closed_on=dt.date(2026, 8, 30),
        investigation_days=180,
    )
    inserts, updates, resolves = diff.credit_changes(
        KEY, _facts(account_id=""), diff.merge([_row(amount="7.00")]), {ident: opened}, DAY, 4, _now
    )
    assert (inserts, resolves) == ([], [])
    [upd] = updates
    assert upd["b_id"] == 11
    assert upd["amount"] == Decimal("7.00")
    assert upd["account_id"] is None
    # 2026-08-01 + 60 days + 20 days of investigation
    assert upd["due_by"] == dt.date(2026, 10, 20)
    assert upd["last_run_id"] == 4
    assert "identified_on" not in upd


def test_a_vanished_identity_is_resolved_by_what_changed() -> None:
    ident = ("payer", "ACME", "duplicate_payment")
    refunded = _facts(payer_refunds={"ACME": Decimal("10.00")})
    _, _, [res] = diff.credit_changes(KEY, refunded, {}, {ident: _stored(5)}, DAY, 9, _now)
    assert res == {
        "b_id": 5,
        "status": "resolved",
        "resolved_on": DAY,
        "resolution": "refund_posted",
        "pending_reason": None,
        "last_run_id": 9,
        "updated_at": NOW,
    }
    _, _, [res] = diff.credit_changes(KEY, _facts(), {}, {ident: _stored(5)}, DAY, 9, _now)
    assert res["resolution"] == "balance_changed"


def test_resolution_prefers_recoupment_then_refund_then_reversal() -> None:
    before = {"recouped": "0", "refunded": "0", "reversals": 0}
    assert diff.resolution(before, {"recouped": "1", "refunded": "1", "reversals": 1}) == (
        "recouped_by_plb"
    )
    assert diff.resolution(before, {"recouped": "0", "refunded": "1", "reversals": 1}) == (
        "refund_posted"
    )
    assert diff.resolution(None, {"recouped": "0", "refunded": "0", "reversals": 1}) == (
        "reversal_arrived"
    )
    assert diff.resolution(before, before) == "balance_changed"


def test_basis_per_owner() -> None:
    reversal = Adjudication(
        key=1,
        payer_id="ACME",
        status_code="22",
        paid=Decimal("-5"),
        payer_claim_control_number="X",
        remittance_date=DAY,
    )
    f = _facts(
        recoupments={"ACME": Decimal("3.00")},
        payer_refunds={"BETA": Decimal("2.00")},
        patient_refunds=Decimal("1.50"),
        adjudications=[reversal],
    )
    assert diff.basis(f, "payer", "ACME") == {"recouped": "3.00", "refunded": "0", "reversals": 1}
    assert diff.basis(f, "patient", "") == {"recouped": "0", "refunded": "1.50", "reversals": 0}
    assert diff.basis(f, "unknown", "") == {
        "recouped": "3.00",
        "refunded": "3.50",
        "reversals": 1,
    }


def test_suspension_is_capped() -> None:
    assert diff.suspension(_stored(1), DAY) == 0
    open_long = _stored(1, investigation_opened_on=dt.date(2026, 1, 1))
    assert diff.suspension(open_long, DAY) == 180  # recorded before the column: 180
    assert diff.suspension({**open_long, "investigation_days": 30}, DAY) == 30
    assert diff.suspension({**open_long, "investigation_days": 0}, DAY) == 0
    backwards = _stored(
        1,
        investigation_opened_on=dt.date(2026, 9, 1),
        investigation_closed_on=dt.date(2026, 8, 1),
    )
    assert diff.suspension(backwards, DAY) == 0


def test_classify_variance() -> None:
    assert diff.classify_variance(0, 0, 500) == "unposted_payment"
    assert diff.classify_variance(500, 1, 0) == "posted_without_remittance"
    assert diff.classify_variance(1000, 2, 500) == "posted_twice"
    assert diff.classify_variance(400, 1, 500) == "wrong_amount"
    assert diff.classify_variance(900, 2, 500) == "wrong_amount"


def test_ledger_fact_counts_what_the_balance_counts() -> None:
    f = _facts(account_id="")
    for kind, party, payer, amount in (
        ("charge", "provider", "", "100.00"),
        ("payment", "patient", "", "20.00"),
        ("refund", "patient", "", "5.00"),
        ("adjustment", "provider", "", "3.00"),
        ("adjustment", "payer", "ACME", "40.00"),  # a posting of the 835: not counted
        ("payment", "payer", "ACME", "60.00"),  # likewise
        ("refund", "payer", "ACME", "7.00"),
    ):
        diff.ledger_fact(f, "B2", kind, party, payer, Decimal(amount))
    diff.ledger_fact(f, "B1", "charge", "provider", "", Decimal("1.00"))
    diff.ledger_fact(f, "", "charge", "provider", "", Decimal("1.00"))
    assert f.account_id == "B1"  # the smallest non-empty account
    assert f.charges == Decimal("102.00")
    assert (f.patient_payments, f.patient_refunds) == (Decimal("20.00"), Decimal("5.00"))
    assert f.provider_adjustments == Decimal("3.00")
    assert f.payer_refunds == {"ACME": Decimal("7.00")}


def test_wait_row_only_for_a_waiting_claim() -> None:
    waiting = ClaimOutcome(
        [], [], no_charges_until=DAY, waiting=("ACME", Decimal("9.00"), dt.date(2026, 9, 1))
    )
    assert diff.wait_row(KEY, waiting) == {
        "provider_id": 7,
        "patient_control_number": "PCN1",
        "until": DAY,
        "payer_id": "ACME",
        "amount": Decimal("9.00"),
        "since": dt.date(2026, 9, 1),
    }
    assert diff.wait_row(KEY, ClaimOutcome([], [])) is None


def test_line_variances_new_persisting_and_vanished() -> None:
    found = {
        KEY: [
            LineVariance("unposted_line", "ACME", "g1", "x" * 2100, charge=Decimal("5")),
            LineVariance("unposted_line", "ACME", "g2", "answered"),
        ]
    }
    stored = {
        (7, "PCN1", "ACME", "unposted_line", "g2"): SimpleNamespace(
            id=2, status="resolved", resolution="missed"
        ),
        (7, "PCN1", "ACME", "unposted_line", "g3"): SimpleNamespace(
            id=3, status="open", resolution=None
        ),
        (7, "PCN1", "ACME", "charge_mismatch", ""): SimpleNamespace(
            id=4, status="cleared", resolution=None
        ),
    }
    inserts, updates = diff.line_variance_changes(found, {KEY: "A1"}, stored, DAY, 8)
    [new] = inserts
    assert (new["group_key"], new["status"], new["detected_on"]) == ("g1", "open", DAY)
    assert len(new["reason"]) == 2000
    assert new["account_id"] == "A1"
    by_id = {u["b_id"]: u for u in updates}
    assert by_id[2]["status"] == "resolved"  # the analyst's answer is kept
    assert by_id[3] == {"b_id": 3, "status": "cleared", "run_id": 8}
    assert 4 not in by_id  # already cleared: untouched


def test_by_columns_groups_rows_by_their_keys() -> None:
    rows: list[dict[str, Any]] = [
        {"b_id": 1, "a": 1},
        {"b_id": 2, "status": "x"},
        {"a": 3, "b_id": 4},
    ]
    groups = diff.by_columns(rows)
    assert sorted(len(g) for g in groups) == [1, 2]
