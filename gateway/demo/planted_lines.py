"""The planted line-level scenarios of each demo month (16 to 20): a line-level ledger that
never charged one line, a split line, a payer-added line, a DRG claim with an uncharged line,
and a claim the ledger never heard of; each with its answer worked by hand.

Split from ``gateway.demo.planted`` (the claim-level scenarios 1 to 15), which runs these last.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.demo.calendar import days
from gateway.demo.clean import Planner, line_payment
from gateway.demo.model import (
    Adjudication,
    ExpectedLineVariance,
    Line,
    LinePayment,
    Posting,
    money,
)
from gateway.demo.payers import COMM_A, COMM_B, MEDICARE_A
from gateway.demo.scenario import Builder, post


def plant_lines(b: Builder, planner: Planner) -> None:
    """Real-world line shapes: a line-level ledger, a split line, a payer-added line, a DRG
    claim with an uncharged line, and a claim the ledger never heard of."""
    d = b.d
    # 16. Line-level ledger: the practice posted 99214 with its CPT, DOS and line control
    #     number but never the venipuncture. 837: 99214 220.00 (L1), 36415 15.00 (L2). 835:
    #     SVC 99214 220/125 CO-45 70 PR-3 25; SVC 36415 15/12 CO-45 3. The 36415 has no posted
    #     charge: its 12.00 is the payer's. 99214: 220 − 70 − (137 − 12) − 25 = 0.
    c = b.claim(
        "uncharged_line_level",
        "837P",
        d(3, 19),
        [("", "HC:99214", "220.00"), ("", "HC:36415", "15.00")],
        COMM_A,
        d(3, 21),
        charge_lines=[],
    )
    c.postings.append(Posting(d(3, 19), "C", money("220.00"), "", "CHG0319", c.lines[0]))
    post(c, d(3, 19), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_A, d(4, 11), [("150.00", [("3", "25.00")]), ("12.00", [])])
    post(c, d(4, 12), "IP", "137.00", COMM_A)
    b.credit(c, "overpayment", "12.00", COMM_A, d(4, 11), status="pending")
    b.out.variances.append(
        ExpectedLineVariance(c, COMM_A, "unposted_line", money("15.00"), money("12.00"))
    )

    # 17. The payer split one 3-unit 97110 line (90.00, 6R L1) into two SVC loops of 60 and
    #     30 with the same 6R. The line-level ledger posts 90.00 for L1: the group is charged.
    #     90 − (20 + 10) − 60 = 0: no credit, and no false "uncharged" half.
    c = b.claim(
        "split_line",
        "837P",
        d(3, 20),
        [("", "HC:97110", "90.00")],
        COMM_B,
        d(3, 21),
        charge_lines=[],
    )
    c.postings.append(Posting(d(3, 20), "C", money("90.00"), "", "CHG0320", c.lines[0]))
    whole = c.lines[0]
    parts = [
        Line(
            whole.number,
            whole.procedure,
            money(part),
            whole.service_date,
            whole.control,
            units=Decimal(units),
        )
        for part, units in (("60.00", 2), ("30.00", 1))
    ]
    c.adjudications.append(
        Adjudication(
            COMM_B,
            d(4, 10),
            "1",
            planner.icn(COMM_B, d(4, 10)),
            [
                line_payment(parts[0], money("40.00"), []),
                line_payment(parts[1], money("20.00"), []),
            ],
        )
    )
    post(c, d(4, 11), "IP", "60.00", COMM_B)

    # 18. The payer added a bundled venipuncture line (SVC 36415 0.00/0.00, no 6R) the
    #     practice never billed: it is not a charge to look for. 99213: 150 − 55 − 70 − 25 = 0.
    c = b.claim(
        "unbundled_line",
        "837P",
        d(3, 25),
        [("", "HC:99213", "150.00")],
        COMM_A,
        d(3, 28),
        charge_lines=[],
    )
    c.postings.append(Posting(d(3, 25), "C", money("150.00"), "", "CHG0325", c.lines[0]))
    post(c, d(3, 25), "PP", "25.00", reference="COPAY")
    added = Line(2, "HC:36415", money("0.00"), d(3, 25), "")
    c.adjudications.append(
        Adjudication(
            COMM_A,
            d(4, 16),
            "1",
            planner.icn(COMM_A, d(4, 16)),
            [
                line_payment(c.lines[0], money("95.00"), [("3", money("25.00"))]),
                LinePayment(added, money("0.00"), [], None, ("M15",)),
            ],
        )
    )
    post(c, d(4, 17), "IP", "70.00", COMM_A)

    # 19. A DRG inpatient stay: 0120 3,000, 0250 800, 0300 200 (the lab never posted: the
    #     ledger has 3,800). Medicare pays DRG 470 (MIA) 2,500, spread over the lines: 1,875
    #     (CO-45 900, PR-1 225), 500 (CO-45 240, PR-1 60), 125 (CO-45 60, PR-1 15); the patient
    #     paid the 300 deductible. A DRG claim is claim-priced: the uncharged 200 comes off the
    #     write-off, 3,800 − (1,200 − 200) − 2,500 − 300 = 0, no credit (the old model said
    #     200.00 owed to Medicare; a line-priced reading 125.00), and a charge_mismatch.
    c = b.claim(
        "drg_uncharged_line",
        "837I",
        d(3, 17),
        [("0120", "", "3000.00"), ("0250", "", "800.00"), ("0300", "", "200.00")],
        MEDICARE_A,
        d(3, 21),
        charge_lines=[1, 2],
    )
    c.facility = "11"
    spread = (("2100.00", "225.00"), ("560.00", "60.00"), ("140.00", "15.00"))
    c.adjudications.append(
        Adjudication(
            MEDICARE_A,
            d(5, 13),
            "1",
            planner.icn(MEDICARE_A, d(5, 13)),
            [
                line_payment(ln, money(allowed), [("1", money(pr))])
                for ln, (allowed, pr) in zip(c.lines, spread, strict=True)
            ],
            drg="470",
        )
    )
    post(c, d(5, 15), "IP", "2500.00", MEDICARE_A)
    post(c, d(5, 30), "PP", "300.00", reference="DEDUCT")
    b.out.variances.append(
        ExpectedLineVariance(c, MEDICARE_A, "charge_mismatch", money("200.00"), money("125.00"))
    )

    # 20. A claim the ledger never heard of (billed from another system): COMM_A paid 95.00
    #     (99203 185.00, CO-45 65, PR-3 25) on 1 April. At the checkpoint it is an exception
    #     (30 days of ledger lag end 1 May); by the final run its 95.00 — the payment, never
    #     the 160.00 of payment and write-off — is a pending credit for review.
    c = b.claim(
        "no_ledger",
        "837P",
        d(3, 10),
        [("", "HC:99203", "185.00")],
        COMM_A,
        d(3, 14),
        charge_lines=[],
    )
    b.adjudicate(c, COMM_A, d(4, 1), [("120.00", [("3", "25.00")])])
    # found once the 30 days of ledger lag after the 835 are over
    b.credit(c, "overpayment", "95.00", COMM_A, d(4, 1) + days(30), status="pending")


__all__ = ["plant_lines"]
