"""Property tests of the money invariants over random claims with lines (docs/accounting.md).

For every claim the model may see (several payers, duplicates, reversals, split parts,
claim-level and line-level ledgers, charge reversals, uncharged and partly posted lines,
claim-priced and line-priced adjudications, recoupments and refunds):

- no payer is ever owed more than its net payment on the claim;
- no patient more than the patient's net payments;
- the claim's credits never exceed the payers' and the patient's net money together;
- every row is positive, and the answer is deterministic;
- a line the ledger never charged counts none of its write-off: on a line-priced claim, the
  credits are what they would be without that line, plus the payment made on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D  # noqa: N817  short name keeps the tables readable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reconcile.credit import net_payments, reconcile_claim
from gateway.reconcile.model import Adjudication, ClaimFacts, LedgerCharge, ServiceLine
from schemas.payer import PayerRule

AS_OF = dt.date(2026, 9, 30)
DAY = dt.date(2026, 7, 1)
cents = st.integers(min_value=0, max_value=50_000).map(lambda c: D(c) / 100)


def rules(payer: str) -> PayerRule:
    return (
        PayerRule(programme="medicare_b", government=True, deadline_days=60)
        if payer == "MCR"
        else PayerRule()
    )


@st.composite
def service_lines(draw: Any) -> list[ServiceLine]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        charge = draw(cents)
        allowed = min(draw(cents), charge)
        pr = min(draw(cents), allowed)
        paid = allowed - pr
        cas = [("CO", "45", charge - allowed)] + ([("PR", "2", pr)] if pr else [])
        ref = draw(st.sampled_from(["", f"L{i}", "L0"]))
        out.append(
            ServiceLine(
                ref,
                draw(st.sampled_from(["99213", "93000", "36415"])),
                "",
                DAY - dt.timedelta(days=draw(st.integers(0, 2))),
                charge,
                paid,
                tuple(cas),
                "HC:x",
            )
        )
    return out


@st.composite
def claims(draw: Any) -> ClaimFacts:
    billed = draw(service_lines())
    adjs: list[Adjudication] = []
    for key in range(draw(st.integers(0, 4))):
        payer = draw(st.sampled_from(["P1", "P2", "MCR"]))
        lines = [
            replace(ln, paid=ln.paid * draw(st.sampled_from([1, 1, 0])))
            for ln in billed
            if draw(st.booleans()) or len(billed) == 1
        ]
        claim_cas: list[tuple[str, str, D]] = []
        if draw(st.integers(0, 4)) == 0:
            claim_cas.append((draw(st.sampled_from(["CO", "PR", "OA"])), "45", draw(cents)))
        paid = sum((ln.paid for ln in lines), D(0))
        every = claim_cas + [a for ln in lines for a in ln.adjustments]
        status = draw(st.sampled_from(["1", "1", "2", "19", "22"]))
        sign = -1 if status == "22" else 1
        adjs.append(
            Adjudication(
                key,
                payer,
                status,
                sign * paid,
                f"ICN{draw(st.integers(0, 2))}",
                DAY + dt.timedelta(days=draw(st.integers(0, 60))),
                "12",
                [(g, r, sign * a) for g, r, a in every],
                charge=sum((ln.charge for ln in lines), D(0)),
                lines=lines,
                claim_adjustments=claim_cas,
                drg_code=draw(st.sampled_from(["", "", "470"])),
                split=draw(st.integers(0, 5)) == 0,
            )
        )
    posted: list[LedgerCharge] = []
    line_level = draw(st.booleans())
    for ln in billed:
        if draw(st.integers(0, 3)) == 0:
            continue  # never charged
        amount = ln.charge if draw(st.integers(0, 4)) else draw(cents)
        posted.append(
            LedgerCharge(
                amount,
                ln.line_ref if line_level else "",
                ln.code if line_level else "",
                "",
                ln.service_date if line_level else None,
            )
        )
    if posted and draw(st.integers(0, 5)) == 0:
        posted.append(replace(posted[0], amount=-posted[0].amount))  # a charge reversal
    patient = draw(cents)
    return ClaimFacts(
        provider_id=1,
        account_id="A",
        patient_control_number="C",
        charges=sum((c.amount for c in posted), D(0)),
        patient_payments=patient,
        patient_refunds=min(draw(cents), patient),
        provider_adjustments=draw(cents) / 10,
        recoupments={"P1": draw(cents)} if draw(st.booleans()) else {},
        payer_refunds={"P2": draw(cents)} if draw(st.booleans()) else {},
        adjudications=adjs,
        ledger_charges=posted,
        has_charge_rows=bool(posted),
    )


@settings(max_examples=400, deadline=None)
@given(f=claims())
def test_nobody_is_owed_more_than_they_paid(f: ClaimFacts) -> None:
    out = reconcile_claim(f, as_of=AS_OF, rules=rules)
    net = net_payments(f)
    patient = max(f.patient_payments - f.patient_refunds, D(0))
    owed: dict[str, D] = {}
    for r in out.credits:
        assert r.amount > 0
        who = r.payer_id if r.owed_to == "payer" else r.owed_to
        assert who is not None
        owed[who] = owed.get(who, D(0)) + r.amount
    for who, amount in owed.items():
        if who == "patient":
            assert amount <= patient
        elif who != "unknown":
            assert amount <= max(net.get(who, D(0)), D(0)), (who, amount, net)
    received = sum((max(n, D(0)) for n in net.values()), D(0)) + patient
    assert sum(owed.values(), D(0)) <= received
    assert reconcile_claim(f, as_of=AS_OF, rules=rules) == out


@settings(max_examples=200, deadline=None)
@given(lines=service_lines(), drop=st.integers(0, 3), patient=cents)
def test_an_uncharged_line_counts_none_of_its_write_off(
    lines: list[ServiceLine], drop: int, patient: D
) -> None:
    """Line-priced, line-level ledger: with line ``drop`` never posted, the payer is owed its
    payment on that line plus exactly what it would be owed on a claim without the line."""
    lines = [replace(ln, line_ref=f"L{i}") for i, ln in enumerate(lines)]
    drop %= len(lines)
    gone = lines[drop]
    if gone.charge <= 0:
        return

    def adjudication(kept: list[ServiceLine]) -> Adjudication:
        return Adjudication(
            1,
            "P1",
            "1",
            sum((ln.paid for ln in kept), D(0)),
            "ICN",
            DAY,
            "12",
            [a for ln in kept for a in ln.adjustments],
            charge=sum((ln.charge for ln in kept), D(0)),
            lines=kept,
        )

    rest = [ln for i, ln in enumerate(lines) if i != drop]
    posted = [LedgerCharge(ln.charge, ln.line_ref) for ln in rest]
    facts = ClaimFacts(
        1,
        "A",
        "C",
        charges=sum((c.amount for c in posted), D(0)),
        patient_payments=patient,
        adjudications=[adjudication(lines)],
        ledger_charges=posted,
        has_charge_rows=bool(posted),
    )
    without = replace(facts, adjudications=[adjudication(rest)] if rest else [])
    if not posted:
        return  # no posted charge at all is the ledger-lag rule, not this one

    def payer_total(f: ClaimFacts) -> D:
        return sum(
            (
                r.amount
                for r in reconcile_claim(f, as_of=AS_OF, rules=rules).credits
                if r.owed_to == "payer"
            ),
            D(0),
        )

    assert payer_total(facts) == min(gone.paid, facts.adjudications[0].paid) + payer_total(without)
