"""The demo's claims as 837 files: one interchange per weekly batch day, the 837P and 837I
claims of that day in their own groups, the prior payer's payment on secondary claims.

Split from ``gateway.demo.render`` (the file record and what the renderers share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from gateway.demo.model import DemoClaim, Submission
from gateway.demo.payers import (
    CLEARINGHOUSE,
    CLEARINGHOUSE_ID,
    PROVIDER_NAME,
    SUBMITTER_ID,
    billing_provider,
    payer_837,
)
from gateway.demo.render import PROVIDER_ISA_ID, DemoFile, transaction_header
from parsers.writer import Envelope, write_837
from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Entity


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
                    transaction_header(kind),
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
