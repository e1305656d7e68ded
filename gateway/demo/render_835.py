"""The demo's payer runs as 835 files: one per payer payment run (BPR02 = Σ CLP04 − Σ PLB,
a negative run carried forward), and the runs the clearinghouse re-delivers (``RESENDS``: the
same ERA again and a re-cut with one claim, neither a second payment).

Split from ``gateway.demo.render`` (the file record and what the renderers share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from gateway.demo.calendar import shift
from gateway.demo.model import ZERO, Adjudication, DemoClaim, PlbEntry
from gateway.demo.payers import (
    COMM_A,
    MEDICAID,
    PAYERS,
    PROVIDER_NPI,
    DemoPayer,
    payee,
    payer_835,
)
from gateway.demo.render import PROVIDER_ISA_ID, DemoFile, transaction_header
from parsers.writer import Envelope, write_835
from schemas.common import Entity
from schemas.remittance import ClaimPayment, ProviderAdjustment, Remittance, ServicePayment

_FISCAL_YEAR_END = dt.date(2025, 12, 31)


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
            transaction_header("835"),
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
