"""835 remittances as X12: BPR, TRN, REF, DTM, the payer and payee loops, claim and service
payments with their adjustments, and PLB provider adjustments."""

from __future__ import annotations

from collections.abc import Sequence

from parsers.writer.envelope import (
    STANDARD_DELIMITERS,
    Envelope,
    close_set,
    control_numbers,
    interchange,
)
from parsers.writer.segments import (
    Element,
    Segments,
    add_address,
    add_cas,
    add_nm1,
    components,
    d8,
    format_amount,
    opt_amount,
)
from schemas.common import Reference
from schemas.envelope import Delimiters
from schemas.remittance import ClaimPayment, ProviderAdjustment, Remittance, ServicePayment

GUIDE_835 = "005010X221A1"
_MAX_PLB_PAIRS = 6


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
    controls = control_numbers(r.header.control_number for r in remittances)
    sets = [
        _remittance(r, cn, delimiters, payer_contact)
        for r, cn in zip(remittances, controls, strict=True)
    ]
    return interchange([("HP", GUIDE_835, sets)], envelope, delimiters, line_break)


def _remittance(
    r: Remittance, control: str, d: Delimiters, payer_contact: Sequence[str] = ()
) -> list[str]:
    st = Segments(d)
    st.add("ST", "835", control)
    st.add(
        "BPR",
        r.handling_code,
        format_amount(r.payment_amount),
        r.credit_debit,
        r.payment_method,
        r.payment_format,
        *([""] * 10),
        d8(r.payment_date),
    )
    if r.trace_number or r.trace_type or r.originator_id or r.originator_supplemental:
        st.add("TRN", r.trace_type, r.trace_number, r.originator_id, r.originator_supplemental)
    refs = list(r.references)
    if r.receiver_id and not any(ref.qualifier == "EV" for ref in refs):
        refs.insert(0, Reference("EV", r.receiver_id))
    for ref in refs:
        st.add("REF", ref.qualifier, ref.value)
    if r.production_date is not None:
        st.add("DTM", "405", d8(r.production_date))
    for party in (r.payer, r.payee):
        if party is not None:
            st.add("N1", party.entity_code, party.name, party.id_qualifier, party.id)
            add_address(st, party)
            for ref in party.references:
                st.add("REF", ref.qualifier, ref.value)
            if party is r.payer and payer_contact:
                st.add("PER", *payer_contact)
    if r.claims:
        st.add("LX", "1")
    for claim in r.claims:
        _claim_payment(st, claim)
    _plb(st, r.provider_adjustments)
    return close_set(st, control)


def _claim_payment(st: Segments, c: ClaimPayment) -> None:
    st.add(
        "CLP",
        c.patient_control_number,
        c.status_code,
        format_amount(c.charge),
        format_amount(c.paid),
        opt_amount(c.patient_responsibility),
        c.filing_indicator,
        c.payer_claim_control_number,
        c.facility_code,
        c.frequency_code,
        "",
        c.drg_code,
        opt_amount(c.drg_weight),
        opt_amount(c.discharge_fraction),
    )
    add_cas(st, c.adjustments)
    for e in (c.patient, c.insured, c.corrected_patient, c.rendering_provider, c.crossover_carrier):
        if e is not None:
            add_nm1(st, e)
    if c.inpatient_adjudication:
        st.add("MIA", *c.inpatient_adjudication)
    if c.outpatient_adjudication:
        st.add("MOA", *c.outpatient_adjudication)
    for ref in c.references:
        st.add("REF", ref.qualifier, ref.value)
    if c.statement_from is not None:
        st.add("DTM", "232", d8(c.statement_from))
    if c.statement_to is not None:
        st.add("DTM", "233", d8(c.statement_to))
    for qual, day in c.dates.items():
        st.add("DTM", qual, d8(day))
    if c.received_date is not None:
        st.add("DTM", "050", d8(c.received_date))
    for qual, amount in c.amounts.items():
        st.add("AMT", qual, format_amount(amount))
    for qual, qty in c.quantities.items():
        st.add("QTY", qual, format_amount(qty))
    for s in c.services:
        _service_payment(st, s)


def _service_payment(st: Segments, s: ServicePayment) -> None:
    st.add(
        "SVC",
        components(s.procedure),
        format_amount(s.charge),
        format_amount(s.paid),
        s.revenue_code,
        opt_amount(s.units),
        components(s.original_procedure) if s.original_procedure else "",
        opt_amount(s.original_units),
    )
    start, end = s.service_date, s.service_date_end
    if start is not None and start == end:
        st.add("DTM", "472", d8(start))
    else:
        if start is not None:
            st.add("DTM", "150", d8(start))
        if end is not None:
            st.add("DTM", "151", d8(end))
    add_cas(st, s.adjustments)
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


def _plb(st: Segments, adjustments: Sequence[ProviderAdjustment]) -> None:
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
        st.add("PLB", first.provider_id, d8(first.fiscal_period_date), *pairs)


__all__ = ["GUIDE_835", "write_835"]
