"""The accounting model on worked examples (numbers also used in docs/accounting.md)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D  # noqa: N817  short name keeps the tables readable

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reconcile import Adjudication, ClaimFacts, PayerRule, attribute, claim_balance, due_by

AS_OF = dt.date(2026, 9, 30)
DAY1 = dt.date(2026, 7, 1)
DAY2 = dt.date(2026, 7, 15)
DAY3 = dt.date(2026, 8, 1)


def rules(payer: str) -> PayerRule:
    if payer == "MCR":
        return PayerRule(programme="medicare_b", government=True, deadline_days=60)
    return PayerRule()


def adj(
    key: int,
    payer: str,
    status: str,
    paid: str,
    icn: str,
    day: dt.date,
    *cas: tuple[str, str, str],
    filing: str = "CI",
) -> Adjudication:
    return Adjudication(
        key, payer, status, D(paid), icn, day, filing, [(g, r, D(a)) for g, r, a in cas]
    )


def facts(*adjs: Adjudication, charges: str = "100.00", **kw: object) -> ClaimFacts:
    f = ClaimFacts(
        provider_id=1,
        account_id="A1",
        patient_control_number="PCN1",
        charges=D(charges),
        adjudications=list(adjs),
    )
    for k, v in kw.items():
        setattr(f, k, v)
    return f


def summary(f: ClaimFacts, as_of: dt.date = AS_OF) -> list[tuple[str, str | None, str, str]]:
    return [
        (r.cause, r.payer_id, str(r.amount), r.status)
        for r in attribute(f, as_of=as_of, rules=rules)
    ]


def test_clean_claim_has_no_credit() -> None:
    f = facts(
        adj(1, "P1", "1", "70.00", "ICN1", DAY1, ("CO", "45", "20.00"), ("PR", "2", "10.00")),
        patient_payments=D("10.00"),
    )
    assert claim_balance(f).balance == 0
    assert summary(f) == []


def test_duplicate_payment_is_owed_to_the_payer() -> None:
    f = facts(
        adj(1, "P1", "1", "80.00", "ICN1", DAY1, ("CO", "45", "20.00")),
        adj(2, "P1", "1", "80.00", "ICN2", DAY1, ("CO", "45", "20.00")),
    )
    assert summary(f) == [("duplicate_payment", "P1", "80.00", "open")]


def test_duplicate_followed_by_its_reversal_leaves_nothing() -> None:
    f = facts(
        adj(1, "P1", "1", "80.00", "ICN1", DAY1, ("CO", "45", "20.00")),
        adj(2, "P1", "1", "80.00", "ICN2", DAY2, ("CO", "45", "20.00")),
        adj(3, "P1", "22", "-80.00", "ICN2", DAY3, ("CO", "45", "-20.00")),
    )
    assert claim_balance(f).balance == 0
    assert summary(f) == []


def test_both_payers_paying_as_primary() -> None:
    f = facts(
        adj(1, "P1", "1", "80.00", "A", DAY1, ("CO", "45", "20.00")),
        adj(2, "P2", "1", "75.00", "B", DAY2, ("CO", "45", "25.00")),
    )
    cb = claim_balance(f)
    assert cb.wrongful_primaries == frozenset({"P2"})
    assert summary(f) == [("coordination_of_benefits", "P2", "75.00", "open")]


def test_secondary_paying_more_than_primary_patient_responsibility() -> None:
    f = facts(
        adj(1, "P1", "1", "120.00", "A", DAY1, ("CO", "45", "50.00"), ("PR", "1", "30.00")),
        adj(2, "P2", "2", "50.00", "B", DAY2, ("OA", "23", "150.00")),
        charges="200.00",
    )
    assert summary(f) == [("coordination_of_benefits", "P2", "20.00", "open")]


def test_patient_copay_paid_twice() -> None:
    f = facts(
        adj(1, "P1", "1", "70.00", "A", DAY1, ("CO", "45", "10.00"), ("PR", "3", "20.00")),
        patient_payments=D("40.00"),
    )
    assert summary(f) == [("patient_overpayment", None, "20.00", "open")]


def test_payer_overpaid_above_allowed() -> None:
    f = facts(adj(1, "P1", "1", "80.00", "A", DAY1, ("CO", "45", "30.00")))
    assert summary(f) == [("overpayment", "P1", "10.00", "open")]


def test_plb_recoupment_and_posted_refund_clear_the_credit() -> None:
    dup = (
        adj(1, "P1", "1", "80.00", "A", DAY1, ("CO", "45", "20.00")),
        adj(2, "P1", "1", "80.00", "B", DAY1, ("CO", "45", "20.00")),
    )
    assert summary(facts(*dup, recoupments={"P1": D("80.00")})) == []
    assert summary(facts(*dup, payer_refunds={"P1": D("80.00")})) == []


def test_medicare_credit_is_government_with_sixty_days() -> None:
    f = facts(
        adj(1, "MCR", "1", "80.00", "A", DAY1, ("CO", "45", "20.00"), filing="MB"),
        adj(2, "MCR", "1", "80.00", "B", DAY1, ("CO", "45", "20.00"), filing="MB"),
    )
    [row] = attribute(f, as_of=AS_OF, rules=rules)
    assert row.government
    assert row.deadline_days == 60
    assert due_by(AS_OF, row.deadline_days) == dt.date(2026, 11, 29)
    assert due_by(AS_OF, row.deadline_days, suspension_days=400) == dt.date(2027, 5, 28)


def test_filing_indicator_decides_without_a_profile() -> None:
    f = facts(
        adj(1, "X", "1", "80.00", "A", DAY1, filing="MC"),
        adj(2, "X", "1", "80.00", "B", DAY1, filing="MC"),
        charges="80.00",
    )
    [row] = attribute(f, as_of=AS_OF, rules=rules)
    assert row.government
    assert row.deadline_days == 60


def test_split_reversal_and_correction_is_pending_then_gone() -> None:
    original = adj(1, "P1", "1", "80.00", "A", DAY1, ("CO", "45", "20.00"))
    correction = adj(2, "P1", "1", "70.00", "A", DAY3, ("CO", "45", "30.00"))
    early = facts(original, correction)
    assert summary(early, as_of=DAY3 + dt.timedelta(days=5)) == [
        ("duplicate_payment", "P1", "80.00", "pending")
    ]
    reversal = adj(
        3, "P1", "22", "-80.00", "A", DAY3 + dt.timedelta(days=10), ("CO", "45", "-20.00")
    )
    assert summary(facts(original, correction, reversal)) == []
    # the reversal negates the original (80), not the correction that shares its CLP07
    cb = claim_balance(facts(original, correction, reversal))
    assert cb.effective["P1"].key == 2
    assert cb.balance == 0


def test_reversal_of_unknown_original_cancels_latest() -> None:
    a = adj(1, "P1", "1", "80.00", "A", DAY1, ("CO", "45", "20.00"))
    b = adj(2, "P1", "1", "80.00", "B", DAY2, ("CO", "45", "20.00"))
    r = adj(3, "P1", "22", "-80.00", "ZZZ", DAY3, ("CO", "45", "-20.00"))
    assert summary(facts(a, b, r)) == []


money = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    charges=money,
    paid=st.lists(money, min_size=1, max_size=3),
    co=money,
    pr=money,
    patient=money,
    statuses=st.lists(st.sampled_from(["1", "2", "3", "19", "4"]), min_size=3, max_size=3),
    payers=st.lists(st.sampled_from(["P1", "P2", "MCR"]), min_size=3, max_size=3),
)
def test_money_is_conserved_and_deterministic(
    charges: D, paid: list[D], co: D, pr: D, patient: D, statuses: list[str], payers: list[str]
) -> None:
    adjs = [
        adj(
            i,
            payers[i],
            statuses[i],
            str(p),
            f"ICN{i}",
            DAY1 + dt.timedelta(days=i),
            ("CO", "45", str(co)),
            ("PR", "1", str(pr)),
        )
        for i, p in enumerate(paid)
    ]
    f = facts(*adjs, charges=str(charges), patient_payments=patient)
    rows = attribute(f, as_of=AS_OF, rules=rules)
    cb = claim_balance(f)
    received = sum((max(n, D(0)) for n in cb.net_payments.values()), D(0)) + patient
    credit = -cb.balance if cb.balance < 0 else D(0)
    # Σ rows = C, except that a claim never owes back more than it received
    assert sum((r.amount for r in rows), D(0)) == min(credit, received)
    assert all(r.amount > 0 for r in rows)
    assert rows == attribute(f, as_of=AS_OF, rules=rules)
