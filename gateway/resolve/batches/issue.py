"""Issuing batches: approved cases grouped (provider × payer × document kind × MSP flag, and
the payer's letter a refund answers), each group split by its layout's ``max_records``, each
batch rendered (data file, letter), stored and its cases moved on; see the package doc."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import tbl
from gateway.logging import get_logger
from gateway.read.batches import BatchProblemRead, BatchRead
from gateway.resolve import letters
from gateway.resolve.batches.disputes import issue_disputes
from gateway.resolve.batches.records import new_batch, store_files
from gateway.resolve.batches.views import get_batch
from gateway.resolve.case_sync import sync_cases
from gateway.resolve.case_views import CaseView, list_cases
from gateway.resolve.documents import (
    REASON_CODES,
    REASON_TEXT,
    Sources,
    claim_facts,
    provider_header,
)
from gateway.resolve.evidence import solicited_by_credit
from gateway.resolve.parties import Parties, parties
from gateway.resolve.pdf import render_document, render_letter
from gateway.resolve.render import RenderError, render
from gateway.resolve.tables import BatchItem
from gateway.resolve.workflow import (
    ISSUED_STATE,
    CaseState,
    NoLayoutError,
    ResolutionError,
    transition,
)
from mappings.loader import MappingError
from mappings.outbound_layouts import Layout, get_layout
from mappings.payers import MEDICARE, PayerDirectory
from schemas.serialize import money

log = get_logger("gateway.resolve")
KIND_OF_METHOD = {
    "refund": "refund_transmittal",
    "offset": "offset",
    "patient_refund": "patient_refunds",
}
PATIENT_LAYOUT = "patient_refund_csv"


@dataclass
class CreateResult:
    batches: list[BatchRead] = field(default_factory=list)
    problems: list[BatchProblemRead] = field(default_factory=list)


def _active_case_ids(s: Session) -> set[int]:
    it = tbl(BatchItem)
    return {
        int(r[0])
        for r in s.execute(
            select(it.c.case_id).where(it.c.case_id.is_not(None), it.c.cancelled.is_(False))
        )
    }


def _msp(c: CaseView, payers: PayerDirectory) -> bool:
    """A Medicare Secondary Payer case: another payer primary to Medicare (never a Medicaid or
    commercial COB credit, which MACs' MSP rules do not cover)."""
    profile = payers.get(c.payer_id or "")
    medicare = profile is not None and profile.programme in MEDICARE
    return medicare and c.cause == "coordination_of_benefits"


def _claim_row(
    s: Session,
    c: CaseView,
    payers: PayerDirectory,
    reference: str,
    people: Parties | None = None,
) -> dict[str, Any]:
    f = claim_facts(s, c.provider_id, c.patient_control_number, c.payer_id, payers)
    who = people.get(c.patient_control_number) if people is not None else None
    return {
        "patient_name": who.name if who else "",
        "payee_name": who.name if who else "",
        "payee_address": who.address if who else (),
        "payee_street1": who.street[0] if who and who.street else "",
        "payee_street2": who.street[1] if who and len(who.street) > 1 else "",
        "payee_city": who.city if who else "",
        "payee_state": who.state if who else "",
        "payee_postal_code": who.postal_code if who else "",
        "billed": f.billed,
        "case_id": c.case_id,
        "credit_id": c.credit_id,
        "account_id": c.account_id or "",
        "patient_control_number": c.patient_control_number,
        "payer_claim_control_number": f.payer_claim_control_number,
        "member_id": (who.member_id if who and who.member_id else f.member_id),
        "service_from": f.service_from,
        "service_to": f.service_to,
        "original_paid": f.original_paid,
        "paid_date": f.paid_date,
        "amount": c.amount,
        "reason": (
            "Other payer primary (Medicare Secondary Payer)"
            if _msp(c, payers)
            else REASON_TEXT.get(c.cause, c.cause)
        ),
        "reason_code": REASON_CODES.get(c.cause, "03"),
        "cause": c.cause,
        "check_reference": reference,
        "identified_on": c.identified_on,
        "due_by": c.due_by,
        "msp": "Y" if _msp(c, payers) else "N",
    }


def _group_layout(c: CaseView, payers: PayerDirectory) -> tuple[str, Layout, str | None]:
    """(kind, layout, delivery partner) of a case's group; raises ``NoLayoutError``."""
    if c.method == "patient_refund":
        return "patient_refunds", get_layout(PATIENT_LAYOUT, document="patient_refunds"), None
    method = c.method or ""
    kind = KIND_OF_METHOD.get(method)
    profile = payers.get(c.payer_id or "")
    if kind is None or profile is None:
        raise NoLayoutError(
            f"payer {c.payer_id} has no profile in mappings/payers (or the case "
            f"has no method): no layout to send credit {c.credit_id} with"
        )
    name = profile.outbound.refund_layout if method == "refund" else profile.outbound.offset_layout
    if not name:
        raise NoLayoutError(
            f"payer {profile.payer_id} ({profile.name}) has no "
            f"outbound.{method}_layout in its profile"
        )
    try:
        layout = get_layout(name, document=kind)
    except MappingError as exc:
        raise NoLayoutError(f"payer {profile.payer_id}: {exc}") from None
    return kind, layout, profile.outbound.delivery_partner


def create_batches(
    s: Session,
    *,
    as_of: dt.date,
    actor: str,
    payers: PayerDirectory,
    provider_id: int | None = None,
    payer_id: str | None = None,
    reference: str | None = None,
    disputes: bool = True,
    sources: Sources | None = None,
) -> CreateResult:
    """Issue every approved case not yet in a batch (and open disputes); see the module doc.

    ``reference`` is the operator's check or EFT reference: letters print it, or a blank to
    fill in by hand when none is given (the batch number is not a check number)."""
    src = sources or Sources()
    sync_cases(s)
    result = CreateResult()
    in_batch = _active_case_ids(s)
    cases = [
        c
        for c in list_cases(
            s, states=[CaseState.APPROVED.value], provider_id=provider_id, payer_id=payer_id
        )
        if c.case_id not in in_batch
    ]
    groups: dict[tuple[int, str, str, bool, str], list[CaseView]] = {}
    asked: dict[int, dict[int, letters.Solicited]] = {}
    for c in cases:
        patient = c.method == "patient_refund"
        if c.provider_id not in asked:
            asked[c.provider_id] = solicited_by_credit(s, c.provider_id)
        request = None if patient else asked[c.provider_id].get(c.credit_id)
        key = (
            c.provider_id,
            "" if patient else (c.payer_id or ""),
            c.method or "",
            (not patient) and _msp(c, payers),
            # a refund that answers a payer's letter goes back under that letter, apart
            request.number if request is not None else "",
        )
        groups.setdefault(key, []).append(c)
    for (pid, payer, method, msp, letter_no), members in sorted(groups.items()):
        solicited = asked[pid].get(members[0].credit_id) if letter_no else None
        members.sort(key=lambda c: (c.patient_control_number, c.credit_id))
        try:
            kind, layout, partner = _group_layout(members[0], payers)
        except NoLayoutError as exc:
            result.problems.append(
                BatchProblemRead(
                    provider_id=pid,
                    payer_id=payer,
                    kind=KIND_OF_METHOD.get(method, method),
                    credit_ids=tuple(c.credit_id for c in members),
                    code=exc.code,
                    message=exc.message,
                )
            )
            continue
        size = layout.max_records or len(members)
        for i in range(0, len(members), size):
            chunk = members[i : i + size]
            try:
                with s.begin_nested():
                    result.batches.append(
                        _issue(
                            s,
                            pid,
                            payer,
                            kind,
                            msp,
                            layout,
                            partner,
                            chunk,
                            as_of,
                            actor,
                            reference,
                            payers,
                            src,
                            solicited,
                        )
                    )
            except (RenderError, ResolutionError) as exc:
                result.problems.append(
                    BatchProblemRead(
                        provider_id=pid,
                        payer_id=payer,
                        kind=kind,
                        credit_ids=tuple(c.credit_id for c in chunk),
                        code=getattr(exc, "code", "layout_error"),
                        message=str(exc),
                    )
                )
    if disputes:
        result.batches.extend(issue_disputes(s, as_of, actor, payers, provider_id, payer_id, src))
    return result


def _issue(
    s: Session,
    pid: int,
    payer: str,
    kind: str,
    msp: bool,
    layout: Layout,
    partner: str | None,
    chunk: list[CaseView],
    as_of: dt.date,
    actor: str,
    reference: str | None,
    payers: PayerDirectory,
    src: Sources,
    solicited: letters.Solicited | None,
) -> BatchRead:
    batch_id, key, ref = new_batch(
        s,
        provider_id=pid,
        payer_id=payer,
        kind=kind,
        msp=msp,
        as_of=as_of,
        reference=reference,
        partner_id=partner,
        actor=actor,
    )
    profile = payers.get(payer) if payer else None
    header: dict[str, Any] = {
        **provider_header(s, pid),
        "payer_id": payer,
        "payer_name": profile.name if profile else "",
        "batch_id": key,
        "created_on": as_of,
        "reference": ref,
        "msp_flag": "Y" if msp else "N",
        "method_code": {"refund_transmittal": "C", "offset": "O"}.get(kind, "P"),
    }
    if solicited is not None:
        header["request_reference"] = solicited.number
        header["request_date"] = solicited.date
    people = parties(s, src.store, pid, [c.patient_control_number for c in chunk], src.limits)
    check = (reference or "").strip() or None
    rows = [_claim_row(s, c, payers, check or "", people) for c in chunk]
    data = render(layout, header, rows)
    sender = letters.Sender.of(header, src.directory().for_npi(header["provider_npi"]))
    if kind in ("refund_transmittal", "offset"):
        letter = render_letter(
            letters.transmittal(
                kind=kind,
                batch=header,
                rows=rows,
                profile=profile,
                sender=sender,
                check_reference=check,
                solicited=solicited,
            )
        )
    else:
        letter = render_document(
            [
                letters.patient_letter(row=r, day=as_of, sender=sender, check_reference=check)
                for r in rows
            ]
        )
    store_files(
        s,
        batch_id,
        header,
        data,
        letter,
        kind,
        [c.credit_id for c in chunk],
        [
            {
                "batch_id": batch_id,
                "case_id": c.case_id,
                "refund_request_id": None,
                "line": n,
                "amount": c.amount,
                "cancelled": False,
            }
            for n, c in enumerate(chunk, start=1)
        ],
    )
    target = ISSUED_STATE[chunk[0].method or ""]
    for c in chunk:
        transition(
            s,
            c.credit_id,
            target,
            actor=actor,
            reason=f"issued in batch {key}",
            details={"batch_id": batch_id, "batch_key": key},
            reference=ref,
        )
    audit.record(
        s,
        actor=actor,
        action="batch_issued",
        outcome=kind,
        reason=f"batch {key}",
        details={
            "batch_id": batch_id,
            "kind": kind,
            "cases": len(chunk),
            "amount": money(data.amount_sum),
        },
    )
    log.info(
        "batch_issued", batch_id=batch_id, kind=kind, cases=len(chunk), provider_id=pid, payer=payer
    )
    return get_batch(s, batch_id)


__all__ = ["CreateResult", "create_batches"]
