"""835 (005010X221A1) transaction parser: segments to canonical remittance models.

The loop is written for speed (the 835 is our hottest input): one ``split`` per segment,
dispatch on the segment id with the most frequent ids first, Decimal built once per amount,
findings only when something is wrong. Claims are yielded one at a time so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from decimal import Decimal, InvalidOperation

from parsers.errors import StructureError, TruncatedError
from parsers.remittance_balance import Money, balance_claim, balance_line, balance_transaction
from parsers.x12.context import TxContext
from parsers.x12.values import (
    cached_date8,
    composite,
    date8,
    decimal,
    is_numeric_text,
)
from schemas.common import Address, Entity, Reference
from schemas.remittance import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

_ZERO = Decimal(0)
_PAD = [""] * 20
_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST"})
Item = Remittance | ClaimPayment | ProviderAdjustment


def _entity(els: list[str]) -> Entity:
    """NM1 → Entity."""
    if len(els) < 10:
        els = els + _PAD[: 10 - len(els)]
    # positional: code, name, first, middle, id qualifier, id (keywords cost twice as much)
    return Entity(els[1], els[3], els[4], els[5], els[8], els[9])


def parse_835(  # noqa: C901 - the 835 hot loop, one pass over segments (bench)
    segments: Iterator[str], ctx: TxContext
) -> Generator[Item, None, tuple[int, list[str]]]:
    """Parse from the segment after ST up to and including SE.

    Yields the Remittance header (once its header loops are read), then every ClaimPayment and
    ProviderAdjustment. Returns (segments counted incl. ST and SE, SE elements).
    """
    d = ctx.delimiters
    sep = d.element
    comp = d.component
    money = Money(ctx)
    remit = Remittance(
        header=ctx.header,
        handling_code="",
        payment_amount=_ZERO,
        credit_debit="",
        payment_method="",
    )
    header_open = True
    entity: Entity | None = None  # N1 loop receiving N3/N4/REF in the header
    claim: ClaimPayment | None = None
    svc: ServicePayment | None = None
    total_paid = _ZERO
    total_plb = _ZERO
    n = 1  # ST is segment 1
    claim_count = 0
    # running CAS totals, so balancing needs no second pass over the adjustments
    line_adj = claim_adj = _ZERO
    numeric = is_numeric_text
    plain_comp = comp == ":"  # composites are stored ':'-joined; most files already are
    known_date = cached_date8

    for n, seg in enumerate(segments, 2):  # n: segment number in the transaction (ST is 1)
        els = seg.split(sep)
        tag = els[0]
        if tag == "DTM":
            try:  # indexing without len() checks: short segments are the rare case
                qual = els[1]
                text = els[2]
            except IndexError:
                qual = els[1] if len(els) > 1 else ""
                text = ""
            value = known_date(text)  # dates repeat: a dict hit, not a call
            if value is None:
                try:
                    value = date8(text)
                except ValueError as exc:
                    ctx.error("bad_date", f"DTM02 {exc}", n, tag, 2, "8")
                    continue
            if svc is not None:
                if qual == "472" or qual == "150":
                    svc.service_date = value
                    if qual == "472":
                        svc.service_date_end = value
                elif qual == "151":
                    svc.service_date_end = value
            elif claim is not None:
                if qual == "232":
                    claim.statement_from = value
                elif qual == "233":
                    claim.statement_to = value
                elif qual == "050":
                    claim.received_date = value
                else:
                    claim.dates[qual] = value
            elif qual == "405":
                remit.production_date = value
        elif tag == "CAS":
            target = svc if svc is not None else claim
            if target is None:
                ctx.error("unexpected_segment", "CAS outside a claim", n, tag, None, "2", "IK3")
                continue
            group = els[1] if len(els) > 1 else ""
            if not group:
                ctx.error("missing_element", "CAS01 is required", n, tag, 1, "1")
            adj = target.adjustments
            size = len(els)
            for i in range(2, min(size, 20), 3):
                reason = els[i]
                if not reason:
                    continue
                text = els[i + 1] if i + 1 < size else ""
                # fast path inline (the commonest element of an 835); errors go through money()
                try:
                    amount = Decimal(text) if numeric(text) else money(text, n, tag, i + 1)
                except InvalidOperation:
                    amount = money(text, n, tag, i + 1)
                if svc is not None:
                    line_adj += amount
                claim_adj += amount
                qty_text = els[i + 2] if i + 2 < size else ""
                qty = None
                if qty_text:
                    try:
                        qty = decimal(qty_text)
                    except ValueError as exc:
                        ctx.error("bad_number", f"CAS{i + 2:02d} {exc}", n, tag, i + 2, "6")
                adj.append(Adjustment(group, reason, amount, qty))
        elif tag == "REF":
            try:
                qual = els[1]
                ref_value = els[2]
            except IndexError:
                qual = els[1] if len(els) > 1 else ""
                ref_value = ""
            if svc is not None and qual == "6R":  # the commonest REF: no Reference object
                svc.line_control_number = ref_value
                continue
            ref = Reference(qual, ref_value)
            if svc is not None:
                svc.references.append(ref)
            elif claim is not None:
                claim.references.append(ref)
            elif entity is not None:
                entity.references.append(ref)
            else:
                remit.references.append(ref)
                if qual == "EV":
                    remit.receiver_id = ref.value
        elif tag == "SVC":
            if claim is None:
                ctx.error("unexpected_segment", "SVC outside a claim", n, tag, None, "2", "IK3")
                continue
            if len(els) < 8:
                els.extend(_PAD[: 8 - len(els)])
            if svc is not None:
                balance_line(svc, line_adj, ctx)
            line_adj = _ZERO
            units = None
            if els[5]:
                try:
                    units = decimal(els[5])
                except ValueError as exc:
                    ctx.error("bad_number", f"SVC05 {exc}", n, tag, 5, "6")
            procedure = els[1] if plain_comp else composite(els[1], comp)
            text = els[2]
            try:
                charge = Decimal(text) if numeric(text) else money(text, n, tag, 2)
            except InvalidOperation:
                charge = money(text, n, tag, 2)
            text = els[3]
            try:
                paid = Decimal(text) if numeric(text) else money(text, n, tag, 3)
            except InvalidOperation:
                paid = money(text, n, tag, 3)
            # positional (keyword binding of a slotted dataclass costs about twice as much):
            # procedure, charge, paid, revenue code, units, original procedure
            svc = ServicePayment(
                procedure,
                charge,
                paid,
                els[4],
                units,
                els[6] if plain_comp else composite(els[6], comp),
            )
            svc.segment_index = n
            if els[7]:
                try:
                    svc.original_units = decimal(els[7])
                except ValueError as exc:
                    ctx.error("bad_number", f"SVC07 {exc}", n, tag, 7, "6")
            if not els[1]:
                ctx.error("missing_element", "SVC01 is required", n, tag, 1, "1")
            claim.services.append(svc)
        elif tag == "AMT":
            try:
                qual = els[1]
                text = els[2]
            except IndexError:
                qual = els[1] if len(els) > 1 else ""
                text = ""
            try:
                amount = Decimal(text) if numeric(text) else money(text, n, tag, 2)
            except InvalidOperation:
                amount = money(text, n, tag, 2)
            if svc is not None:
                svc.amounts[qual] = amount
                if qual == "B6":
                    svc.allowed = amount
            elif claim is not None:
                claim.amounts[qual] = amount
        elif tag == "NM1":
            ent = _entity(els)
            if claim is None:
                ctx.warning("unexpected_segment", "NM1 outside a claim ignored", n, tag)
                continue
            code = ent.entity_code
            if code == "QC":
                claim.patient = ent
            elif code == "IL":
                claim.insured = ent
            elif code == "74":
                claim.corrected_patient = ent
            elif code == "82":
                claim.rendering_provider = ent
            elif code == "TT":
                claim.crossover_carrier = ent
        elif tag == "CLP":
            if header_open:
                header_open = False
                yield remit
            if svc is not None:
                balance_line(svc, line_adj, ctx)
                svc = None
            if claim is not None:
                balance_claim(claim, claim_adj, ctx)
                yield claim
            if len(els) < 14:
                els.extend(_PAD[: 14 - len(els)])
            claim_count += 1
            claim_adj = _ZERO
            text = els[3]
            try:
                charge = Decimal(text) if numeric(text) else money(text, n, tag, 3)
            except InvalidOperation:
                charge = money(text, n, tag, 3)
            text = els[4]
            try:
                paid = Decimal(text) if numeric(text) else money(text, n, tag, 4)
            except InvalidOperation:
                paid = money(text, n, tag, 4)
            # positional, in field order: CLP01, CLP02, charge, paid, patient responsibility,
            # filing indicator, payer claim control number, facility, frequency, DRG
            claim = ClaimPayment(
                els[1],
                els[2],
                charge,
                paid,
                money(els[5], n, tag, 5, False) if els[5] else None,
                els[6],
                els[7],
                els[8],
                els[9],
                els[11],
            )
            claim.segment_index = n
            if els[12]:
                claim.drg_weight = money(els[12], n, tag, 12, False)
            if els[13]:
                claim.discharge_fraction = money(els[13], n, tag, 13, False)
            if not els[1]:
                ctx.error("missing_element", "CLP01 is required", n, tag, 1, "1")
            if not els[2]:
                ctx.error("missing_element", "CLP02 is required", n, tag, 2, "1")
            total_paid += claim.paid
        elif tag == "LQ":
            if svc is not None and len(els) > 2:
                svc.remark_codes.append(f"{els[1]}:{els[2]}")
        elif tag == "QTY":
            if claim is not None and svc is None and len(els) > 2:
                try:
                    claim.quantities[els[1]] = decimal(els[2])
                except ValueError as exc:
                    ctx.error("bad_number", f"QTY02 {exc}", n, tag, 2, "6")
        elif tag == "MIA" or tag == "MOA":
            if claim is not None:
                if tag == "MIA":
                    claim.inpatient_adjudication = els[1:]
                else:
                    claim.outpatient_adjudication = els[1:]
        elif tag == "PLB":
            if header_open:
                header_open = False
                yield remit
            if svc is not None:
                balance_line(svc, line_adj, ctx)
                svc = None
            if claim is not None:
                balance_claim(claim, claim_adj, ctx)
                yield claim
                claim = None
            provider = els[1] if len(els) > 1 else ""
            fy = None
            if len(els) > 2 and els[2]:
                try:
                    fy = date8(els[2])
                except ValueError as exc:
                    ctx.error("bad_date", f"PLB02 {exc}", n, tag, 2, "8")
            if len(els) < 5:
                ctx.error(
                    "missing_element", "PLB needs at least one adjustment pair", n, tag, 3, "1"
                )
            for i in range(3, min(len(els), 15), 2):
                if not els[i]:
                    continue
                reason, _, reference = els[i].partition(comp)
                amount = money(els[i + 1] if i + 1 < len(els) else "", n, tag, i + 1)
                total_plb += amount
                plb = ProviderAdjustment(provider, fy, reason, reference, amount, n)
                remit.provider_adjustments.append(plb)
                yield plb
        elif tag == "N1":
            if len(els) < 5:
                els.extend(_PAD[: 5 - len(els)])
            entity = Entity(entity_code=els[1], name=els[2], id_qualifier=els[3], id=els[4])
            if els[1] == "PR":
                remit.payer = entity
            elif els[1] == "PE":
                remit.payee = entity
        elif tag == "N3" or tag == "N4":
            if entity is None or claim is not None:
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
        elif tag == "BPR":
            if len(els) < 17:
                els.extend(_PAD[: 17 - len(els)])
            remit.handling_code = els[1]
            remit.payment_amount = money(els[2], n, tag, 2)
            remit.credit_debit = els[3]
            remit.payment_method = els[4]
            remit.payment_format = els[5]
            if els[16]:
                try:
                    remit.payment_date = date8(els[16])
                except ValueError as exc:
                    ctx.error("bad_date", f"BPR16 {exc}", n, tag, 16, "8")
            if remit.payment_amount < 0:
                ctx.error("negative_payment", "BPR02 must not be negative", n, tag, 2, "6")
        elif tag == "TRN":
            if len(els) < 5:
                els.extend(_PAD[: 5 - len(els)])
            remit.trace_type = els[1]
            remit.trace_number = els[2]
            remit.originator_id = els[3]
            remit.originator_supplemental = els[4]
        elif tag == "SE":
            if header_open:
                yield remit
            if svc is not None:
                balance_line(svc, line_adj, ctx)
            if claim is not None:
                balance_claim(claim, claim_adj, ctx)
                yield claim
            balance_transaction(remit, total_paid, total_plb, n, ctx)
            return n, els
        elif tag in _ENVELOPE:
            raise StructureError(
                f"transaction {ctx.header.control_number} is not closed by SE before {tag}",
                ctx.location(n, tag),
            )
        # LX, TS3, TS2, PER, CUR, RDM, MIA/MOA handled above; others are not modelled.
    raise TruncatedError(
        f"file ends inside transaction {ctx.header.control_number} (no SE)",
        ctx.location(n, "SE"),
    )
