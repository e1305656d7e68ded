"""837 claim submissions as X12: one HC group per kind (837P/I/D), the submitter, receiver and
billing provider, the HL hierarchy of subscribers and patients, claims, other payers and lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from parsers.writer.envelope import (
    STANDARD_DELIMITERS,
    Envelope,
    close_set,
    control_numbers,
    interchange,
)
from parsers.writer.segments import (
    Segments,
    X12WriteError,
    add_address,
    add_cas,
    add_nm1,
    components,
    d8,
    format_amount,
    opt_amount,
)
from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Entity, Reference
from schemas.envelope import Delimiters

#: implementation guide (GS08 and ST03) for each 837 kind
GUIDES_837 = {"837P": "005010X222A1", "837I": "005010X223A2", "837D": "005010X224A2"}
_MAX_HI_CODES = 12


def write_837(
    submissions: Sequence[ClaimSubmission],
    *,
    delimiters: Delimiters = STANDARD_DELIMITERS,
    line_break: str = "",
    envelope: Envelope = Envelope(),
    submitter_contact: Sequence[str] = (),
    patient_status: str = "",
) -> bytes:
    """One interchange with one HC group per 837 kind (GS08 X222A1/X223A2/X224A2).

    ``submitter_contact`` holds the elements of the PER segment written after the submitter's
    NM1*41 (loop 1000A), which the guides require. ``patient_status`` (CL103, e.g. ``01``
    discharged home) makes 837I claims carry the CL1 segment the institutional guide requires;
    our models do not keep it.
    """
    by_kind: dict[str, list[ClaimSubmission]] = {}
    for sub in submissions:
        if sub.kind not in GUIDES_837:
            raise X12WriteError(f"837 kind {sub.kind!r} is not one of {', '.join(GUIDES_837)}")
        by_kind.setdefault(sub.kind, []).append(sub)
    groups: list[tuple[str, str, list[list[str]]]] = []
    for kind, subs in by_kind.items():
        controls = control_numbers(s.header.control_number for s in subs)
        sets = [
            _submission(s, cn, delimiters, submitter_contact, patient_status)
            for s, cn in zip(subs, controls, strict=True)
        ]
        groups.append(("HC", GUIDES_837[kind], sets))
    return interchange(groups, envelope, delimiters, line_break)


def _entity_block(st: Segments, e: Entity) -> None:
    """NM1 with the N3/N4/REF that the 837 parser attaches to the entity just named."""
    add_nm1(st, e)
    add_address(st, e)
    for ref in e.references:
        st.add("REF", ref.qualifier, ref.value)


def _patient_is_subscriber(c: Claim) -> bool:
    sub = c.subscriber
    person = sub.person if sub is not None else None
    dob = sub.date_of_birth if sub is not None else None
    return c.patient == person and c.patient_date_of_birth == dob


class _Hierarchy:
    """HL numbering with the child flag (HL04) patched in when a child appears."""

    def __init__(self, st: Segments) -> None:
        self.st = st
        self.count = 0
        self.index: dict[str, int] = {}

    def open(self, parent: str, level: str) -> str:
        self.count += 1
        hl_id = str(self.count)
        if parent:
            self.st.items[self.index[parent]][4] = "1"
        self.index[hl_id] = self.st.add("HL", hl_id, parent, level, "0")
        return hl_id


def _submission(
    s: ClaimSubmission,
    control: str,
    d: Delimiters,
    submitter_contact: Sequence[str] = (),
    patient_status: str = "",
) -> list[str]:
    st = Segments(d)
    st.add("ST", "837", control, GUIDES_837[s.kind])
    st.add(
        "BHT",
        "0019",
        s.purpose_code,
        s.reference_id,
        d8(s.created_date),
        "1200" if s.created_date else "",
        "CH",
    )
    for party in (s.submitter, s.receiver):
        if party is not None:
            _entity_block(st, party)
            if party is s.submitter and submitter_contact:
                st.add("PER", *submitter_contact)
    hl = _Hierarchy(st)
    unset = object()
    billing: object = unset
    sub_key: object = unset
    hl20 = hl22 = ""
    under_patient = False
    patient_key: object = unset
    for c in s.claims:
        if billing is unset or c.billing_provider != billing:
            billing = c.billing_provider
            hl20 = hl.open("", "20")
            if c.billing_provider is not None:
                _entity_block(st, c.billing_provider)
            sub_key = unset
        own = _patient_is_subscriber(c)
        key = (c.subscriber, c.payer)
        if sub_key is unset or key != sub_key or (own and under_patient):
            sub_key = key
            hl22 = hl.open(hl20, "22")
            _subscriber(st, c.subscriber, c.payer)
            under_patient = False
            patient_key = unset
        if not own and (
            patient_key is unset or (c.patient, c.patient_date_of_birth) != patient_key
        ):
            patient_key = (c.patient, c.patient_date_of_birth)
            hl.open(hl22, "23")
            st.add("PAT", "19")
            if c.patient is not None:
                _entity_block(st, c.patient)
            if c.patient_date_of_birth is not None:
                st.add("DMG", "D8", d8(c.patient_date_of_birth))
            under_patient = True
        _claim(st, c, s.kind, patient_status)
    return close_set(st, control)


def _subscriber(st: Segments, sub: Subscriber | None, payer: Entity | None) -> None:
    if sub is not None:
        st.add(
            "SBR",
            sub.sequence,
            sub.relationship,
            sub.group_number,
            "",
            "",
            "",
            "",
            "",
            sub.filing_indicator,
        )
        if sub.person is not None:
            _entity_block(st, sub.person)
        if sub.date_of_birth is not None:
            st.add("DMG", "D8", d8(sub.date_of_birth), sub.gender)
    if payer is not None:
        _entity_block(st, payer)


def _period(start: dt.date, end: dt.date | None) -> tuple[str, str]:
    if end is None or end == start:
        return "D8", d8(start)
    return "RD8", f"{d8(start)}-{d8(end)}"


def _moment(day: dt.date | None, hour: dt.time | None) -> tuple[str, str]:
    """D8 (a day), DT (day and hour, CCYYMMDDHHMM) or TM (the hour alone, HHMM)."""
    if hour is None:
        assert day is not None
        return "D8", d8(day)
    hhmm = f"{hour.hour:02d}{hour.minute:02d}"
    return ("TM", hhmm) if day is None else ("DT", d8(day) + hhmm)


def _claim(st: Segments, c: Claim, kind: str, patient_status: str = "") -> None:
    # CLM06 (provider signature on file) is not used in the institutional guide
    st.add(
        "CLM",
        c.patient_control_number,
        format_amount(c.total_charge),
        "",
        "",
        [c.facility_code, c.facility_qualifier, c.frequency_code],
        "" if kind == "837I" else "Y",
        "A",
        "Y",
        "Y",
    )
    if c.service_date is not None:
        if kind == "837I":  # the statement period is always a range (RD8) in X223A2
            end = c.service_date_end or c.service_date
            st.add("DTP", "434", "RD8", f"{d8(c.service_date)}-{d8(end)}")
        else:
            st.add("DTP", "472", *_period(c.service_date, c.service_date_end))
    for qualifier, day, hour in (
        ("435", c.admission_date, c.admission_time),
        ("096", c.discharge_date, c.discharge_time),
    ):
        if day is not None or hour is not None:
            st.add("DTP", qualifier, *_moment(day, hour))
    refs = list(c.references)
    quals = {r.qualifier for r in refs}
    if c.prior_authorization and not quals & {"G1", "9F"}:
        refs.append(Reference("G1", c.prior_authorization))
    if c.original_claim_number and "F8" not in quals:
        refs.append(Reference("F8", c.original_claim_number))
    if kind == "837I" and patient_status:
        st.add("CL1", "", "", patient_status)
    for ref in refs:
        st.add("REF", ref.qualifier, ref.value)
    codes = [components(code) for code in c.diagnosis_codes]
    for i in range(0, len(codes), _MAX_HI_CODES):
        st.add("HI", *codes[i : i + _MAX_HI_CODES])
    for other in c.other_payers:
        _other_payer(st, other, c.subscriber)
    # SV107 (837P) must point at a diagnosis; our models keep none per line, so every line
    # points at the principal one
    pointer = "1" if c.diagnosis_codes else ""
    for line in c.lines:
        _claim_line(st, line, kind, pointer)


def _other_payer(st: Segments, o: OtherPayer, subscriber: Subscriber | None) -> None:
    """2320 with its 2330A/2330B. The guides require SBR02, OI and the other subscriber's
    NM1*IL, which our model does not keep per other payer: they are written from the claim's
    own subscriber (relationship and name), as for a patient covered by both plans."""
    person = subscriber.person if subscriber is not None else None
    st.add(
        "SBR",
        o.sequence,
        subscriber.relationship if subscriber is not None else "",
        "",
        "",
        "",
        "",
        "",
        "",
        o.filing_indicator,
    )
    add_cas(st, o.adjustments)
    if o.paid is not None:
        st.add("AMT", "D", format_amount(o.paid))
    if person is not None:
        st.add("OI", "", "", "Y", "", "", "Y")
        st.add(
            "NM1",
            "IL",
            "1" if person.first_name else "2",
            person.name,
            person.first_name,
            person.middle_name,
            "",
            "",
            person.id_qualifier,
            person.id,
        )
    if o.payer_id or o.payer_name:
        st.add("NM1", "PR", "2", o.payer_name, "", "", "", "", "PI", o.payer_id)


def _claim_line(st: Segments, ln: ClaimLine, kind: str, pointer: str = "") -> None:
    st.add("LX", str(ln.line_number))
    proc = components(ln.procedure)
    if kind == "837I":
        st.add(
            "SV2",
            ln.revenue_code,
            proc,
            format_amount(ln.charge),
            ln.unit_basis,
            opt_amount(ln.units),
            "",
            opt_amount(ln.non_covered),
        )
    elif kind == "837D":
        st.add(
            "SV3",
            proc,
            format_amount(ln.charge),
            ln.place_of_service,
            "",
            "",
            opt_amount(ln.units),
        )
    else:
        st.add(
            "SV1",
            proc,
            format_amount(ln.charge),
            ln.unit_basis,
            opt_amount(ln.units),
            ln.place_of_service,
            "",
            pointer,
        )
    if ln.service_date is not None:
        st.add("DTP", "472", *_period(ln.service_date, ln.service_date_end))
    if ln.line_control_number:
        st.add("REF", "6R", ln.line_control_number)
    for ref in ln.references:
        st.add("REF", ref.qualifier, ref.value)


__all__ = ["GUIDES_837", "write_837"]
