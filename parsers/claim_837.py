"""837 professional, institutional and dental (005010X222A1/X223A2/X224A2) claim parser.

The 837 is hierarchical (HL 20 billing provider → 22 subscriber → 23 patient); each CLM
inherits the provider, subscriber, payer and patient of the HL it sits under. Claims are
yielded one at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterator
from decimal import Decimal

from parsers.errors import StructureError, TruncatedError
from parsers.x12.context import TxContext
from parsers.x12.values import composite, date8, date_range, decimal, lenient_format, period
from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Address, Entity, Reference
from schemas.remittance import Adjustment

_ZERO = Decimal(0)
_PAD = [""] * 20
_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST"})
Item = ClaimSubmission | Claim
#: DTP01 of the claim's service period (472 service, 434 statement): D8, RD8, DT or RDT
_RANGE_DATES = frozenset({"472", "434"})
#: DTP01 of one moment: 435 admission (D8 or DT), 096 discharge (D8, DT, or TM: the hour)
_POINT_DATES = frozenset({"435", "096"})


def _point(fmt: str, text: str) -> tuple[dt.date | None, dt.time | None]:
    """(date, time of day) of a D8, DT or TM value; a range here is an error."""
    value = period(lenient_format(fmt, text), text)
    if isinstance(value, tuple):
        raise ValueError(
            f"{fmt} is a range; this date is one day (D8), a day and time (DT) or an hour (TM)"
        )
    if isinstance(value, dt.datetime):
        return value.date(), value.time()
    if isinstance(value, dt.time):
        return None, value
    return value, None


def _pad(els: list[str], size: int) -> list[str]:
    if len(els) < size:
        els.extend(_PAD[: size - len(els)])
    return els


def parse_837(  # noqa: C901 - the 837 hot loop, one pass over segments (bench)
    segments: Iterator[str], ctx: TxContext, kind: str
) -> Generator[Item, None, tuple[int, list[str]]]:
    """Parse from the segment after ST up to and including SE (see ``parse_835``)."""
    d = ctx.delimiters
    sep, comp, rep = d.element, d.component, d.repetition
    sub = ClaimSubmission(header=ctx.header, kind=kind)
    header_open = True
    n = 1
    billing: Entity | None = None
    subscriber: Subscriber | None = None
    payer: Entity | None = None
    patient: Entity | None = None
    patient_dob = None
    entity: Entity | None = None  # receives N3/N4/REF
    claim: Claim | None = None
    line: ClaimLine | None = None
    other: OtherPayer | None = None
    level = ""
    last_hl = ""
    hl_subscriber: dict[str, tuple[Subscriber | None, Entity | None]] = {}

    def money(text: str, seg: str, el: int, required: bool = True) -> Decimal:
        if not text:
            if required:
                ctx.error("missing_element", f"{seg}{el:02d} is required", n, seg, el, "1")
            return _ZERO
        try:
            return decimal(text)
        except ValueError as exc:
            ctx.error("bad_number", f"{seg}{el:02d} {exc}", n, seg, el, "6")
            return _ZERO

    def quantity(text: str, seg: str, el: int) -> Decimal | None:
        if not text:
            return None
        try:
            return decimal(text)
        except ValueError as exc:
            ctx.error("bad_number", f"{seg}{el:02d} {exc}", n, seg, el, "6")
            return None

    def finish_claim(c: Claim) -> Claim:
        total = sum((ln.charge for ln in c.lines), _ZERO)
        if c.lines and total != c.total_charge:
            ctx.warning(
                "claim_charge_mismatch",
                f"CLM02 {c.total_charge} does not equal the sum of line charges {total}",
                c.segment_index,
                "CLM",
                2,
            )
        return c

    for seg in segments:
        n += 1
        els = seg.split(sep)
        tag = els[0]
        if tag == "SV1" or tag == "SV2" or tag == "SV3":
            if line is None or claim is None:
                ctx.error(
                    "unexpected_segment", f"{tag} outside a service line", n, tag, None, "2", "IK3"
                )
                continue
            if tag == "SV1":
                _pad(els, 6)
                line.procedure = composite(els[1], comp)
                line.charge = money(els[2], tag, 2)
                line.unit_basis = els[3]
                line.units = quantity(els[4], tag, 4)
                line.place_of_service = els[5]
            elif tag == "SV2":
                _pad(els, 8)
                line.revenue_code = els[1]
                line.procedure = composite(els[2], comp)
                line.charge = money(els[3], tag, 3)
                line.unit_basis = els[4]
                line.units = quantity(els[5], tag, 5)
                line.non_covered = quantity(els[7], tag, 7)
            else:
                _pad(els, 7)
                line.procedure = composite(els[1], comp)
                line.charge = money(els[2], tag, 2)
                line.place_of_service = els[3]
                line.units = quantity(els[6], tag, 6)
        elif tag == "DTP":
            _pad(els, 4)
            qual, fmt, text = els[1], els[2], els[3]
            try:
                if qual == "472" and line is not None:
                    line.service_date, line.service_date_end = date_range(fmt, text)
                elif qual in _RANGE_DATES and line is None:
                    start, end = date_range(fmt, text)
                    if claim is not None:
                        claim.service_date, claim.service_date_end = start, end
                elif qual in _POINT_DATES and line is None:
                    day, hour = _point(fmt, text)
                    if claim is not None:
                        if qual == "435":
                            claim.admission_date, claim.admission_time = day, hour
                        else:
                            claim.discharge_date, claim.discharge_time = day, hour
                else:
                    # any other date is not kept, but its value must still read as its
                    # format says (a DT that is not CCYYMMDDHHMM is an error, not ignored)
                    period(lenient_format(fmt, text), text)
            except ValueError as exc:
                ctx.error("bad_date", f"DTP*{qual} DTP03 {exc}", n, tag, 3, "8")
                continue
        elif tag == "REF":
            _pad(els, 3)
            ref = Reference(els[1], els[2])
            if line is not None:
                if els[1] == "6R":
                    line.line_control_number = els[2]
                else:
                    line.references.append(ref)
            elif claim is not None and other is None:
                if els[1] == "F8":
                    claim.original_claim_number = els[2]
                elif els[1] in ("G1", "9F"):
                    claim.prior_authorization = els[2]
                claim.references.append(ref)
            elif entity is not None:
                entity.references.append(ref)
        elif tag == "LX":
            if claim is None:
                ctx.error("unexpected_segment", "LX outside a claim", n, tag, None, "2", "IK3")
                continue
            try:
                number = int(els[1]) if len(els) > 1 else len(claim.lines) + 1
            except ValueError:
                ctx.error("bad_number", f"LX01 {els[1]!r} is not a number", n, tag, 1, "6")
                number = len(claim.lines) + 1
            other = None
            # positional (keyword binding of a slotted dataclass costs about twice as much)
            line = ClaimLine(number, "", _ZERO)
            line.segment_index = n
            claim.lines.append(line)
        elif tag == "NM1":
            _pad(els, 10)
            # positional: code, name, first, middle, id qualifier, id
            ent = Entity(els[1], els[3], els[4], els[5], els[8], els[9])
            code = els[1]
            entity = ent
            if claim is None:
                if code == "41":
                    sub.submitter = ent
                elif code == "40":
                    sub.receiver = ent
                elif code == "85":
                    billing = ent
                elif code == "IL":
                    if subscriber is not None:
                        subscriber.person = ent
                    if level == "22":
                        patient = ent
                elif code == "PR":
                    payer = ent
                elif code == "QC":
                    patient = ent
            elif other is not None and line is None and code == "PR":
                other.payer_id = ent.id
                other.payer_name = ent.name
        elif tag == "CAS":
            if other is not None and line is None:
                group = els[1] if len(els) > 1 else ""
                for i in range(2, min(len(els), 20), 3):
                    if els[i]:
                        amount = money(els[i + 1] if i + 1 < len(els) else "", tag, i + 1)
                        other.adjustments.append(Adjustment(group, els[i], amount))
        elif tag == "AMT":
            if other is not None and line is None and len(els) > 2 and els[1] == "D":
                other.paid = money(els[2], tag, 2)
        elif tag == "HI":
            if claim is not None:
                for el in els[1:]:
                    for part in el.split(rep) if rep else (el,):
                        if part:
                            claim.diagnosis_codes.append(composite(part, comp))
        elif tag == "CLM":
            if header_open:
                header_open = False
                yield sub
            if claim is not None:
                yield finish_claim(claim)
            _pad(els, 6)
            facility, _, rest = els[5].partition(comp)
            qualifier, _, frequency = rest.partition(comp)
            # positional, in field order (keywords cost about twice as much)
            claim = Claim(
                els[1],
                money(els[2], tag, 2),
                facility,
                qualifier,
                frequency,
                billing,
                subscriber,
                payer,
                patient,
                patient_dob,
            )
            claim.segment_index = n
            if not els[1]:
                ctx.error("missing_element", "CLM01 is required", n, tag, 1, "1")
            line = None
            other = None
            entity = None
        elif tag == "SBR":
            _pad(els, 10)
            if claim is None:
                subscriber = Subscriber(
                    sequence=els[1],
                    relationship=els[2],
                    group_number=els[3],
                    filing_indicator=els[9],
                )
            else:
                other = OtherPayer(sequence=els[1], filing_indicator=els[9])
                claim.other_payers.append(other)
                line = None
        elif tag == "DMG":
            if claim is None and len(els) > 2 and els[2]:
                try:
                    dob = date8(els[2])
                except ValueError as exc:
                    ctx.error("bad_date", f"DMG02 {exc}", n, tag, 2, "8")
                    continue
                if level == "22" and subscriber is not None:
                    subscriber.date_of_birth = dob
                    subscriber.gender = els[3] if len(els) > 3 else ""
                patient_dob = dob
        elif tag == "HL":
            _pad(els, 5)
            if claim is not None:
                yield finish_claim(claim)
                claim = None
                line = None
                other = None
            level = els[3]
            if level == "20":
                billing = None
                subscriber = None
                payer = None
            elif level == "22":
                subscriber = None
                payer = None
                patient = None
                patient_dob = None
            elif level == "23":
                parent = hl_subscriber.get(els[2])
                if parent is not None:
                    subscriber, payer = parent
                patient = None
                patient_dob = None
            entity = None
            last_hl = els[1]
        elif tag == "N3" or tag == "N4":
            if entity is None:
                continue
            if entity.address is None:
                entity.address = Address()
            a = entity.address
            if tag == "N3":
                a.line1 = els[1] if len(els) > 1 else ""
                a.line2 = els[2] if len(els) > 2 else ""
            else:
                a.city = els[1] if len(els) > 1 else ""
                a.state = els[2] if len(els) > 2 else ""
                a.postal_code = els[3] if len(els) > 3 else ""
        elif tag == "BHT":
            _pad(els, 5)
            sub.purpose_code = els[2]
            sub.reference_id = els[3]
            if els[4]:
                try:
                    sub.created_date = date8(els[4])
                except ValueError as exc:
                    ctx.error("bad_date", f"BHT04 {exc}", n, tag, 4, "8")
        elif tag == "SE":
            if header_open:
                yield sub
            if claim is not None:
                yield finish_claim(claim)
            return n, els
        elif tag in _ENVELOPE:
            raise StructureError(
                f"transaction {ctx.header.control_number} is not closed by SE before {tag}",
                ctx.location(n, tag),
            )
        if level == "22" and claim is None and (tag == "NM1" or tag == "SBR"):
            # remember this subscriber HL so a patient HL (23) under it inherits it
            hl_subscriber[last_hl] = (subscriber, payer)
    raise TruncatedError(
        f"file ends inside transaction {ctx.header.control_number} (no SE)",
        ctx.location(n, "SE"),
    )
