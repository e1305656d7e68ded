"""Canonical models back to X12 5010 bytes: 835 remittances and 837 claim submissions.

Pure: models in, ``bytes`` out; no clock is read unless the caller leaves ``Envelope.date``
empty. Only the segments our parsers model are written, in implementation-guide order, so
``parsers.parse(write_835(remits))`` gives back the same figures. The envelope is complete and
self-consistent: a fixed-width 106-byte ISA, one GS per implementation guide (GS08), ST/SE with
the real segment count, GE/IEA with the real transaction/group counts and echoed control numbers.

Values are checked before they are written: a value holding one of the four delimiters (or a line
break) would silently change the structure of the file, so it raises ``X12WriteError`` naming the
segment and element (never the value itself, which may be PHI).

Normalisations (the parsed result equals the input except for these):
- amounts are written in X12 R form (no exponent, no trailing zeros): ``Decimal("10.50")`` is
  ``10.5``, which parses back to an equal Decimal;
- an 837 date range with only a start date is written as a single D8 date (parsed back as a
  one-day range);
- header REF*EV (835), REF*F8 and REF*G1 (837) are written from ``receiver_id``,
  ``original_claim_number`` and ``prior_authorization`` when ``references`` lacks them, so they
  appear in the parsed ``references`` too;
- 837 submissions of different kinds (837P/I/D) go to separate functional groups, in the order in
  which each kind first appears.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Entity, Reference
from schemas.envelope import Delimiters
from schemas.remittance import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

__all__ = [
    "GUIDES_837",
    "GUIDE_835",
    "STANDARD_DELIMITERS",
    "Envelope",
    "X12WriteError",
    "format_amount",
    "write_835",
    "write_837",
]

GUIDE_835 = "005010X221A1"
#: implementation guide (GS08 and ST03) for each 837 kind
GUIDES_837 = {"837P": "005010X222A1", "837I": "005010X223A2", "837D": "005010X224A2"}
_MAX_CAS_TRIPLETS = 6
_MAX_PLB_PAIRS = 6
_MAX_HI_CODES = 12

#: one element: a plain value, or a composite given as its components
Element = str | Sequence[str]


#: ``*`` ``:`` ``^`` ``~``, what most trading partners expect
STANDARD_DELIMITERS = Delimiters()


class X12WriteError(ValueError):
    """The models cannot be written as valid X12 (a value holds a delimiter, a bad envelope)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends to whom, and the control numbers of the interchange and its first group.

    Further functional groups of the same interchange take ``group_control_number + 1`` and so
    on. ``date``/``time`` default to the current UTC time when left empty.
    """

    sender_id: str = "SENDER"
    receiver_id: str = "RECEIVER"
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    #: GS02/GS03 application codes; empty means the ISA sender/receiver id
    application_sender: str = ""
    application_receiver: str = ""
    interchange_control_number: int = 1
    group_control_number: int = 1
    date: dt.date | None = None
    time: str = ""
    usage_indicator: str = "P"
    ack_requested: bool = False


def format_amount(value: Decimal) -> str:
    """A Decimal in X12 R form: optional minus, digits, optional point; no exponent."""
    if not value.is_finite():
        raise X12WriteError(f"amount {value} is not a finite number")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "", "-"):
        text = "0"
    return text


def _opt_amount(value: Decimal | None) -> str:
    return "" if value is None else format_amount(value)


def _d8(value: dt.date | None) -> str:
    if value is None:
        return ""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def _components(text: str) -> list[str]:
    """Our models keep composites with ':' between components, whatever the file used."""
    return text.split(":")


@dataclass(slots=True)
class _Segments:
    """Segments of one transaction set as element lists, checked and rendered together."""

    d: Delimiters
    items: list[list[Element]] = field(default_factory=list)

    def add(self, tag: str, *elements: Element) -> int:
        els: list[Element] = [tag, *elements]
        while len(els) > 1 and _is_empty(els[-1]):
            els.pop()
        self.items.append(els)
        return len(self.items) - 1

    def render(self) -> list[str]:
        return [_render(els, self.d) for els in self.items]


def _is_empty(el: Element) -> bool:
    if isinstance(el, str):
        return el == ""
    return all(c == "" for c in el)


def _render(els: list[Element], d: Delimiters) -> str:
    tag = els[0]
    assert isinstance(tag, str)
    forbidden = {d.element, d.component, d.segment, "\r", "\n"}
    if d.repetition:
        forbidden.add(d.repetition)
    out = [tag]
    for i, el in enumerate(els[1:], start=1):
        parts = [el] if isinstance(el, str) else list(el)
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        for part in parts:
            if any(ch in part for ch in forbidden):
                raise X12WriteError(
                    f"{tag}{i:02d} holds a delimiter or line break of this interchange; "
                    "choose other delimiters or clean the value"
                )
        out.append(d.component.join(parts))
    return d.element.join(out)


def _check_delimiters(d: Delimiters, line_break: str) -> None:
    chars = [d.element, d.component, d.repetition, d.segment]
    for ch in chars:
        if len(ch) != 1 or ch.isalnum() or ch == " ":
            raise X12WriteError("delimiters must be single non-alphanumeric, non-space characters")
    if len(set(chars)) != 4:
        raise X12WriteError("element, component, repetition and segment delimiters must differ")
    if line_break not in ("", "\n", "\r\n"):
        raise X12WriteError("line_break must be '', '\\n' or '\\r\\n'")
    if line_break and d.segment in "\r\n":
        raise X12WriteError("a line break after a line-break terminator would add empty segments")
    if d.element in "\r\n" or d.component in "\r\n" or d.repetition in "\r\n":
        raise X12WriteError("only the segment terminator may be a line break")


def _isa(env: Envelope, d: Delimiters, day: dt.date, time: str, control: int) -> str:
    def fixed(value: str, width: int, what: str) -> str:
        if len(value) > width:
            raise X12WriteError(f"{what} is longer than {width} characters")
        return value.ljust(width)

    if not 0 < control <= 999_999_999:
        raise X12WriteError("interchange control number must be 1..999999999")
    elements = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        fixed(env.sender_qualifier, 2, "ISA05"),
        fixed(env.sender_id, 15, "ISA06"),
        fixed(env.receiver_qualifier, 2, "ISA07"),
        fixed(env.receiver_id, 15, "ISA08"),
        f"{day.year % 100:02d}{day.month:02d}{day.day:02d}",
        fixed(time, 4, "ISA10"),
        d.repetition,
        "00501",
        f"{control:09d}",
        "1" if env.ack_requested else "0",
        fixed(env.usage_indicator, 1, "ISA15"),
        d.component,
    ]
    for i, value in enumerate(elements[1:16], start=1):
        if any(ch in value for ch in (d.element, d.component, d.segment, d.repetition)) and i != 11:
            raise X12WriteError(f"ISA{i:02d} holds a delimiter of this interchange")
    text = d.element.join(elements)
    assert len(text) == 105
    return text


def _interchange(
    groups: list[tuple[str, str, list[list[str]]]],
    env: Envelope,
    d: Delimiters,
    line_break: str,
) -> bytes:
    """Wrap transaction sets (already rendered, ST..SE) as (functional id, GS08, sets) groups."""
    _check_delimiters(d, line_break)
    now = dt.datetime.now(dt.UTC)
    day = env.date if env.date is not None else now.date()
    time = env.time or now.strftime("%H%M")
    if len(time) not in (4, 6, 7, 8) or not time.isdigit():
        raise X12WriteError("envelope time must be HHMM (or HHMMSS[d[d]])")
    segs = [_isa(env, d, day, time[:4], env.interchange_control_number)]
    gs_sender = env.application_sender or env.sender_id
    gs_receiver = env.application_receiver or env.receiver_id
    for gi, (functional_id, guide, sets) in enumerate(groups):
        gcn = str(env.group_control_number + gi)
        segs.append(
            _render(
                ["GS", functional_id, gs_sender, gs_receiver, _d8(day), time, gcn, "X", guide], d
            )
        )
        for tx in sets:
            segs.extend(tx)
        segs.append(_render(["GE", str(len(sets)), gcn], d))
    segs.append(_render(["IEA", str(len(groups)), f"{env.interchange_control_number:09d}"], d))
    joiner = d.segment + line_break
    return (joiner.join(segs) + joiner).encode("utf-8")


def _close(st: _Segments, control: str) -> list[str]:
    st.add("SE", str(len(st.items) + 1), control)
    return st.render()


def _control_numbers(given: Iterable[str]) -> list[str]:
    """ST02 per set: the model's own if present and unique, else its 1-based position."""
    out: list[str] = []
    for i, cn in enumerate(given, start=1):
        out.append(cn if cn and cn not in out else f"{i:04d}")
    return out


# --------------------------------------------------------------------------- 835


def write_835(
    remittances: Sequence[Remittance],
    *,
    delimiters: Delimiters = STANDARD_DELIMITERS,
    line_break: str = "",
    envelope: Envelope = Envelope(),
    payer_contact: Sequence[str] = (),
) -> bytes:
    """One interchange with one HP group (005010X221A1) holding one 835 per remittance.

    ``payer_contact`` holds the elements of a PER segment (``BL``, name, ``TE``, number...)
    written in the payer loop (1000A) of every remittance that names its payer: the guide
    requires the payer's technical contact, and our models do not carry contacts.
    """
    controls = _control_numbers(r.header.control_number for r in remittances)
    sets = [
        _remittance(r, cn, delimiters, payer_contact)
        for r, cn in zip(remittances, controls, strict=True)
    ]
    return _interchange([("HP", GUIDE_835, sets)], envelope, delimiters, line_break)


def _remittance(
    r: Remittance, control: str, d: Delimiters, payer_contact: Sequence[str] = ()
) -> list[str]:
    st = _Segments(d)
    st.add("ST", "835", control)
    st.add(
        "BPR",
        r.handling_code,
        format_amount(r.payment_amount),
        r.credit_debit,
        r.payment_method,
        r.payment_format,
        *([""] * 10),
        _d8(r.payment_date),
    )
    if r.trace_number or r.trace_type or r.originator_id or r.originator_supplemental:
        st.add("TRN", r.trace_type, r.trace_number, r.originator_id, r.originator_supplemental)
    refs = list(r.references)
    if r.receiver_id and not any(ref.qualifier == "EV" for ref in refs):
        refs.insert(0, Reference("EV", r.receiver_id))
    for ref in refs:
        st.add("REF", ref.qualifier, ref.value)
    if r.production_date is not None:
        st.add("DTM", "405", _d8(r.production_date))
    for party in (r.payer, r.payee):
        if party is not None:
            st.add("N1", party.entity_code, party.name, party.id_qualifier, party.id)
            _address(st, party)
            for ref in party.references:
                st.add("REF", ref.qualifier, ref.value)
            if party is r.payer and payer_contact:
                st.add("PER", *payer_contact)
    if r.claims:
        st.add("LX", "1")
    for claim in r.claims:
        _claim_payment(st, claim)
    _plb(st, r.provider_adjustments)
    return _close(st, control)


def _address(st: _Segments, e: Entity) -> None:
    a = e.address
    if a is None:
        return
    if a.line1 or a.line2:
        st.add("N3", a.line1, a.line2)
    if a.city or a.state or a.postal_code:
        st.add("N4", a.city, a.state, a.postal_code)


def _cas(st: _Segments, adjustments: Sequence[Adjustment]) -> None:
    """CAS segments: consecutive adjustments of one group share a segment, six at most."""
    i = 0
    while i < len(adjustments):
        group = adjustments[i].group
        triplets: list[Element] = []
        while (
            i < len(adjustments)
            and adjustments[i].group == group
            and len(triplets) < 3 * _MAX_CAS_TRIPLETS
        ):
            a = adjustments[i]
            triplets += [a.reason, format_amount(a.amount), _opt_amount(a.quantity)]
            i += 1
        st.add("CAS", group, *triplets)


def _nm1(st: _Segments, e: Entity) -> None:
    kind = "1" if e.first_name or e.middle_name else "2"
    st.add(
        "NM1",
        e.entity_code,
        kind,
        e.name,
        e.first_name,
        e.middle_name,
        "",
        "",
        e.id_qualifier,
        e.id,
    )


def _claim_payment(st: _Segments, c: ClaimPayment) -> None:
    st.add(
        "CLP",
        c.patient_control_number,
        c.status_code,
        format_amount(c.charge),
        format_amount(c.paid),
        _opt_amount(c.patient_responsibility),
        c.filing_indicator,
        c.payer_claim_control_number,
        c.facility_code,
        c.frequency_code,
        "",
        c.drg_code,
        _opt_amount(c.drg_weight),
        _opt_amount(c.discharge_fraction),
    )
    _cas(st, c.adjustments)
    for e in (c.patient, c.insured, c.corrected_patient, c.rendering_provider, c.crossover_carrier):
        if e is not None:
            _nm1(st, e)
    if c.inpatient_adjudication:
        st.add("MIA", *c.inpatient_adjudication)
    if c.outpatient_adjudication:
        st.add("MOA", *c.outpatient_adjudication)
    for ref in c.references:
        st.add("REF", ref.qualifier, ref.value)
    if c.statement_from is not None:
        st.add("DTM", "232", _d8(c.statement_from))
    if c.statement_to is not None:
        st.add("DTM", "233", _d8(c.statement_to))
    for qual, day in c.dates.items():
        st.add("DTM", qual, _d8(day))
    if c.received_date is not None:
        st.add("DTM", "050", _d8(c.received_date))
    for qual, amount in c.amounts.items():
        st.add("AMT", qual, format_amount(amount))
    for qual, qty in c.quantities.items():
        st.add("QTY", qual, format_amount(qty))
    for s in c.services:
        _service_payment(st, s)


def _service_payment(st: _Segments, s: ServicePayment) -> None:
    st.add(
        "SVC",
        _components(s.procedure),
        format_amount(s.charge),
        format_amount(s.paid),
        s.revenue_code,
        _opt_amount(s.units),
        _components(s.original_procedure) if s.original_procedure else "",
        _opt_amount(s.original_units),
    )
    start, end = s.service_date, s.service_date_end
    if start is not None and start == end:
        st.add("DTM", "472", _d8(start))
    else:
        if start is not None:
            st.add("DTM", "150", _d8(start))
        if end is not None:
            st.add("DTM", "151", _d8(end))
    _cas(st, s.adjustments)
    if s.line_control_number:
        st.add("REF", "6R", s.line_control_number)
    for ref in s.references:
        st.add("REF", ref.qualifier, ref.value)
    for qual, amount in s.amounts.items():
        st.add("AMT", qual, format_amount(amount))
    if s.allowed is not None and "B6" not in s.amounts:
        st.add("AMT", "B6", format_amount(s.allowed))
    for remark in s.remark_codes:
        qual, _, code = remark.partition(":")
        st.add("LQ", qual, code)


def _plb(st: _Segments, adjustments: Sequence[ProviderAdjustment]) -> None:
    """PLB segments: consecutive pairs of one provider and fiscal date share one, six at most."""
    i = 0
    while i < len(adjustments):
        first = adjustments[i]
        pairs: list[Element] = []
        while (
            i < len(adjustments)
            and len(pairs) < 2 * _MAX_PLB_PAIRS
            and adjustments[i].provider_id == first.provider_id
            and adjustments[i].fiscal_period_date == first.fiscal_period_date
        ):
            a = adjustments[i]
            pairs += [[a.reason, a.reference] if a.reference else a.reason, format_amount(a.amount)]
            i += 1
        st.add("PLB", first.provider_id, _d8(first.fiscal_period_date), *pairs)


# --------------------------------------------------------------------------- 837


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
        controls = _control_numbers(s.header.control_number for s in subs)
        sets = [
            _submission(s, cn, delimiters, submitter_contact, patient_status)
            for s, cn in zip(subs, controls, strict=True)
        ]
        groups.append(("HC", GUIDES_837[kind], sets))
    return _interchange(groups, envelope, delimiters, line_break)


def _entity_block(st: _Segments, e: Entity) -> None:
    """NM1 with the N3/N4/REF that the 837 parser attaches to the entity just named."""
    _nm1(st, e)
    _address(st, e)
    for ref in e.references:
        st.add("REF", ref.qualifier, ref.value)


def _patient_is_subscriber(c: Claim) -> bool:
    sub = c.subscriber
    person = sub.person if sub is not None else None
    dob = sub.date_of_birth if sub is not None else None
    return c.patient == person and c.patient_date_of_birth == dob


class _Hierarchy:
    """HL numbering with the child flag (HL04) patched in when a child appears."""

    def __init__(self, st: _Segments) -> None:
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
    st = _Segments(d)
    st.add("ST", "837", control, GUIDES_837[s.kind])
    st.add(
        "BHT",
        "0019",
        s.purpose_code,
        s.reference_id,
        _d8(s.created_date),
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
                st.add("DMG", "D8", _d8(c.patient_date_of_birth))
            under_patient = True
        _claim(st, c, s.kind, patient_status)
    return _close(st, control)


def _subscriber(st: _Segments, sub: Subscriber | None, payer: Entity | None) -> None:
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
            st.add("DMG", "D8", _d8(sub.date_of_birth), sub.gender)
    if payer is not None:
        _entity_block(st, payer)


def _period(start: dt.date, end: dt.date | None) -> tuple[str, str]:
    if end is None or end == start:
        return "D8", _d8(start)
    return "RD8", f"{_d8(start)}-{_d8(end)}"


def _moment(day: dt.date | None, hour: dt.time | None) -> tuple[str, str]:
    """D8 (a day), DT (day and hour, CCYYMMDDHHMM) or TM (the hour alone, HHMM)."""
    if hour is None:
        assert day is not None
        return "D8", _d8(day)
    hhmm = f"{hour.hour:02d}{hour.minute:02d}"
    return ("TM", hhmm) if day is None else ("DT", _d8(day) + hhmm)


def _claim(st: _Segments, c: Claim, kind: str, patient_status: str = "") -> None:
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
            st.add("DTP", "434", "RD8", f"{_d8(c.service_date)}-{_d8(end)}")
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
    codes = [_components(code) for code in c.diagnosis_codes]
    for i in range(0, len(codes), _MAX_HI_CODES):
        st.add("HI", *codes[i : i + _MAX_HI_CODES])
    for other in c.other_payers:
        _other_payer(st, other, c.subscriber)
    # SV107 (837P) must point at a diagnosis; our models keep none per line, so every line
    # points at the principal one
    pointer = "1" if c.diagnosis_codes else ""
    for line in c.lines:
        _claim_line(st, line, kind, pointer)


def _other_payer(st: _Segments, o: OtherPayer, subscriber: Subscriber | None) -> None:
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
    _cas(st, o.adjustments)
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


def _claim_line(st: _Segments, ln: ClaimLine, kind: str, pointer: str = "") -> None:
    st.add("LX", str(ln.line_number))
    proc = _components(ln.procedure)
    if kind == "837I":
        st.add(
            "SV2",
            ln.revenue_code,
            proc,
            format_amount(ln.charge),
            ln.unit_basis,
            _opt_amount(ln.units),
            "",
            _opt_amount(ln.non_covered),
        )
    elif kind == "837D":
        st.add(
            "SV3",
            proc,
            format_amount(ln.charge),
            ln.place_of_service,
            "",
            "",
            _opt_amount(ln.units),
        )
    else:
        st.add(
            "SV1",
            proc,
            format_amount(ln.charge),
            ln.unit_basis,
            _opt_amount(ln.units),
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
