"""Line-level reconciliation, worked by hand from the 835/837/ledger lines (docs/accounting.md).

Each test states the raw lines an analyst would read and the amounts that follow from them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D  # noqa: N817  short name keeps the tables readable

from gateway.reconcile.credit import reconcile_claim
from gateway.reconcile.model import (
    Adjudication,
    ClaimFacts,
    ClaimOutcome,
    LedgerCharge,
    ServiceLine,
)
from parsers.codes import procedure_code, revenue_code
from schemas.payer import PayerRule

DOS = dt.date(2025, 3, 12)
PAID_ON = dt.date(2025, 4, 3)
AS_OF = dt.date(2025, 4, 30)


def rules(payer: str) -> PayerRule:
    if payer == "MCA":
        return PayerRule(programme="medicare_a", government=True, deadline_days=60)
    return PayerRule()


def line(
    code: str,
    charge: str,
    paid: str,
    *cas: tuple[str, str, str],
    ref: str = "",
    rev: str = "",
    day: dt.date | None = DOS,
) -> ServiceLine:
    return ServiceLine(
        ref,
        code,
        rev,
        day,
        D(charge),
        D(paid),
        tuple((g, r, D(a)) for g, r, a in cas),
        f"HC:{code}",
    )


def adjudication(
    key: int,
    payer: str,
    *lines: ServiceLine,
    status: str = "1",
    day: dt.date = PAID_ON,
    icn: str = "ICN1",
    claim_cas: tuple[tuple[str, str, str], ...] = (),
    drg: str = "",
    inpatient: bool = False,
    split: bool = False,
    charge: str | None = None,
) -> Adjudication:
    claim_level = [(g, r, D(a)) for g, r, a in claim_cas]
    every = claim_level + [adj for x in lines for adj in x.adjustments]
    paid = sum((x.paid for x in lines), D(0))
    if charge is None:
        charge = str(sum((x.charge for x in lines), D(0)))
    if claim_cas:
        paid = D(charge) - sum((a for _, _, a in every), D(0))
    return Adjudication(
        key,
        payer,
        status,
        paid,
        icn,
        day,
        "CI",
        every,
        charge=D(charge),
        lines=list(lines),
        claim_adjustments=claim_level,
        drg_code=drg,
        inpatient=inpatient,
        split=split,
    )


def claim(
    *adjs: Adjudication, charges: list[LedgerCharge] | None = None, patient: str = "0", **kw: object
) -> ClaimFacts:
    posted = charges or []
    f = ClaimFacts(
        provider_id=1,
        account_id="A1",
        patient_control_number="PCN1",
        charges=sum((c.amount for c in posted), D(0)),
        adjudications=list(adjs),
        patient_payments=D(patient),
        ledger_charges=posted,
        has_charge_rows=bool(posted),
    )
    for k, v in kw.items():
        setattr(f, k, v)
    return f


def credits(out: ClaimOutcome) -> list[tuple[str, str | None, str, str, str | None]]:
    return [(r.cause, r.payer_id, str(r.amount), r.status, r.pending_reason) for r in out.credits]


def total(amount: str) -> list[LedgerCharge]:
    """A claim-level ledger: one charge row, no line columns."""
    return [LedgerCharge(D(amount))]


# The demo's "overpayment": 837P lines 99213 150.00 and 93000 75.00; the ledger posts 150.00.
# The 835: SVC 99213 150/75 with CO-45 50 and PR-3 25; SVC 93000 75/45 with CO-45 30.
# The patient paid the 25.00 copay. The payer paid 45.00 on a line that is not a charge: that
# 45.00 is its money. The 99213 line balances: 150 − 50 − 75 − 25 = 0. The 30.00 written off on
# 93000 is a write-off of nothing, so it is not counted. Old model: 150 − 80 − 120 − 25 = −75.
OVERPAID = (
    line("99213", "150.00", "75.00", ("CO", "45", "50.00"), ("PR", "3", "25.00")),
    line("93000", "75.00", "45.00", ("CO", "45", "30.00")),
)


def test_uncharged_line_with_claim_level_ledger_owes_only_its_payment() -> None:
    out = reconcile_claim(
        claim(adjudication(1, "P1", *OVERPAID), charges=total("150.00"), patient="25.00"),
        as_of=AS_OF,
        rules=rules,
    )
    assert credits(out) == [("overpayment", "P1", "45.00", "pending", "unposted_line")]
    (v,) = out.variances
    assert (v.kind, v.payer_id, v.charge, v.paid) == ("unposted_line", "P1", D("75.00"), D("45.00"))
    assert v.lines[0]["procedure"] == "HC:93000"
    assert v.lines[0]["service_date"] == "2025-03-12"


def test_uncharged_line_with_line_level_ledger() -> None:
    posted = [LedgerCharge(D("150.00"), code="99213", service_date=DOS)]
    out = reconcile_claim(
        claim(adjudication(1, "P1", *OVERPAID), charges=posted, patient="25.00"),
        as_of=AS_OF,
        rules=rules,
    )
    assert credits(out) == [("overpayment", "P1", "45.00", "pending", "unposted_line")]


def test_line_ref_match_wins_over_code() -> None:
    # Both lines carry REF*6R; the ledger posts line 1 by its line_ref with another code.
    a = adjudication(
        1,
        "P1",
        line("99213", "150.00", "75.00", ("CO", "45", "50.00"), ("PR", "3", "25.00"), ref="L1"),
        line("93000", "75.00", "45.00", ("CO", "45", "30.00"), ref="L2"),
    )
    posted = [LedgerCharge(D("150.00"), line_ref="L1", code="99999")]
    out = reconcile_claim(claim(a, charges=posted, patient="25.00"), as_of=AS_OF, rules=rules)
    assert credits(out) == [("overpayment", "P1", "45.00", "pending", "unposted_line")]
    assert [v.group_key for v in out.variances] == ["6R:L2"]


# The demo's "overpayment_government": 837I 0450/99284 1,250.00, 0320/71046 310.00,
# 0300/80053 140.00; the ledger posts 1,560.00. Medicare pays 416.00, 72.00 and 20.00
# (allowed 520/90/25, PR-2 coinsurance 104/18/5); the patient paid 127.00. The lab line's 20.00
# is Medicare's; the two charged lines: 1,560 − (730 + 220) − (416 + 72) − 127 = −5, which is
# the patient's 5.00 coinsurance on the lab line (PR of the charged lines is 122).
def test_government_uncharged_lab_line() -> None:
    a = adjudication(
        1,
        "MCA",
        line(
            "99284", "1250.00", "416.00", ("CO", "45", "730.00"), ("PR", "2", "104.00"), rev="0450"
        ),
        line("71046", "310.00", "72.00", ("CO", "45", "220.00"), ("PR", "2", "18.00"), rev="0320"),
        line("80053", "140.00", "20.00", ("CO", "45", "115.00"), ("PR", "2", "5.00"), rev="0300"),
    )
    out = reconcile_claim(
        claim(a, charges=total("1560.00"), patient="127.00"), as_of=AS_OF, rules=rules
    )
    assert credits(out) == [
        ("overpayment", "MCA", "20.00", "pending", "unposted_line"),
        ("patient_overpayment", None, "5.00", "pending", "unposted_line"),
    ]
    assert all(r.government and r.deadline_days == 60 for r in out.credits[:1])


def test_split_line_with_one_line_ref_is_one_group() -> None:
    # The payer split the 150.00 line into two SVC loops of 100 and 50, both REF*6R L1.
    a = adjudication(
        1,
        "P1",
        line("99213", "100.00", "50.00", ("CO", "45", "35.00"), ("PR", "3", "15.00"), ref="L1"),
        line("99213", "50.00", "25.00", ("CO", "45", "15.00"), ("PR", "3", "10.00"), ref="L1"),
    )
    out = reconcile_claim(
        claim(a, charges=total("150.00"), patient="25.00"), as_of=AS_OF, rules=rules
    )
    assert credits(out) == []
    assert out.variances == []


def test_unbundled_zero_charge_line_is_never_uncharged_alone() -> None:
    # SVC 36415 0.00/0.00 (bundled by the payer) has no ledger row: it is not a finding.
    a = adjudication(
        1,
        "P1",
        line("99213", "150.00", "75.00", ("CO", "45", "50.00"), ("PR", "3", "25.00")),
        line("36415", "0.00", "0.00"),
    )
    posted = [LedgerCharge(D("150.00"), code="99213", service_date=DOS)]
    out = reconcile_claim(claim(a, charges=posted, patient="25.00"), as_of=AS_OF, rules=rules)
    assert credits(out) == []
    assert out.variances == []


def test_ambiguous_shortfall_stays_at_claim_level() -> None:
    # Two 75.00 lines paid differently; 75.00 is missing from the ledger: which one?
    a = adjudication(
        1,
        "P1",
        line("99213", "150.00", "75.00", ("CO", "45", "50.00"), ("PR", "3", "25.00")),
        line("93000", "75.00", "45.00", ("CO", "45", "30.00")),
        line("93005", "75.00", "30.00", ("CO", "45", "45.00")),
    )
    out = reconcile_claim(
        claim(a, charges=total("225.00"), patient="25.00"), as_of=AS_OF, rules=rules
    )
    # claim level as today: 225 − 125 − 150 − 25 = −75, all of it for review
    assert credits(out) == [("unexplained", None, "75.00", "open", None)]
    assert [v.kind for v in out.variances] == ["charge_mismatch"]
    assert "more than one set" in out.variances[0].reason


def test_same_outcome_subsets_are_not_ambiguous() -> None:
    # Two identical 75.00 lines paid alike: whichever was not posted, the payer's 45 is owed.
    a = adjudication(
        1,
        "P1",
        line("93000", "75.00", "45.00", ("CO", "45", "30.00")),
        line("93005", "75.00", "45.00", ("CO", "45", "30.00")),
    )
    out = reconcile_claim(claim(a, charges=total("75.00")), as_of=AS_OF, rules=rules)
    assert credits(out) == [("overpayment", "P1", "45.00", "pending", "unposted_line")]


def test_no_subset_is_a_mismatch() -> None:
    a = adjudication(1, "P1", *OVERPAID)
    out = reconcile_claim(
        claim(a, charges=total("140.00"), patient="25.00"), as_of=AS_OF, rules=rules
    )
    assert out.variances[0].kind == "charge_mismatch"
    assert "no set" in out.variances[0].reason
    # 140 − 80 − 120 − 25 = −85 at claim level, for review, never attributed to the payer
    assert credits(out) == [("unexplained", None, "85.00", "open", None)]


def test_partially_posted_line_is_a_mismatch() -> None:
    posted = [
        LedgerCharge(D("150.00"), code="99213", service_date=DOS),
        LedgerCharge(D("50.00"), code="93000", service_date=DOS),
    ]
    out = reconcile_claim(
        claim(adjudication(1, "P1", *OVERPAID), charges=posted, patient="25.00"),
        as_of=AS_OF,
        rules=rules,
    )
    assert out.variances[0].kind == "charge_mismatch"
    assert "billed 75.00 but 50.00 is posted" in out.variances[0].reason


# A DRG inpatient claim (CLP11 470, MIA): revenue lines 0120 3,000, 0250 800, 0300 200; the
# ledger posts 3,800 (the lab line never). Medicare pays 2,500 with claim-level CO-45 1,200
# and PR-1 300 (4,000 − 1,200 − 300 = 2,500); the patient paid the 300 deductible. Counted W
# loses the 200 uncharged: 3,800 − 1,000 − 2,500 − 300 = 0. Old model: −200, a false credit.
def test_drg_claim_with_uncharged_line_creates_no_credit() -> None:
    a = adjudication(
        1,
        "MCA",
        line("", "3000.00", "0.00", rev="0120"),
        line("", "800.00", "0.00", rev="0250"),
        line("", "200.00", "0.00", rev="0300"),
        claim_cas=(("CO", "45", "1200.00"), ("PR", "1", "300.00")),
        drg="470",
        inpatient=True,
        charge="4000.00",
    )
    assert a.paid == D("2500.00")
    assert a.claim_priced
    out = reconcile_claim(
        claim(a, charges=total("3800.00"), patient="300.00"), as_of=AS_OF, rules=rules
    )
    assert credits(out) == []
    assert [(v.kind, v.charge) for v in out.variances] == [("charge_mismatch", D("200.00"))]


def test_drg_payment_above_charges_is_not_a_credit() -> None:
    # DRG pays 4,500 on 4,000 billed (CO-45 −500); the 200 lab line is not posted.
    a = adjudication(
        1,
        "MCA",
        line("", "3800.00", "0.00", rev="0120"),
        line("", "200.00", "0.00", rev="0300"),
        claim_cas=(("CO", "45", "-500.00"),),
        drg="470",
        charge="4000.00",
    )
    out = reconcile_claim(claim(a, charges=total("3800.00")), as_of=AS_OF, rules=rules)
    # the write-off cannot go below 0 for the missing 200, so 200 waits for an analyst and is
    # never owed to Medicare
    assert all(r.owed_to != "payer" for r in out.credits)


def test_payment_without_posted_charges_waits_then_owes_net_payment_only() -> None:
    # 835: CLP 125.00 paid with CO-45 70.00 (billed 195.00); the ledger has no charge for it.
    a = adjudication(1, "P1", line("99214", "195.00", "125.00", ("CO", "45", "70.00")))
    f = claim(a)
    early = reconcile_claim(f, as_of=PAID_ON + dt.timedelta(days=29), rules=rules)
    assert early.credits == []
    assert early.no_charges_until == PAID_ON + dt.timedelta(days=30)
    late = reconcile_claim(f, as_of=PAID_ON + dt.timedelta(days=30), rules=rules)
    # not 195.00: a refund is never larger than the payment
    assert credits(late) == [("overpayment", "P1", "125.00", "pending", "no_posted_charges")]


def test_split_claim_parts_are_not_duplicates() -> None:
    # MA15: the payer split the claim in two CLP loops with their own ICNs, each paying a line.
    one = adjudication(1, "P1", OVERPAID[0], icn="S1", split=True)
    two = adjudication(
        2, "P1", OVERPAID[1], icn="S2", split=True, day=PAID_ON + dt.timedelta(days=7)
    )
    out = reconcile_claim(
        claim(one, two, charges=total("225.00"), patient="25.00"), as_of=AS_OF, rules=rules
    )
    assert credits(out) == []


def test_disjoint_line_groups_are_parts_of_one_claim_without_ma15() -> None:
    one = adjudication(1, "P1", OVERPAID[0], icn="S1")
    two = adjudication(2, "P1", OVERPAID[1], icn="S2", day=PAID_ON + dt.timedelta(days=7))
    out = reconcile_claim(
        claim(one, two, charges=total("150.00"), patient="25.00"), as_of=AS_OF, rules=rules
    )
    # still parts of one claim; the second part's line was never posted: 45.00 owed back
    assert credits(out) == [("overpayment", "P1", "45.00", "pending", "unposted_line")]


def test_same_lines_paid_twice_is_a_duplicate() -> None:
    one = adjudication(1, "P1", *OVERPAID, icn="D1")
    two = adjudication(2, "P1", *OVERPAID, icn="D2", day=dt.date(2025, 3, 1))
    out = reconcile_claim(
        claim(one, two, charges=total("225.00"), patient="25.00"),
        as_of=PAID_ON + dt.timedelta(days=30),
        rules=rules,
    )
    assert credits(out) == [("duplicate_payment", "P1", "120.00", "open", None)]


def test_replacement_claim_holds_credits_until_reversal_or_window() -> None:
    one = adjudication(1, "P1", *OVERPAID, icn="D1", day=dt.date(2025, 3, 1))
    two = adjudication(2, "P1", *OVERPAID, icn="D2")
    sent = PAID_ON + dt.timedelta(days=5)
    f = claim(one, two, charges=total("225.00"), patient="25.00", replacements=[("D2", sent)])
    held = reconcile_claim(f, as_of=AS_OF, rules=rules)
    assert credits(held) == [("duplicate_payment", "P1", "120.00", "pending", "replacement_claim")]
    assert held.credits[0].pending_until == sent + dt.timedelta(days=30)
    after = reconcile_claim(f, as_of=sent + dt.timedelta(days=30), rules=rules)
    assert credits(after) == [("duplicate_payment", "P1", "120.00", "open", None)]


def test_analyst_decisions() -> None:
    f = claim(adjudication(1, "P1", *OVERPAID), charges=total("150.00"), patient="25.00")
    (v,) = reconcile_claim(f, as_of=AS_OF, rules=rules).variances
    f.line_decisions = {v.group_key: "billed_in_error"}
    confirmed = reconcile_claim(f, as_of=AS_OF, rules=rules)
    assert credits(confirmed) == [("overpayment", "P1", "45.00", "open", None)]
    assert len(confirmed.variances) == 1  # still listed, now answered
    f.line_decisions = {v.group_key: "missed"}
    assert reconcile_claim(f, as_of=AS_OF, rules=rules).credits == []


def test_recouped_payer_is_never_owed_more_than_it_kept() -> None:
    # The payer already recouped 100.00 of the 120.00 by PLB: at most 20.00 is still its money.
    f = claim(
        adjudication(1, "P1", *OVERPAID), charges=[], patient="0", recoupments={"P1": D("100.00")}
    )
    f.has_charge_rows = True
    f.charges = D("0")
    out = reconcile_claim(f, as_of=AS_OF, rules=rules)
    assert sum((r.amount for r in out.credits if r.payer_id == "P1"), D(0)) <= D("20.00")


def test_codes_are_spelled_one_way() -> None:
    assert procedure_code("HC:99213:25:59") == "99213"
    assert procedure_code("99213-25") == procedure_code("99213 25") == "99213"
    assert procedure_code(" hc:j1100 ") == "J1100"
    assert revenue_code("450") == revenue_code("NU:0450") == "0450"
