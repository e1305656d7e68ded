"""Render the planned month as files: 837 batches, one 835 per payer run, ledger exports.

Pure apart from the byte strings it returns: the caller writes them. Envelope dates, times and
control numbers come from the plan, never from the clock, so a seed gives identical bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from gateway.demo.calendar import CHECKPOINT, shift
from gateway.demo.model import ZERO, Adjudication, DemoClaim, PlbEntry, Posting, Submission
from gateway.demo.payers import (
    CLEARINGHOUSE,
    CLEARINGHOUSE_ID,
    COMM_A,
    MEDICAID,
    PAYERS,
    PROVIDER_NAME,
    PROVIDER_NPI,
    SUBMITTER_ID,
    DemoPayer,
    billing_provider,
    payee,
    payer_835,
    payer_837,
)
from parsers.writer import Envelope, write_835, write_837
from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Entity
from schemas.envelope import TransactionHeader
from schemas.remittance import ClaimPayment, ProviderAdjustment, Remittance, ServicePayment

PROVIDER_ISA_ID = "DEMORMC"
#: the ledger layout the export is written in (``mappings/ledger/<name>.yaml``)
LEDGER_LAYOUT = "practice_management_export"
LEDGER_HEADER = (
    "Acct No",
    "Claim ID",
    "Date Posted",
    "Trans Type",
    "Carrier Code",
    "Trans Amount",
    "Batch",
    "CPT",
    "DOS",
    "Line Ctrl",
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FISCAL_YEAR_END = dt.date(2025, 12, 31)


@dataclass(frozen=True, slots=True)
class DemoFile:
    """One generated file: where it goes, what it is, and the day it 'arrives'."""

    path: str
    kind: str  # 837 | 835 | ledger
    day: dt.date
    data: bytes


def _header(kind: str) -> TransactionHeader:
    return TransactionHeader(kind[:3], "0001", "", kind, "", "")


# --------------------------------------------------------------------------- 837


def _claim_837(c: DemoClaim, s: Submission) -> Claim:
    person = c.patient.entity(s.payer)
    sub = Subscriber(
        s.sequence,
        "18",
        f"GRP{s.payer.icn_prefix}1000",
        s.payer.sbr09,
        person=person,
        date_of_birth=c.patient.birth_date,
        gender=c.patient.gender,
    )
    others: list[OtherPayer] = []
    if s.prior is not None:
        prior = s.prior
        others.append(
            OtherPayer(
                "P",
                prior.payer.sbr09,
                prior.payer.payer_id,
                prior.payer.name,
                paid=prior.paid,
                adjustments=prior.adjustment_totals(),
            )
        )
    institutional = c.kind == "837I"
    first = min(ln.service_date for ln in c.lines)
    last = max(ln.service_date for ln in c.lines)
    lines = [
        ClaimLine(
            ln.number,
            ln.procedure,
            ln.charge,
            revenue_code=ln.revenue_code,
            units=ln.units,
            unit_basis="UN",
            place_of_service="" if institutional else c.facility,
            service_date=ln.service_date,
            line_control_number=ln.control,
        )
        for ln in c.lines
    ]
    return Claim(
        c.pcn,
        c.charge,
        c.facility,
        "A" if institutional else "B",
        "1",
        billing_provider=billing_provider(),
        subscriber=sub,
        payer=payer_837(s.payer),
        patient=person,
        patient_date_of_birth=c.patient.birth_date,
        service_date=first if institutional else None,
        service_date_end=last if institutional else None,
        diagnosis_codes=list(c.diagnoses),
        other_payers=others,
        lines=lines,
    )


def claim_files(claims: Iterable[DemoClaim], counter: list[int]) -> list[DemoFile]:
    """One 837 interchange per weekly batch day (837P and 837I groups inside)."""
    by_day: dict[dt.date, list[tuple[DemoClaim, Submission]]] = {}
    for c in claims:
        for s in c.submissions:
            by_day.setdefault(s.date, []).append((c, s))
    files: list[DemoFile] = []
    for day in sorted(by_day):
        subs: list[ClaimSubmission] = []
        for kind in ("837P", "837I"):
            items = [(c, s) for c, s in by_day[day] if c.kind == kind]
            if not items:
                continue
            subs.append(
                ClaimSubmission(
                    _header(kind),
                    kind,
                    "00",
                    f"B{day:%Y%m%d}{kind[-1]}",
                    day,
                    submitter=Entity("41", PROVIDER_NAME, id_qualifier="46", id=SUBMITTER_ID),
                    receiver=Entity("40", CLEARINGHOUSE, id_qualifier="46", id=CLEARINGHOUSE_ID),
                    claims=[_claim_837(c, s) for c, s in items],
                )
            )
        counter[0] += 1
        env = Envelope(
            PROVIDER_ISA_ID,
            CLEARINGHOUSE_ID,
            interchange_control_number=counter[0],
            group_control_number=counter[0] * 10,
            date=day,
            time="1800",
        )
        data = write_837(
            subs,
            envelope=env,
            line_break="\n",
            submitter_contact=("IC", "BILLING OFFICE", "TE", "5555550100"),
            patient_status="01",
        )
        files.append(DemoFile(f"837/DRMC_837_{day:%Y%m%d}.x12", "837", day, data))
    return files


# --------------------------------------------------------------------------- 835


def _claim_payment(c: DemoClaim, a: Adjudication) -> ClaimPayment:
    reversal = a.status == "22"
    services = [
        ServicePayment(
            lp.line.procedure or f"NU:{lp.line.revenue_code}",
            -lp.line.charge if reversal else lp.line.charge,
            lp.paid,
            revenue_code=lp.line.revenue_code if lp.line.procedure else "",
            units=lp.line.units,
            service_date=lp.line.service_date,
            service_date_end=lp.line.service_date,
            line_control_number=lp.line.control,
            allowed=lp.allowed,
            adjustments=list(lp.adjustments),
            remark_codes=[f"HE:{r}" for r in lp.remarks],
        )
        for lp in a.lines
    ]
    pr = a.patient_responsibility
    crossover = (
        Entity("TT", a.crossover.name, id_qualifier="PI", id=a.crossover.payer_id)
        if a.crossover is not None
        else None
    )
    member = c.patient.member_id(a.payer)
    return ClaimPayment(
        c.pcn,
        a.status,
        a.charge,
        a.paid,
        pr,
        a.payer.clp06,
        a.icn,
        facility_code=c.facility,
        frequency_code="1",
        drg_code=a.drg,
        inpatient_adjudication=["0", "", "", f"{a.paid:.2f}"] if a.drg else [],
        adjustments=list(a.claim_adjustments),
        patient=Entity(
            "QC", c.patient.last_name, c.patient.first_name, id_qualifier="MI", id=member
        ),
        crossover_carrier=crossover,
        statement_from=min(ln.service_date for ln in c.lines),
        statement_to=max(ln.service_date for ln in c.lines),
        services=services,
    )


def remittance_files(
    claims: Iterable[DemoClaim],
    plb: Iterable[PlbEntry],
    counter: list[int],
    resends: frozenset[tuple[str, dt.date]] | None = None,
) -> list[DemoFile]:
    """One 835 per payer payment run, BPR02 = Σ CLP04 − Σ PLB (never negative); the runs in
    ``resends`` (default: the first month's ``RESENDS``) are delivered again."""
    resends = RESENDS if resends is None else resends
    runs: dict[tuple[dt.date, str], list[ClaimPayment]] = {}
    adjustments: dict[tuple[dt.date, str], list[ProviderAdjustment]] = {}
    payers = {p.payer_id: p for p in PAYERS}
    for c in claims:
        for a in c.adjudications:
            runs.setdefault((a.date, a.payer.payer_id), []).append(_claim_payment(c, a))
    for e in plb:
        key = (e.date, e.payer.payer_id)
        runs.setdefault(key, [])
        adjustments.setdefault(key, []).append(
            ProviderAdjustment(PROVIDER_NPI, _FISCAL_YEAR_END, e.reason, e.reference, e.amount)
        )
    files: list[DemoFile] = []
    for day, payer_id in sorted(runs):
        payer = payers[payer_id]
        cps = runs[(day, payer_id)]
        plbs = adjustments.get((day, payer_id), [])
        counter[0] += 1
        trace = f"{payer.icn_prefix}{day:%Y%m%d}{counter[0]:04d}"
        total = sum((cp.paid for cp in cps), ZERO) - sum((p.amount for p in plbs), ZERO)
        if total < 0:  # carried forward to the next payment (PLB FB, negative)
            plbs.append(ProviderAdjustment(PROVIDER_NPI, _FISCAL_YEAR_END, "FB", trace, total))
            total = Decimal(0)
        paying = total > 0
        remit = Remittance(
            _header("835"),
            "I" if paying else "H",
            total,
            "C",
            "ACH" if paying else "NON",
            "CCP" if paying else "",
            payment_date=day,
            trace_type="1",
            trace_number=trace,
            originator_id=payer.originator,
            production_date=day - dt.timedelta(days=1),
            payer=payer_835(payer),
            payee=payee(),
            claims=cps,
            provider_adjustments=plbs,
        )
        env = Envelope(
            payer.payer_id,
            PROVIDER_ISA_ID,
            interchange_control_number=counter[0],
            group_control_number=counter[0] * 10,
            date=day,
            time="0600",
        )
        data = write_835(
            [remit],
            envelope=env,
            line_break="\n",
            payer_contact=("BL", "EDI SUPPORT", "TE", "5555550199"),
        )
        files.append(DemoFile(f"835/{payer_id}_835_{day:%Y%m%d}.x12", "835", day, data))
        if (
            (payer_id, day) in resends
            and len(cps) > 1
            and not plbs
            and any(cp.paid > 0 for cp in cps)
        ):
            files += _resent(remit, payer, day, counter)
    return files


#: payment runs re-delivered by the clearinghouse: (payer, run date)
RESENDS = frozenset(
    {(COMM_A.payer_id, dt.date(2025, 4, 9)), (MEDICAID.payer_id, dt.date(2025, 4, 21))}
)


def resends_for(months: int) -> frozenset[tuple[str, dt.date]]:
    """The first month's re-delivered runs, and the same runs of every later month."""
    return frozenset((payer, day + shift(k)) for k in range(months) for payer, day in RESENDS)


def _resent(
    remit: Remittance, payer: DemoPayer, day: dt.date, counter: list[int]
) -> list[DemoFile]:
    """The same ERA sent again three days later (new ISA13/GS06/ST02, same TRN), and a re-cut
    two days after that carrying only its first paid claim: neither is a second payment."""
    out: list[DemoFile] = []
    # the re-cut's one claim is a payment (a run may open with another month's reversal)
    first = [next(cp for cp in remit.claims if cp.paid > 0)]
    recut = replace(
        remit,
        header=replace(remit.header, control_number="0002"),
        claims=first,
        payment_amount=sum((cp.paid for cp in first), ZERO),
    )
    for name, copy, when in (
        (
            "resent",
            replace(remit, header=replace(remit.header, control_number="0003")),
            day + dt.timedelta(days=3),
        ),
        ("recut", recut, day + dt.timedelta(days=5)),
    ):
        counter[0] += 1
        env = Envelope(
            payer.payer_id,
            PROVIDER_ISA_ID,
            interchange_control_number=counter[0],
            group_control_number=counter[0] * 10,
            date=when,
            time="0700",
        )
        data = write_835(
            [copy],
            envelope=env,
            line_break="\n",
            payer_contact=("BL", "EDI SUPPORT", "TE", "5555550199"),
        )
        out.append(DemoFile(f"835/{payer.payer_id}_835_{day:%Y%m%d}_{name}.x12", "835", when, data))
    return out


# --------------------------------------------------------------------------- ledger


def _ledger_date(day: dt.date) -> str:
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year:04d}"


_CODE_ORDER = {"C": 0, "PP": 1, "IP": 2, "CA": 3, "WO": 4, "IR": 5, "PR": 6}


def ledger_files(
    claims: Iterable[DemoClaim], cuts: Iterable[dt.date] = (CHECKPOINT,)
) -> list[DemoFile]:
    """The practice-management ledger export: one file per period ending on each of ``cuts``
    (the reconciliation days but the last), then the rest."""
    rows: list[tuple[Posting, DemoClaim]] = [(p, c) for c in claims for p in c.postings]
    rows.sort(
        key=lambda r: (r[0].date, r[1].account_id, r[1].pcn, _CODE_ORDER[r[0].code], r[0].amount)
    )
    out: list[DemoFile] = []
    first = min(r[0].date for r in rows)
    last = max(r[0].date for r in rows)
    ends = [c for c in sorted(set(cuts)) if first <= c < last] + [last]
    starts = [first] + [e + dt.timedelta(days=1) for e in ends[:-1]]
    for start, end in zip(starts, ends, strict=True):
        lines = ["|".join(LEDGER_HEADER)]
        for p, c in rows:
            if start <= p.date <= end:
                detail = (
                    ("", "", "")
                    if p.line is None
                    else (
                        p.line.procedure.split(":")[-1],
                        _ledger_date(p.line.service_date),
                        p.line.control,
                    )
                )
                lines.append(
                    "|".join(
                        (
                            c.account_id,
                            c.pcn,
                            _ledger_date(p.date),
                            p.code,
                            p.payer_id,
                            f"{p.amount:.2f}",
                            p.reference,
                            *detail,
                        )
                    )
                )
        data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        out.append(
            DemoFile(f"ledger/DRMC_ledger_{start:%Y%m%d}_{end:%Y%m%d}.txt", "ledger", end, data)
        )
    return out


def payers_in(payers: Iterable[DemoPayer]) -> list[dict[str, object]]:
    return [
        {
            "payer_id": p.payer_id,
            "name": p.name,
            "programme": p.programme,
            "government": p.government,
            "deadline_days": p.deadline_days,
            "hold_days": p.hold_days,
        }
        for p in payers
    ]
