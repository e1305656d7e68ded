"""Medicare reporting rules (gateway.reconcile.medicare, credit._government, investigations).

Claims are the accounting model's own records; the numbers are the duplicate payment of the
worked examples (charges 100, paid 80 with CO-45 20, twice: 80.00 owed to the payer).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D  # noqa: N817  short name keeps the tables readable

import pytest

from gateway.reconcile import Adjudication, ClaimFacts, PayerRule, attribute, due_by
from gateway.reconcile.credit_rows import classify_rows
from gateway.reconcile.medicare import MedicareFacts, PayerLoop, claim_kind, medicare_part
from gateway.reconcile.model import CreditRow, ServiceLine
from gateway.reconcile.queries import CreditView, worklist_order
from gateway.resolve.case_views import CaseView, worklist_key
from gateway.resolve.workflow import investigation_days
from mappings.payers import PayerProfile, default_directory

AS_OF = dt.date(2026, 9, 30)
DAY1, DAY2 = dt.date(2026, 7, 1), dt.date(2026, 7, 15)
PROGRAMMES = {
    "MCRA01": "medicare_a",
    "MCRB01": "medicare_b",
    "SKMCD0": "medicaid",
    "ACME": "commercial",
    "MAPLAN": "medicare_advantage",
}


def rules(payer: str) -> PayerRule:
    programme = PROGRAMMES.get(payer)
    if programme is None:
        return PayerRule()
    return PayerProfile(payer_id=payer, name=payer, programme=programme).rule()


def duplicate(
    payer: str,
    *,
    filing: str = "",
    kind: str = "",
    facility: str = "",
    loops: tuple[PayerLoop, ...] = (),
    inpatient: bool = False,
    adjusted: str = "",
) -> ClaimFacts:
    adjs = [
        Adjudication(
            1,
            payer,
            "1",
            D("80.00"),
            "ICN1",
            DAY1,
            filing,
            [("CO", "45", D(20))],
            inpatient=inpatient,
        ),
        Adjudication(
            2,
            payer,
            "1",
            D("80.00"),
            "ICN2",
            DAY2,
            filing,
            [("CO", "45", D(20))],
            inpatient=inpatient,
        ),
    ]
    return ClaimFacts(
        provider_id=1,
        account_id="A1",
        patient_control_number="PCN1",
        charges=D("100.00"),
        adjudications=adjs,
        replacements=[(adjusted, DAY2 + dt.timedelta(days=1))] if adjusted else [],
        medicare=MedicareFacts(kind=kind, facility_code=facility, loops=loops),
    )


def credit(f: ClaimFacts) -> CreditRow:
    [row] = classify_rows(f, attribute(f, as_of=AS_OF, rules=rules), rules=rules)
    return row


def shape(row: CreditRow) -> tuple[object, ...]:
    return (
        row.government,
        row.deadline_days,
        row.claim_kind,
        row.medicare_part,
        row.medicare_verified,
        row.return_method,
    )


@pytest.mark.parametrize(
    ("facts", "want"),
    [
        # an institutional Medicare claim whose payer has no profile: Medicare by CLP06, reported
        (
            duplicate("MACX99", filing="MA", kind="837I", facility="11"),
            (True, 60, "837I", "A", False, "report"),
        ),
        # the same billed to the known Part A MAC: verified
        (
            duplicate("MCRA01", filing="MA", kind="837I", facility="11"),
            (True, 60, "837I", "A", True, "report"),
        ),
        # an outpatient bill (13x) to the MAC: Part B, still on the CMS-838
        (
            duplicate("MCRA01", filing="MA", kind="837I", facility="13"),
            (True, 60, "837I", "B", True, "report"),
        ),
        # professional Part B (837P to the Part B MAC): 60 days, refund form, never the CMS-838
        (duplicate("MCRB01", filing="MB", kind="837P"), (True, 60, "837P", "B", True, "refund")),
        # Medicare by CLP06 wins over a profile that says otherwise (and stays unverified)
        (duplicate("ACME", filing="MB", kind="837P"), (True, 60, "837P", "B", False, "refund")),
        # no CLP06: the SBR09 of the payer's own 837 loop (here the destination's 2000B)
        (
            duplicate(
                "MACX99", kind="837I", facility="11", loops=(PayerLoop("MACX99", "MA", True),)
            ),
            (True, 60, "837I", "A", False, "report"),
        ),
        # ... and not another payer's: the claim went to ACME with Medicare as a 2320 other payer
        (
            duplicate(
                "ACME",
                kind="837I",
                facility="11",
                loops=(PayerLoop("ACME", "CI", True), PayerLoop("MACX99", "MA", False)),
            ),
            (False, None, "837I", None, None, "refund"),
        ),
        # the Medicare other payer's own 2320 loop makes its money Medicare's
        (
            duplicate(
                "MACX99",
                kind="837I",
                facility="11",
                loops=(PayerLoop("ACME", "CI", True), PayerLoop("MACX99", "MA", False)),
            ),
            (True, 60, "837I", "A", False, "report"),
        ),
        # an 835 payer id the 837 does not use, on a claim with no other payer: the destination
        (
            duplicate("12301", kind="837I", facility="21", loops=(PayerLoop("MCR", "MA", True),)),
            (True, 60, "837I", "A", False, "report"),
        ),
        # no 837 loaded: an MIA (or a DRG, or revenue-code lines) on the 835: institutional
        (
            duplicate("MACX99", filing="MB", facility="13", inpatient=True),
            (True, 60, "837I", "B", False, "report"),
        ),
        (duplicate("MACX99", filing="MB"), (True, 60, "837P", "B", False, "refund")),
        # an adjustment claim (frequency 7/8, REF*F8 = the payer's ICN) already sent to the MAC
        (
            duplicate("MCRA01", filing="MA", kind="837I", facility="11", adjusted="ICN2"),
            (True, 60, "837I", "A", True, "claim_adjustment"),
        ),
        # not Medicare: Medicaid (60 days, a refund) and Medicare Advantage (no statutory rule)
        (
            duplicate("SKMCD0", filing="MC", kind="837I", facility="11"),
            (True, 60, "837I", None, None, "refund"),
        ),
        (duplicate("MAPLAN", filing="16", kind="837P"), (True, None, "837P", None, None, "refund")),
    ],
)
def test_medicare_standing_of_a_credit(facts: ClaimFacts, want: tuple[object, ...]) -> None:
    row = credit(facts)
    assert (row.cause, row.amount) == ("duplicate_payment", D("80.00"))
    assert shape(row) == want


def test_money_owed_to_nobody_known_on_a_medicare_claim_carries_its_part() -> None:
    adjs = [Adjudication(1, "MACX99", "1", D("80.00"), "ICN1", DAY1, "MA", [("CO", "45", D(20))])]
    f = ClaimFacts(
        provider_id=1,
        account_id="A1",
        patient_control_number="PCN1",
        charges=D("100.00"),
        provider_adjustments=D("15.00"),
        adjudications=adjs,
        medicare=MedicareFacts(kind="837I", facility_code="11"),
    )
    [row] = classify_rows(f, attribute(f, as_of=AS_OF, rules=rules), rules=rules)
    assert (row.owed_to, row.cause, row.amount) == ("unknown", "unexplained", D("15.00"))
    assert (row.government, row.medicare_part, row.return_method) == (True, "A", None)


def case(*, medicare_part: str | None, payer: str | None, owed_to: str = "payer") -> CaseView:
    return CaseView(
        case_id=1,
        credit_id=1,
        provider_id=1,
        provider_npi=None,
        state="open",
        method=None,
        reference=None,
        approved_by=None,
        account_id="A1",
        patient_control_number="PCN1",
        owed_to=owed_to,
        payer_id=payer,
        amount=D("80.00"),
        cause="duplicate_payment",
        government=True,
        identified_on=AS_OF,
        due_by=AS_OF + dt.timedelta(days=60),
        credit_status="open",
        investigation_opened_on=None,
        investigation_closed_on=None,
        medicare_part=medicare_part,
    )


def test_only_medicare_parts_a_and_b_get_the_180_day_suspension() -> None:
    payers = default_directory()
    assert investigation_days(case(medicare_part="A", payer="MACX99"), payers)[0] == 180
    assert investigation_days(case(medicare_part="B", payer="MCRB01"), payers)[0] == 180
    # the shipped Medicaid example sets no investigation_days: the deadline does not move
    days, why = investigation_days(case(medicare_part=None, payer="SKMCD0"), payers)
    assert days == 0
    assert "SKMCD0 (medicaid): no investigation suspension" in why
    assert investigation_days(case(medicare_part=None, payer="87726"), payers)[0] == 0
    assert (
        investigation_days(case(medicare_part=None, payer=None, owed_to="patient"), payers)[0] == 0
    )


def test_a_state_that_allows_an_investigation_sets_its_days() -> None:
    state = PayerProfile(
        payer_id="STATE1", name="State", programme="medicaid", investigation_days=90
    )
    assert state.investigation_suspension == 90
    assert state.rule().investigation_days == 90
    assert (
        PayerProfile(payer_id="M", name="M", programme="medicare_a").rule().investigation_days
        == 180
    )
    assert (
        PayerProfile(payer_id="C", name="C", programme="commercial").rule().investigation_days
        is None
    )


def test_due_by_caps_the_suspension_by_programme() -> None:
    assert due_by(AS_OF, 60, 45) == dt.date(2027, 1, 13)
    assert due_by(AS_OF, 60, 45, suspension_cap=0) == dt.date(2026, 11, 29)
    assert due_by(AS_OF, 60, 400, suspension_cap=90) == dt.date(2027, 2, 27)
    assert due_by(AS_OF, 60, 400, suspension_cap=999) == dt.date(2027, 5, 28)  # ≤ 180
    assert due_by(AS_OF, None, 45) is None


def test_worklists_put_government_credits_first_by_due_date() -> None:
    def view(n: int, government: bool, due: int | None) -> CreditView:
        return CreditView(
            id=n,
            provider_id=1,
            account_id="A",
            patient_control_number=f"P{n}",
            owed_to="payer",
            payer_id="X",
            amount=D("1.00"),
            cause="overpayment",
            government=government,
            identified_on=AS_OF,
            due_by=AS_OF + dt.timedelta(days=due) if due else None,
            status="open",
        )

    rows = [
        view(1, False, 5),
        view(2, True, 60),
        view(3, False, None),
        view(4, True, 30),
        view(5, True, None),
        view(6, False, 1),
    ]
    assert [r.id for r in sorted(rows, key=worklist_order)] == [4, 2, 5, 6, 1, 3]
    cases = [case(medicare_part=None, payer="X") for _ in range(2)]
    late_gov = cases[0].model_copy(update={"case_id": 1, "due_by": AS_OF + dt.timedelta(days=50)})
    soon_other = cases[1].model_copy(
        update={"case_id": 2, "government": False, "due_by": AS_OF + dt.timedelta(days=2)}
    )
    assert [c.case_id for c in sorted([soon_other, late_gov], key=worklist_key)] == [1, 2]


def test_revenue_code_lines_make_an_835_only_claim_institutional() -> None:
    line = ServiceLine("", "99283", "0450", DAY1, D("100.00"), D("80.00"))
    adj = Adjudication(1, "MACX99", "1", D("80.00"), "ICN1", DAY1, "MB", lines=[line])
    f = ClaimFacts(
        provider_id=1,
        account_id="A1",
        patient_control_number="PCN1",
        adjudications=[adj],
        medicare=MedicareFacts(facility_code="13"),
    )
    assert claim_kind(f, "MB", rules("MACX99")) == "837I"
    assert medicare_part(f, "837I", "MB", rules("MACX99")) == "B"
    professional = ClaimFacts(
        provider_id=1,
        account_id="A1",
        patient_control_number="PCN1",
        adjudications=[Adjudication(1, "MACX99", "1", D("80.00"), "I", DAY1, "MB")],
    )
    assert claim_kind(professional, "MB", rules("MACX99")) == "837P"
