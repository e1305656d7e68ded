"""The planted credit balances and the other traps of each demo month, with their answers.

Each scenario fixes its own amounts and dates and states the credit rows it creates (cause,
party owed, amount, government, status, identification date): the answer file is this list,
written down when the scenario is designed, not computed by the reconciliation rules.

Besides the scenarios below, the clearinghouse re-delivers two payment runs
(``render_835.RESENDS``: the whole ERA again with new ISA13/GS06/ST02 and the same TRN, and a
re-cut carrying one of its claims): they are resends, not second payments, so they add no row
to the answers.

The first month's scenarios are dated in March 2025; month ``k`` of the half-year plays the
same scenarios ``calendar.shift(k)`` later (whole weeks), on new patients and claims.

Each credit says the day it can first be seen (``found``: the last file it needs, or the end of
a waiting period the scenario states), and the answer's identification date is the first
reconciliation of the schedule (``calendar.schedule``) on or after that day: a run sees every
file dated up to its as-of date, and a credit first found keeps that date. With one month the
runs are ``CHECKPOINT`` and ``AS_OF``; with six, each month's checkpoint and a final run, so a
month's credits may be found by an earlier month's checkpoint. The two ``resolved`` credits are
found before they are undone (a PLB recoupment; a refund the practice posted); the held
correction is ``pending`` only while the final run is inside its hold window.

This module holds the claim-level scenarios (1 to 15); the line-level ones are
``gateway.demo.planted_lines``, the tools they are written with ``gateway.demo.scenario``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from gateway.demo.calendar import AS_OF, CHECKPOINT, days
from gateway.demo.clean import Planner
from gateway.demo.model import (
    Adjudication,
    DemoClaim,
    ExpectedLineVariance,
    ExpectedVariance,
    LinePayment,
    PlbEntry,
    Submission,
    money,
)
from gateway.demo.payers import COMM_A, COMM_B, MEDICAID, MEDICARE_A, MEDICARE_B
from gateway.demo.planted_lines import plant_lines
from gateway.demo.scenario import Builder, Planted, Pricing, post
from schemas.remittance import Adjustment


def plant(
    planner: Planner,
    extra_clean: Callable[[DemoClaim], None],
    month: int = 0,
    runs: tuple[dt.date, ...] = (CHECKPOINT, AS_OF),
) -> Planted:
    """Every planted scenario of month ``month`` (0 = the first), answered for the
    reconciliations ``runs``; ``extra_clean`` adds an ordinary claim for the same patient."""
    out = Planted()
    b = Builder(planner, out, month, runs)
    d = b.d
    em_new = ("", "HC:99204", "300.00")
    em3 = ("", "HC:99213", "150.00")
    em4 = ("", "HC:99214", "220.00")

    # 1. Commercial duplicate payment: the payer paid the claim in two weekly runs.
    c = b.claim("duplicate_payment", "837P", d(3, 3), [em4], COMM_A, d(3, 7))
    post(c, d(3, 3), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_A, d(3, 19), [("150.00", [("3", "25.00")])])
    b.adjudicate(c, COMM_A, d(3, 26), [("150.00", [("3", "25.00")])])
    post(c, d(3, 20), "IP", "125.00", COMM_A)
    post(c, d(3, 27), "IP", "125.00", COMM_A)
    b.credit(c, "duplicate_payment", "125.00", COMM_A, d(3, 26))  # the second 835
    extra_clean(c)  # a second, ordinary claim on the same account

    # 2. Medicare Part B duplicate payment, weeks apart (found at the final run).
    c = b.claim(
        "duplicate_payment_government",
        "837P",
        d(3, 10),
        [em3, ("", "HC:36415", "15.00")],
        MEDICARE_B,
        d(3, 14),
    )
    pricing: Pricing = [("92.00", [("2", "18.40")]), ("3.00", [("2", "0.60")])]
    b.adjudicate(c, MEDICARE_B, d(4, 1), pricing)
    post(c, d(4, 3), "IP", "76.00", MEDICARE_B)
    post(c, d(4, 20), "PP", "19.00")
    b.adjudicate(c, MEDICARE_B, d(5, 6), pricing)
    post(c, d(5, 8), "IP", "76.00", MEDICARE_B)
    b.credit(c, "duplicate_payment", "76.00", MEDICARE_B, d(5, 6))

    # 3. Medicaid as secondary pays more than the primary left to the patient.
    c = b.claim("cob_secondary_overpaid", "837P", d(3, 5), [em_new], COMM_A, d(3, 7))
    first = b.adjudicate(c, COMM_A, d(3, 26), [("190.00", [("2", "38.00")])])
    post(c, d(3, 27), "IP", "152.00", COMM_A)
    c.submissions.append(Submission(MEDICAID, d(4, 4), "S", first))
    second = Adjudication(
        MEDICAID,
        d(4, 21),
        "2",
        planner.icn(MEDICAID, d(4, 21)),
        [LinePayment(c.lines[0], money("60.00"), [_adj("OA", "23", "240.00")])],
    )
    c.adjudications.append(second)
    post(c, d(4, 22), "IP", "60.00", MEDICAID)
    b.credit(c, "coordination_of_benefits", "22.00", MEDICAID, d(4, 21))

    # 4. Two commercial payers both process the claim as primary (registration error).
    c = b.claim(
        "cob_wrongful_primary", "837P", d(3, 18), [em3, ("", "HC:85025", "30.00")], COMM_A, d(3, 21)
    )
    c.submissions.append(Submission(COMM_B, d(3, 28)))
    post(c, d(3, 18), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_A, d(4, 9), [("95.00", [("3", "25.00")]), ("18.00", [])])
    post(c, d(4, 10), "IP", "88.00", COMM_A)
    b.adjudicate(c, COMM_B, d(5, 8), [("90.00", [("3", "25.00")]), ("17.40", [])])
    post(c, d(5, 9), "IP", "82.40", COMM_B)
    b.credit(c, "coordination_of_benefits", "82.40", COMM_B, d(5, 8))

    # 5. Commercial overpayment: a line billed in error was never a charge in the ledger.
    #    837: 99213 150.00, 93000 75.00 (CLM02 225.00); ledger: C 150.00 (no line columns),
    #    PP 25.00. 835: CLP 225/120; SVC 99213 150/75 CAS CO-45 50, PR-3 25; SVC 93000 75/45
    #    CAS CO-45 30. Posted 150 is 75 short of CLP03, and only the 93000 line is 75: that
    #    line is uncharged. Its 45.00 is the payer's money. The charged line balances:
    #    150 − 50 − (120 − 45) − 25 = 0; the 30.00 written off on 93000 writes off nothing.
    #    Held (pending, unposted_line) until an analyst answers the line's variance.
    c = b.claim(
        "overpayment",
        "837P",
        d(3, 12),
        [em3, ("", "HC:93000", "75.00")],
        COMM_B,
        d(3, 14),
        charge_lines=[1],
    )
    post(c, d(3, 12), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_B, d(4, 3), [("100.00", [("3", "25.00")]), ("45.00", [])])
    post(c, d(4, 4), "IP", "120.00", COMM_B)
    b.credit(c, "overpayment", "45.00", COMM_B, d(4, 3), status="pending")
    out.variances.append(
        ExpectedLineVariance(c, COMM_B, "unposted_line", money("75.00"), money("45.00"))
    )

    # 6. Medicare Part A outpatient overpayment: the lab line went to a reference-lab account.
    #    837I: 0450/99284 1,250.00, 0320/71046 310.00, 0300/80053 140.00 (1,700.00); ledger
    #    posts 1,560.00 (the lab line never) and the patient's 127.00. 835: paid 416 + 72 + 20
    #    = 508 with PR-2 104 + 18 + 5 and CO-45 730 + 220 + 115. Posted is 140 short and only
    #    80053 is 140: uncharged. Medicare's 20.00 on it is Medicare's. Charged lines:
    #    1,560 − 950 − 488 − 127 = −5: the patient paid 127 but owes 122 on the charged lines,
    #    so the 5.00 coinsurance of the lab line is the patient's. Both held for the analyst.
    c = b.claim(
        "overpayment_government",
        "837I",
        d(3, 24),
        [
            ("0450", "HC:99284", "1250.00"),
            ("0320", "HC:71046", "310.00"),
            ("0300", "HC:80053", "140.00"),
        ],
        MEDICARE_A,
        d(3, 28),
        charge_lines=[1, 2],
    )
    b.adjudicate(
        c,
        MEDICARE_A,
        d(5, 13),
        [("520.00", [("2", "104.00")]), ("90.00", [("2", "18.00")]), ("25.00", [("2", "5.00")])],
    )
    post(c, d(5, 15), "IP", "508.00", MEDICARE_A)
    post(c, d(5, 30), "PP", "127.00")
    b.credit(c, "overpayment", "20.00", MEDICARE_A, d(5, 13), status="pending")
    b.credit(c, "patient_overpayment", "5.00", None, d(5, 30), owed_to="patient", status="pending")
    out.variances.append(
        ExpectedLineVariance(c, MEDICARE_A, "unposted_line", money("140.00"), money("20.00"))
    )

    # 7. The copay was paid twice (front desk and patient portal).
    c = b.claim("patient_copay_twice", "837P", d(3, 11), [em3], COMM_A, d(3, 14))
    post(c, d(3, 11), "PP", "25.00", reference="COPAY")
    post(c, d(3, 24), "PP", "25.00", reference="PORTAL")
    b.adjudicate(c, COMM_A, d(4, 2), [("95.00", [("3", "25.00")])])
    post(c, d(4, 3), "IP", "70.00", COMM_A)
    b.credit(c, "patient_overpayment", "25.00", None, d(4, 2), owed_to="patient")

    # 8. A Medicare patient prepaid an estimate above the final coinsurance.
    c = b.claim(
        "patient_prepaid_estimate",
        "837P",
        d(3, 20),
        [("", "HC:20610", "210.00")],
        MEDICARE_B,
        d(3, 21),
    )
    post(c, d(3, 20), "PP", "60.00", reference="ESTIMATE")
    b.adjudicate(c, MEDICARE_B, d(5, 6), [("175.00", [("2", "35.00")])])
    post(c, d(5, 7), "IP", "140.00", MEDICARE_B)
    b.credit(c, "patient_overpayment", "25.00", None, d(5, 6), owed_to="patient")

    # 9. The contractual adjustment was also keyed by hand in the ledger (false credit).
    c = b.claim("unexplained", "837P", d(3, 6), [("", "HC:97110", "180.00")], COMM_B, d(3, 7))
    post(c, d(3, 6), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_B, d(3, 27), [("120.00", [("3", "25.00")])])
    post(c, d(3, 28), "IP", "95.00", COMM_B)
    post(c, d(3, 28), "CA", "60.00", reference="MANUALADJ")
    b.credit(c, "unexplained", "60.00", None, d(3, 28), owed_to="unknown", government=False)

    # 10. An administrative write-off on a Medicaid claim paid in full (government money).
    c = b.claim("unexplained_government", "837P", d(3, 4), [em4], MEDICAID, d(3, 7))
    b.adjudicate(c, MEDICAID, d(3, 24), [("80.00", [])])
    post(c, d(3, 25), "IP", "80.00", MEDICAID)
    post(c, d(4, 10), "WO", "45.00", reference="ADMINWO")
    b.credit(c, "unexplained", "45.00", None, d(4, 10), owed_to="unknown", government=True)

    # 11. A correction arrived days before the run; its reversal has not (pending, held).
    c = b.claim(
        "pending_split_reversal", "837P", d(3, 26), [("", "HC:99215", "290.00")], COMM_A, d(3, 28)
    )
    post(c, d(3, 26), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_A, d(4, 16), [("160.00", [("3", "25.00")])])
    post(c, d(4, 17), "IP", "135.00", COMM_A)
    b.adjudicate(c, COMM_A, d(6, 11), [("185.00", [("3", "25.00")])])
    post(c, d(6, 12), "IP", "160.00", COMM_A)
    # held while the reversal may still come: COMM_A's 30-day hold from the correction
    b.credit(c, "duplicate_payment", "135.00", COMM_A, d(6, 11), held_until=d(6, 11) + days(30))

    # 12a. Correction first, its reversal three weeks later (both before the checkpoint): clean.
    c = b.claim("split_correction_first", "837P", d(3, 3), [em4], COMM_B, d(3, 7))
    post(c, d(3, 3), "PP", "25.00", reference="COPAY")
    orig = b.adjudicate(c, COMM_B, d(3, 27), [("130.00", [("3", "25.00")])])
    post(c, d(3, 28), "IP", "105.00", COMM_B)
    b.adjudicate(c, COMM_B, d(4, 3), [("160.00", [("3", "25.00")])])
    c.adjudications.append(orig.reversal(d(4, 24)))
    post(c, d(4, 25), "IP", "30.00", COMM_B, "NETCORR")

    # 12b. Medicaid reversal first, its correction three weeks later (after the checkpoint).
    c = b.claim("split_reversal_first", "837P", d(3, 13), [em3], MEDICAID, d(3, 14))
    orig = b.adjudicate(c, MEDICAID, d(3, 31), [("60.00", [])])
    post(c, d(4, 1), "IP", "60.00", MEDICAID)
    c.adjudications.append(orig.reversal(d(5, 5)))
    b.adjudicate(c, MEDICAID, d(5, 26), [("75.00", [])])
    post(c, d(5, 27), "IP", "15.00", MEDICAID, "NETCORR")

    # 13. Duplicate payment found at the checkpoint, recouped by PLB WO in May (resolved).
    c = b.claim("resolved_by_plb", "837P", d(3, 4), [em3], COMM_B, d(3, 7))
    post(c, d(3, 4), "PP", "25.00", reference="COPAY")
    b.adjudicate(c, COMM_B, d(3, 20), [("100.00", [("3", "25.00")])])
    dup = b.adjudicate(c, COMM_B, d(3, 27), [("100.00", [("3", "25.00")])])
    post(c, d(3, 21), "IP", "75.00", COMM_B)
    post(c, d(3, 28), "IP", "75.00", COMM_B)
    planner.plb.append(PlbEntry(COMM_B, d(5, 15), "WO", dup.icn, money("75.00")))
    b.credit(c, "duplicate_payment", "75.00", COMM_B, d(3, 27), status="resolved", undone=d(5, 15))

    # 14. Medicare Part A duplicate found at the checkpoint; the practice refunded it by check
    #     (ledger refund), and the MAC acknowledged the check with PLB 72 offset by WO.
    c = b.claim(
        "resolved_by_refund", "837I", d(3, 3), [("0450", "HC:99283", "850.00")], MEDICARE_A, d(3, 7)
    )
    b.adjudicate(c, MEDICARE_A, d(3, 18), [("310.00", [("2", "62.00")])])
    dup = b.adjudicate(c, MEDICARE_A, d(3, 25), [("310.00", [("2", "62.00")])])
    post(c, d(3, 19), "IP", "248.00", MEDICARE_A)
    post(c, d(3, 26), "IP", "248.00", MEDICARE_A)
    post(c, d(4, 10), "PP", "62.00")
    post(c, d(5, 5), "IR", "248.00", MEDICARE_A, "REFCHK5501")
    planner.plb.append(PlbEntry(MEDICARE_A, d(5, 20), "72", dup.icn, money("-248.00")))
    planner.plb.append(PlbEntry(MEDICARE_A, d(5, 20), "WO", dup.icn, money("248.00")))
    b.credit(
        c, "duplicate_payment", "248.00", MEDICARE_A, d(3, 25), status="resolved", undone=d(5, 5)
    )

    # 15. The practice posted one ERA payment twice: a posting variance, not a refund.
    c = b.claim("posting_variance", "837P", d(3, 17), [("", "HC:93000", "75.00")], COMM_A, d(3, 21))
    b.adjudicate(c, COMM_A, d(4, 9), [("46.50", [])])
    post(c, d(4, 10), "IP", "46.50", COMM_A)
    post(c, d(4, 11), "IP", "46.50", COMM_A)
    out.variances.append(
        ExpectedVariance(c, COMM_A, "posted_twice", money("93.00"), money("46.50"))
    )
    plant_lines(b, planner)
    return out


def _adj(group: str, reason: str, amount: str) -> Adjustment:
    return Adjustment(group, reason, money(amount))
