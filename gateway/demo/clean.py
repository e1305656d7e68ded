"""Ordinary claims of the demo month: paid, denied, reprocessed, crossed over, secondary.

Each of these balances to exactly zero by construction: the ledger posts the charge, the
patient pays exactly the final patient responsibility (or a small balance is written off), and
the practice posts each 835's net payment once. Only the planted scenarios (``planted.py``,
``planted_lines.py``) depart from that.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from gateway.demo.calendar import (
    AS_OF,
    MONTH_END,
    MONTH_START,
    PAYMENT_FLOOR_DAYS,
    days,
    on_or_after,
    submission_day,
)
from gateway.demo.model import (
    ZERO,
    Adjudication,
    DemoClaim,
    Line,
    LinePayment,
    PlbEntry,
    Posting,
    Submission,
    money,
)
from gateway.demo.payers import (
    COMM_A,
    COMM_B,
    FIRST_NAMES,
    LAST_NAMES,
    MEDICAID,
    MEDICARE_A,
    MEDICARE_B,
    DemoPayer,
    Patient,
)
from schemas.remittance import Adjustment

#: professional services (837P): procedure, charge
PROFESSIONAL = (
    ("HC:99213", "150.00"),
    ("HC:99214", "220.00"),
    ("HC:99203", "185.00"),
    ("HC:93000", "75.00"),
    ("HC:36415", "15.00"),
    ("HC:85025", "30.00"),
    ("HC:80053", "60.00"),
    ("HC:97110", "90.00"),
    ("HC:20610", "210.00"),
    ("HC:71046", "120.00"),
    ("HC:90471", "40.00"),
    ("HC:99395", "260.00"),
)
#: outpatient facility services (837I): revenue code, procedure, charge
INSTITUTIONAL = (
    ("0450", "HC:99284", "1250.00"),
    ("0320", "HC:71046", "310.00"),
    ("0300", "HC:80053", "140.00"),
    ("0305", "HC:85025", "60.00"),
    ("0730", "HC:93005", "180.00"),
    ("0636", "HC:J1885", "45.00"),
    ("0350", "HC:70450", "1450.00"),
    ("0420", "HC:97110", "240.00"),
)
DIAGNOSES = (
    "ABK:J069",
    "ABK:I10",
    "ABK:E119",
    "ABK:M545",
    "ABK:R0789",
    "ABK:Z0000",
    "ABK:J209",
    "ABK:N390",
    "ABK:K219",
    "ABK:M179",
)
#: denial reasons (CARC) with a remark code (RARC) on the line
DENIALS = (("50", "N115"), ("197", "N54"), ("16", "MA130"), ("96", "N130"))
COPAY = Decimal("25.00")
SMALL_BALANCE = Decimal("5.00")


class Planner:
    """Hands out patients, claim numbers, line numbers and ICNs, all from one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.patients = 0
        self.claims = 0
        self.icns: dict[str, int] = {}
        self.plb: list[PlbEntry] = []

    # ----------------------------------------------------------------- identities

    def patient(self) -> Patient:
        self.patients += 1
        n = self.patients
        born = dt.date(1935, 1, 1) + days(self.rng.randrange(0, 365 * 70))
        return Patient(
            n,
            LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)],
            FIRST_NAMES[n % len(FIRST_NAMES)],
            born,
            self.rng.choice("FM"),
        )

    def pcn(self) -> str:
        self.claims += 1
        return f"DRMC25{self.claims:06d}"

    def icn(self, payer: DemoPayer, day: dt.date) -> str:
        n = self.icns.get(payer.payer_id, 0) + 1
        self.icns[payer.payer_id] = n
        julian = day.timetuple().tm_yday
        if payer.icn_style == "digits":  # 13 digits: region, year, julian day, sequence
            return f"{payer.icn_prefix}{day.year % 100:02d}{julian:03d}{n:06d}"
        return f"{payer.icn_prefix}{day.year % 100:02d}{julian:03d}X{n:05d}"

    def lines(self, pcn: str, kind: str, service: dt.date, count: int) -> list[Line]:
        out: list[Line] = []
        if kind == "837I":
            picks = self.rng.sample(INSTITUTIONAL, count)
            for i, (rev, proc, charge) in enumerate(picks, start=1):
                out.append(Line(i, proc, money(charge), service, f"{pcn}L{i}", rev))
        else:
            picks2 = self.rng.sample(PROFESSIONAL, count)
            for i, (proc, charge) in enumerate(picks2, start=1):
                out.append(Line(i, proc, money(charge), service, f"{pcn}L{i}"))
        return out

    def new_claim(
        self,
        patient: Patient,
        kind: str,
        service: dt.date,
        lines: list[tuple[str, str, str]] | None = None,
        scenario: str = "clean",
    ) -> DemoClaim:
        """A claim; ``lines`` as (revenue code, procedure, charge) fixes its lines."""
        pcn = self.pcn()
        if lines is None:
            billed = self.lines(pcn, kind, service, self.rng.randint(1, 3))
        else:
            billed = [
                Line(i, proc, money(charge), service, f"{pcn}L{i}", rev)
                for i, (rev, proc, charge) in enumerate(lines, start=1)
            ]
        dx = [self.rng.choice(DIAGNOSES)]
        return DemoClaim(pcn, patient, kind, "13" if kind == "837I" else "11", billed, dx, scenario)

    # ----------------------------------------------------------------- adjudication

    def pay_day(self, payer: DemoPayer, submitted: dt.date, extra: int = 0) -> dt.date:
        return on_or_after(submitted + days(PAYMENT_FLOOR_DAYS + extra), payer.pay_weekday)


def line_payment(
    line: Line, allowed: Decimal, pr: list[tuple[str, Decimal]], co_reason: str = "45"
) -> LinePayment:
    """A line paid at ``allowed`` less patient responsibility; the rest is contractual."""
    adjustments: list[Adjustment] = []
    if line.charge != allowed:
        adjustments.append(Adjustment("CO", co_reason, line.charge - allowed))
    for reason, amount in pr:
        if amount:
            adjustments.append(Adjustment("PR", reason, amount))
    paid = allowed - sum((a for _, a in pr), ZERO)
    return LinePayment(line, paid, adjustments, allowed)


def priced(
    planner: Planner,
    payer: DemoPayer,
    claim: DemoClaim,
    day: dt.date,
    status: str = "1",
    bump: Decimal = ZERO,
    deductible: bool = False,
    copay: bool = False,
) -> Adjudication:
    """An ordinary adjudication under the payer's synthetic fee schedule and benefit design."""
    paid_lines: list[LinePayment] = []
    for i, line in enumerate(claim.lines):
        allowed = money(line.charge * (payer.rate + bump))
        pr: list[tuple[str, Decimal]] = []
        if payer is MEDICAID:
            pass
        elif payer.programme.startswith("medicare"):
            if deductible and i == 0:
                ded = min(allowed, money("257.00"))
                pr.append(("1", ded))
                pr.append(("2", money((allowed - ded) * Decimal("0.2"))))
            else:
                pr.append(("2", money(allowed * Decimal("0.2"))))
        elif copay and i == 0 and allowed >= COPAY:
            pr.append(("3", COPAY))
        elif deductible and i == 0:
            pr.append(("1", min(allowed, money("100.00"))))
        elif payer is COMM_B:
            pr.append(("2", money(allowed * Decimal("0.1"))))
        paid_lines.append(line_payment(line, allowed, pr))
    return Adjudication(payer, day, status, planner.icn(payer, day), paid_lines)


def denied(planner: Planner, payer: DemoPayer, claim: DemoClaim, day: dt.date) -> Adjudication:
    reason, remark = planner.rng.choice(DENIALS)
    group = "PR" if reason == "96" else "CO"
    lines = [
        LinePayment(ln, ZERO, [Adjustment(group, reason, ln.charge)], None, (remark,))
        for ln in claim.lines
    ]
    status = "4" if planner.rng.random() < 0.3 else "1"
    return Adjudication(payer, day, status, planner.icn(payer, day), lines)


def secondary(
    planner: Planner,
    payer: DemoPayer,
    prior: Adjudication,
    day: dt.date,
    share: Decimal = Decimal(1),
) -> Adjudication:
    """The secondary pays ``share`` of the primary's patient responsibility per line.

    OA-23 (impact of prior payer) carries the rest of the charge; what it does not pay of the
    patient responsibility it writes off (CO-45), so the patient owes nothing more.
    """
    lines: list[LinePayment] = []
    for lp in prior.lines:
        pr = sum((a.amount for a in lp.adjustments if a.group == "PR"), ZERO)
        paid = money(pr * share)
        adjs = [Adjustment("OA", "23", lp.line.charge - pr)]
        if pr != paid:
            adjs.append(Adjustment("CO", "45", pr - paid))
        lines.append(LinePayment(lp.line, paid, adjs, None))
    return Adjudication(payer, day, "2", planner.icn(payer, day), lines)


def post_remittances(planner: Planner, claim: DemoClaim, as_of: dt.date = AS_OF) -> None:
    """The practice posts each 835's net payment for the claim once, a few days later (by
    ``as_of``, the final day of the claim's month)."""
    nets: dict[tuple[str, dt.date], Decimal] = {}
    for a in claim.adjudications:
        key = (a.payer.payer_id, a.date)
        nets[key] = nets.get(key, ZERO) + a.paid
    for (payer_id, day), net in sorted(nets.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if net < 0:
            raise AssertionError(f"{claim.pcn}: a clean claim's 835 lowers its net payment")
        if net > 0:
            posted = min(day + days(planner.rng.randint(1, 3)), as_of)
            claim.postings.append(Posting(posted, "IP", net, payer_id, f"ERA{day:%m%d}"))


def settle_patient(
    planner: Planner, claim: DemoClaim, paid_at_visit: Decimal, as_of: dt.date = AS_OF
) -> None:
    """The patient pays what the last payer left to them (small balances written off)."""
    last = claim.adjudications[-1]
    owed = last.patient_responsibility - paid_at_visit
    if owed <= 0:
        return
    day = min(last.date + days(planner.rng.randint(7, 30)), as_of - days(1))
    if owed < SMALL_BALANCE:
        claim.postings.append(Posting(day, "WO", owed, "", "SMALLBAL"))
    else:
        claim.postings.append(Posting(day, "PP", owed, "", f"STMT{day:%m%d}"))


def post_charges(claim: DemoClaim, only: list[int] | None = None) -> None:
    """One charge row per line on the day of service (``only``: line numbers to post)."""
    for ln in claim.lines:
        if only is None or ln.number in only:
            claim.postings.append(
                Posting(ln.service_date, "C", ln.charge, "", f"CHG{ln.service_date:%m%d}")
            )


# --------------------------------------------------------------------------- clean claims

#: primary payer mix of the practice (weights)
PAYER_MIX = ((COMM_A, 30), (COMM_B, 20), (MEDICARE_B, 24), (MEDICARE_A, 10), (MEDICAID, 16))


def clean_claims(
    planner: Planner,
    count: int,
    month: tuple[dt.date, dt.date] = (MONTH_START, MONTH_END),
    as_of: dt.date = AS_OF,
) -> list[DemoClaim]:
    """``count`` ordinary claims over a pool of patients (some with several visits), seen in
    ``month`` (first and last day) and settled by ``as_of``."""
    rng = planner.rng
    pool: list[tuple[Patient, DemoPayer, DemoPayer | None]] = []
    for _ in range(max(1, count * 2 // 3)):
        primary = rng.choices([p for p, _ in PAYER_MIX], [w for _, w in PAYER_MIX])[0]
        second: DemoPayer | None = None
        if primary in (MEDICARE_A, MEDICARE_B) and rng.random() < 0.3:
            second = MEDICAID  # dual eligible: Medicare crosses the claim over
        elif primary is COMM_A and rng.random() < 0.15:
            second = COMM_B
        pool.append((planner.patient(), primary, second))
    first, last = month
    span = (last - first).days
    out: list[DemoClaim] = []
    for i in range(count):
        patient, primary, second = pool[i] if i < len(pool) else rng.choice(pool)
        service = first + days(rng.randint(0, span))
        if service.weekday() >= 5:
            service -= days(service.weekday() - 4)
            if service < first:  # a month that starts on a weekend: its first Monday
                service += days(7 - service.weekday())
        kind = (
            "837I"
            if primary is MEDICARE_A or (primary in (COMM_A, COMM_B) and rng.random() < 0.25)
            else "837P"
        )
        claim = planner.new_claim(patient, kind, service)
        out.append(claim)
        adjudicate(planner, claim, primary, second, as_of)
    return out


def adjudicate(
    planner: Planner,
    claim: DemoClaim,
    primary: DemoPayer,
    second: DemoPayer | None,
    as_of: dt.date = AS_OF,
) -> None:
    rng = planner.rng
    submitted = submission_day(claim.lines[0].service_date)
    claim.submissions.append(Submission(primary, submitted))
    post_charges(claim)
    day = planner.pay_day(primary, submitted, rng.randint(0, 9))
    roll = rng.random()
    if roll < 0.06:
        claim.adjudications.append(denied(planner, primary, claim, day))
        post_remittances(planner, claim, as_of)
        settle_patient(planner, claim, ZERO, as_of)
        return
    copay = primary in (COMM_A, COMM_B) and second is None and claim.kind == "837P"
    status = "19" if second is MEDICAID else "1"
    first = priced(
        planner, primary, claim, day, status, deductible=rng.random() < 0.08, copay=copay
    )
    if second is MEDICAID:
        first.crossover = MEDICAID
    claim.adjudications.append(first)
    at_visit = ZERO
    if copay and first.patient_responsibility >= COPAY:
        at_visit = COPAY
        claim.postings.append(Posting(claim.lines[0].service_date, "PP", COPAY, "", "COPAY"))
    if roll < 0.09 and second is None:
        # reprocessed a few weeks later: reversal and correction in the same 835
        later = on_or_after(day + days(rng.randint(14, 28)), primary.pay_weekday)
        claim.adjudications.append(first.reversal(later))
        # the copay as first taken (a line allowed under it the first time carries none now)
        copaid = any(a.reason == "3" for a in first.lines[0].adjustments if a.group == "PR")
        claim.adjudications.append(
            priced(planner, primary, claim, later, status, bump=Decimal("0.04"), copay=copaid)
        )
        if primary.programme != "commercial" or rng.random() < 0.5:
            planner.plb.append(
                PlbEntry(
                    primary,
                    later,
                    "L6",
                    claim.adjudications[-1].icn,
                    -money(Decimal("0.35") + Decimal(rng.randint(0, 400)) / 100),
                )
            )
    elif second is not None:
        if second is MEDICAID:
            later = on_or_after(day + days(rng.randint(7, 21)), MEDICAID.pay_weekday)
            share = Decimal("0.8")
        else:
            resubmit = submission_day(day + days(2))
            claim.submissions.append(Submission(second, resubmit, "S", first))
            later = planner.pay_day(second, resubmit, rng.randint(0, 7))
            share = Decimal(1)
        claim.adjudications.append(secondary(planner, second, first, later, share))
    post_remittances(planner, claim, as_of)
    settle_patient(planner, claim, at_visit, as_of)
