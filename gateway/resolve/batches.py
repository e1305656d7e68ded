"""Batches: the documents that return approved credits, grouped, rendered, tracked, delivered.

``create_batches`` takes every approved case not yet in a batch and groups it by provider ×
payer × document kind (refund transmittal or offset, from the method chosen at approval;
patient refunds per provider) × MSP flag (other-payer-primary overpayments never share a batch
with the rest, as MACs require). A layout's ``max_records`` splits a group (MACs: 20 ICNs per
check). Each batch gets its data file (the payer's layout, control totals), a PDF letter and a
manifest (every file's name, sha256, size and totals); the bytes are stored with the batch. The
cases move to refund_sent / offset_requested / patient_refund_issued in the same transaction,
and a partial unique index keeps a case in at most one non-cancelled batch: running it again
issues nothing twice. Invalid and partially valid payer refund requests become dispute batches.

A group whose payer has no profile or layout is reported as an error and its cases stay
approved; the other groups are still issued. ``deliver_batch`` queues a batch's files on the
outbound SFTP queue of the payer's delivery partner (receipts are recorded there);
``batch_status`` reads the delivery state back from the queue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.base import Database
from gateway.db.models import Provider, tbl, utcnow
from gateway.errors import InputError, NotFoundError
from gateway.logging import get_logger
from gateway.outbound.queue import DrainResult, add_to_queue, drain
from gateway.outbound.tables import DeliveryReceipt, OutboundFile, OutboundState
from gateway.read.batches import BatchFileRead, BatchProblemRead, BatchRead, ReceiptRead
from gateway.reconcile.tables import RefundRequest
from gateway.resolve import letters
from gateway.resolve.documents import (
    DISPUTE_TEXT,
    REASON_CODES,
    REASON_TEXT,
    claim_facts,
    provider_header,
)
from gateway.resolve.evidence import claim_key, dispute_evidence, solicited_by_credit
from gateway.resolve.parties import Parties, parties
from gateway.resolve.pdf import render_document, render_letter
from gateway.resolve.render import Rendered, RenderError, render
from gateway.resolve.tables import BatchFile, BatchItem, ResolutionBatch, ResolutionCase
from gateway.resolve.workflow import (
    ISSUED_STATE,
    CaseState,
    CaseView,
    NoLayoutError,
    ResolutionError,
    list_cases,
    sync_cases,
    transition,
)
from gateway.store.base import RawStore
from gateway.store.file import FileRawStore
from mappings.loader import MappingError
from mappings.outbound_layouts import Layout, get_layout
from mappings.partners import PartnerProfile
from mappings.payers import MEDICARE, PayerDirectory
from mappings.providers import ProviderDirectory
from mappings.providers import default_directory as default_providers
from parsers.x12.lexer import Limits
from schemas.serialize import money
from schemas.states import BatchDelivery, BatchState

log = get_logger("gateway.resolve")
CENT = Decimal("0.01")
KIND_OF_METHOD = {
    "refund": "refund_transmittal",
    "offset": "offset",
    "patient_refund": "patient_refunds",
}
KIND_CODE = {"refund_transmittal": "RF", "offset": "OF", "patient_refunds": "PR", "dispute": "DS"}
PATIENT_LAYOUT = "patient_refund_csv"
DISPUTE_LAYOUT = "dispute_csv"
#: outbound queue rows are tagged with this kind
QUEUE_KIND = "resolution"


#: the read models of a batch, its files and a group not issued live in gateway.read.batches
BatchProblem = BatchProblemRead
FileView = BatchFileRead
BatchView = BatchRead


@dataclass
class CreateResult:
    batches: list[BatchView] = field(default_factory=list)
    problems: list[BatchProblem] = field(default_factory=list)


# ---------------------------------------------------------------- creating


def _active_case_ids(s: Session) -> set[int]:
    it = tbl(BatchItem)
    return {
        int(r[0])
        for r in s.execute(
            select(it.c.case_id).where(it.c.case_id.is_not(None), it.c.cancelled.is_(False))
        )
    }


#: batch file bytes name patients and member ids (letters, AP lists): sealed at rest
CONTENT = "batch_files.content"


def seal_content(data: bytes) -> bytes:
    """The file's bytes sealed with the data-key ring (as they are when encryption is off)."""
    import base64

    from gateway.security.columns import column_cipher

    sealed = column_cipher().seal(base64.b64encode(data).decode("ascii"), CONTENT)
    return data if sealed is None or not sealed.startswith("v1:") else sealed.encode("ascii")


def open_content(stored: bytes) -> bytes:
    """The exact file bytes of a stored batch file (legacy plaintext passes through)."""
    import base64

    from gateway.security.columns import column_cipher

    if not stored.startswith(b"v1:"):
        return stored
    plain = column_cipher().open(stored.decode("ascii"), CONTENT)
    return base64.b64decode(plain or "")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Sources:
    """Where documents read what the database does not keep: the raw store (patient names,
    member ids and addresses, read when the document is written) with the limits its files
    were parsed under, and the provider profiles (address, CCN/PTAN, contact, signer)."""

    store: RawStore | None = None
    limits: Limits = field(default_factory=Limits)
    providers: ProviderDirectory | None = None

    def directory(self) -> ProviderDirectory:
        return self.providers if self.providers is not None else default_providers()


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


def _new_batch(
    s: Session,
    *,
    provider_id: int,
    payer_id: str,
    kind: str,
    msp: bool,
    as_of: dt.date,
    reference: str | None,
    partner_id: str | None,
    actor: str,
) -> tuple[int, str, str]:
    """Insert the batch row; returns (id, batch key, reference)."""
    bt = tbl(ResolutionBatch)
    batch_id = int(
        s.execute(
            insert(bt)
            .values(
                batch_key=f"tmp-{uuid.uuid4().hex}",
                provider_id=provider_id,
                payer_id=payer_id,
                kind=kind,
                msp=msp,
                state=BatchState.ISSUED,
                as_of=as_of,
                reference="",
                partner_id=partner_id,
                record_count=0,
                amount=Decimal("0.00"),
                created_by=actor[:128],
                created_at=utcnow(),
            )
            .returning(bt.c.id)
        ).scalar_one()
    )
    key = f"{KIND_CODE[kind]}{batch_id:06d}"
    ref = (reference or key)[:80]
    s.execute(update(bt).where(bt.c.id == batch_id).values(batch_key=key, reference=ref))
    return batch_id, key, ref


def _store_files(
    s: Session,
    batch_id: int,
    header: Mapping[str, Any],
    data: Rendered,
    letter: bytes | None,
    kind: str,
    credit_ids: list[int],
    items: Iterable[dict[str, Any]],
) -> None:
    files: list[dict[str, Any]] = [
        {
            "name": data.filename,
            "role": "data",
            "content": data.content,
            "record_count": data.record_count,
            "amount_sum": data.amount_sum,
        }
    ]
    if letter is not None:
        stem = data.filename.rsplit(".", 1)[0]
        files.append(
            {
                "name": f"{stem}.pdf",
                "role": "letter",
                "content": letter,
                "record_count": data.record_count,
                "amount_sum": data.amount_sum,
            }
        )
    manifest = {
        "batch_id": header["batch_id"],
        "kind": kind,
        "provider_npi": header["provider_npi"],
        "payer_id": header["payer_id"] or None,
        "msp": header["msp_flag"] == "Y",
        "created_on": header["created_on"].isoformat(),
        "reference": header["reference"],
        "credit_ids": credit_ids,
        "totals": {"record_count": data.record_count, "amount": money(data.amount_sum)},
        "files": [
            {
                "name": f["name"],
                "role": f["role"],
                "sha256": _sha(f["content"]),
                "size": len(f["content"]),
                "record_count": f["record_count"],
                "amount_sum": money(f["amount_sum"]),
            }
            for f in files
        ],
    }
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    files.append(
        {
            "name": f"{header['batch_id']}.manifest.json",
            "role": "manifest",
            "content": body,
            "record_count": data.record_count,
            "amount_sum": data.amount_sum,
        }
    )
    s.execute(
        insert(tbl(BatchFile)),
        [
            {
                "batch_id": batch_id,
                "name": f["name"],
                "role": f["role"],
                "sha256": _sha(f["content"]),
                "size": len(f["content"]),
                "record_count": f["record_count"],
                "amount_sum": f["amount_sum"],
                "content": seal_content(f["content"]),
            }
            for f in files
        ],
    )
    s.execute(insert(tbl(BatchItem)), list(items))
    s.execute(
        update(tbl(ResolutionBatch))
        .where(tbl(ResolutionBatch).c.id == batch_id)
        .values(record_count=data.record_count, amount=data.amount_sum, manifest=manifest)
    )


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
                BatchProblem(
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
                    BatchProblem(
                        provider_id=pid,
                        payer_id=payer,
                        kind=kind,
                        credit_ids=tuple(c.credit_id for c in chunk),
                        code=getattr(exc, "code", "layout_error"),
                        message=str(exc),
                    )
                )
    if disputes:
        result.batches.extend(_disputes(s, as_of, actor, payers, provider_id, payer_id, src))
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
) -> BatchView:
    batch_id, key, ref = _new_batch(
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
    _store_files(
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


def _disputes(
    s: Session,
    as_of: dt.date,
    actor: str,
    payers: PayerDirectory,
    provider_id: int | None,
    payer_id: str | None,
    src: Sources,
) -> list[BatchView]:
    rt, it = tbl(RefundRequest), tbl(BatchItem)
    taken = select(it.c.refund_request_id).where(
        it.c.refund_request_id.is_not(None), it.c.cancelled.is_(False)
    )
    stmt = (
        select(rt)
        .where(rt.c.verdict.in_(("invalid", "partially_valid")), rt.c.id.not_in(taken))
        .order_by(rt.c.id)
    )
    if provider_id is not None:
        stmt = stmt.where(rt.c.provider_id == provider_id)
    groups: dict[tuple[int, str], list[Any]] = {}
    for r in s.execute(stmt):
        payer = payers.canonical(r.payer_id)
        if payer_id is None or payer == payer_id:
            groups.setdefault((r.provider_id, payer), []).append(r)
    out = []
    layout = get_layout(DISPUTE_LAYOUT, document="dispute")
    for (pid, payer), reqs in sorted(groups.items()):
        profile = payers.get(payer)
        batch_id, key, ref = _new_batch(
            s,
            provider_id=pid,
            payer_id=payer,
            kind="dispute",
            msp=False,
            as_of=as_of,
            reference=None,
            partner_id=profile.outbound.delivery_partner if profile else None,
            actor=actor,
        )
        header: dict[str, Any] = {
            **provider_header(s, pid),
            "payer_id": payer,
            "payer_name": profile.name if profile else "",
            "batch_id": key,
            "created_on": as_of,
            "reference": ref,
            "msp_flag": "N",
            "method_code": "D",
        }
        rows = []
        keys = [
            claim_key(s, pid, r.patient_control_number, r.payer_claim_control_number, payer, payers)
            for r in reqs
        ]
        people = parties(s, src.store, pid, keys, src.limits)
        for r, pcn in zip(reqs, keys, strict=True):
            requested = Decimal(r.amount).quantize(CENT)
            agreed = Decimal(r.valid_amount).quantize(CENT)
            rows.append(
                {
                    "request_reference": r.reference,
                    "patient_control_number": r.patient_control_number,
                    "payer_claim_control_number": r.payer_claim_control_number,
                    "requested": requested,
                    "agreed": agreed,
                    "amount": requested - agreed,
                    "verdict": r.verdict,
                    "reason": DISPUTE_TEXT.get(r.reason or r.verdict, r.reason or r.verdict),
                    "request_date": r.request_date,
                    "patient_name": people.get(pcn).name,
                    "evidence": dispute_evidence(s, pid, pcn, payer, payers),
                }
            )
        data = render(layout, header, rows)
        sender = letters.Sender.of(header, src.directory().for_npi(header["provider_npi"]))
        letter = render_letter(
            letters.dispute(batch=header, rows=rows, profile=profile, sender=sender)
        )
        _store_files(
            s,
            batch_id,
            header,
            data,
            letter,
            "dispute",
            [],
            [
                {
                    "batch_id": batch_id,
                    "case_id": None,
                    "refund_request_id": r.id,
                    "line": n,
                    "amount": row["amount"],
                    "cancelled": False,
                }
                for n, (r, row) in enumerate(zip(reqs, rows, strict=True), start=1)
            ],
        )
        audit.record(
            s,
            actor=actor,
            action="batch_issued",
            outcome="dispute",
            reason=f"batch {key}",
            details={"batch_id": batch_id, "requests": len(reqs)},
        )
        out.append(get_batch(s, batch_id))
    return out


# ---------------------------------------------------------------- reading


def _delivery(files: tuple[FileView, ...], state: str) -> BatchDelivery:
    if state == BatchState.CANCELLED:
        return BatchDelivery.CANCELLED
    states = [f.delivery_state for f in files]
    if not files or all(st is None for st in states):
        return BatchDelivery.NOT_QUEUED
    if all(st == OutboundState.DELIVERED for st in states):
        return BatchDelivery.DELIVERED
    if any(st == OutboundState.FAILED for st in states):
        return BatchDelivery.FAILED
    return BatchDelivery.QUEUED


def get_batch(s: Session, batch_id: int, *, files: bool = True) -> BatchView:
    bt, pt = tbl(ResolutionBatch), tbl(Provider)
    row = s.execute(
        select(bt, pt.c.npi).join(pt, pt.c.id == bt.c.provider_id).where(bt.c.id == batch_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no batch with id {batch_id}", code="batch_not_found")
    return _batch_view(s, row, files)


def _batch_view(s: Session, row: Any, with_files: bool) -> BatchView:
    ft, ot, dr, it = tbl(BatchFile), tbl(OutboundFile), tbl(DeliveryReceipt), tbl(BatchItem)
    fviews: list[FileView] = []
    for f in s.execute(
        select(
            ft.c.name,
            ft.c.role,
            ft.c.sha256,
            ft.c.size,
            ft.c.record_count,
            ft.c.amount_sum,
            ft.c.outbound_file_id,
            ot.c.state,
            ot.c.last_error_message,
        )
        .select_from(ft.outerjoin(ot, ot.c.id == ft.c.outbound_file_id))
        .where(ft.c.batch_id == row.id)
        .order_by(ft.c.id)
    ):
        receipt = None
        if f.outbound_file_id is not None:
            rec = s.execute(
                select(dr)
                .where(dr.c.outbound_file_id == f.outbound_file_id)
                .order_by(dr.c.id)
                .limit(1)
            ).first()
            if rec is not None:
                receipt = ReceiptRead(
                    partner_id=rec.partner_id,
                    remote_path=rec.remote_path,
                    size=rec.size,
                    sha256=rec.sha256,
                    delivered_at=rec.delivered_at,
                )
        fviews.append(
            FileView(
                name=f.name,
                role=f.role,
                sha256=f.sha256,
                size=f.size,
                record_count=f.record_count,
                amount_sum=Decimal(f.amount_sum).quantize(CENT),
                outbound_id=f.outbound_file_id,
                delivery_state=f.state,
                last_error=f.last_error_message,
                receipt=receipt,
            )
        )
    rc = tbl(ResolutionCase)
    credit_ids = tuple(
        int(r[0])
        for r in s.execute(
            select(rc.c.credit_id)
            .join(it, it.c.case_id == rc.c.id)
            .where(it.c.batch_id == row.id)
            .order_by(it.c.line)
        )
    )
    files = tuple(fviews)
    return BatchView(
        id=row.id,
        batch_key=row.batch_key,
        provider_id=row.provider_id,
        provider_npi=row.npi,
        payer_id=row.payer_id,
        kind=row.kind,
        msp=bool(row.msp),
        state=row.state,
        delivery=_delivery(files, row.state),
        as_of=row.as_of,
        reference=row.reference,
        partner_id=row.partner_id,
        record_count=row.record_count,
        amount=Decimal(row.amount).quantize(CENT),
        created_by=row.created_by,
        created_at=row.created_at,
        credit_ids=credit_ids,
        files=files if with_files else (),
    )


def list_batches(
    s: Session, *, provider_id: int | None = None, kind: str | None = None, limit: int = 500
) -> list[BatchView]:
    bt, pt = tbl(ResolutionBatch), tbl(Provider)
    stmt = select(bt, pt.c.npi).join(pt, pt.c.id == bt.c.provider_id).order_by(bt.c.id.desc())
    if provider_id is not None:
        stmt = stmt.where(bt.c.provider_id == provider_id)
    if kind is not None:
        stmt = stmt.where(bt.c.kind == kind)
    return [_batch_view(s, r, True) for r in s.execute(stmt.limit(limit))]


def batch_content(s: Session, batch_id: int) -> dict[str, bytes]:
    """name → exact bytes of every file of a batch."""
    ft = tbl(BatchFile)
    return {
        r.name: open_content(bytes(r.content))
        for r in s.execute(
            select(ft.c.name, ft.c.content).where(ft.c.batch_id == batch_id).order_by(ft.c.id)
        )
    }


# ---------------------------------------------------------------- cancelling and delivering


def cancel_batch(s: Session, batch_id: int, *, actor: str, reason: str) -> BatchView:
    """Withdraw an undelivered batch: its cases go back to approved (audited), queue rows stop."""
    batch = get_batch(s, batch_id)
    if batch.state == BatchState.CANCELLED:
        raise ResolutionError(
            f"batch {batch.batch_key} is already cancelled", code="batch_cancelled"
        )
    if any(f.delivery_state == OutboundState.DELIVERED.value for f in batch.files):
        raise ResolutionError(
            f"batch {batch.batch_key} was already delivered to the payer; "
            "it cannot be cancelled (ask the payer to disregard it and "
            "resolve or reopen its cases)",
            code="batch_delivered",
        )
    if len((reason or "").strip()) < 3:
        raise InputError("a reason is required to cancel a batch", code="reason_required")
    bt, it, ot, rc = tbl(ResolutionBatch), tbl(BatchItem), tbl(OutboundFile), tbl(ResolutionCase)
    s.execute(
        update(bt)
        .where(bt.c.id == batch_id)
        .values(state="cancelled", cancelled_at=utcnow(), cancel_reason=reason.strip()[:1000])
    )
    s.execute(update(it).where(it.c.batch_id == batch_id).values(cancelled=True))
    queued = [f.outbound_id for f in batch.files if f.outbound_id is not None]
    if queued:
        s.execute(
            update(ot)
            .where(
                ot.c.id.in_(queued),
                ot.c.state.in_((OutboundState.QUEUED.value, OutboundState.FAILED.value)),
            )
            .values(
                state=OutboundState.FAILED.value,
                last_error_code="batch_cancelled",
                last_error_message=f"batch {batch.batch_key} cancelled: {reason.strip()[:200]}",
            )
        )
    issued = {st.value for st in ISSUED_STATE.values()}
    for credit_id, state in s.execute(
        select(rc.c.credit_id, rc.c.state).where(rc.c.credit_id.in_(batch.credit_ids))
    ).all():
        if state in issued:
            transition(
                s,
                credit_id,
                CaseState.APPROVED,
                actor=actor,
                reason=f"batch {batch.batch_key} cancelled: {reason.strip()}",
                details={"batch_id": batch_id},
            )
    audit.record(
        s,
        actor=actor,
        action="batch_cancelled",
        outcome="cancelled",
        reason=reason.strip(),
        details={"batch_id": batch_id},
    )
    return get_batch(s, batch_id)


def queue_batch(
    db: Database,
    store: FileRawStore,
    batch_id: int,
    *,
    profiles: Mapping[str, PartnerProfile],
    actor: str,
) -> tuple[BatchView, list[int]]:
    """Put every file of a batch on its partner's outbound queue (idempotent)."""
    with db.read() as s:
        batch = get_batch(s, batch_id)
        content = batch_content(s, batch_id)
    if batch.state == BatchState.CANCELLED:
        raise ResolutionError(f"batch {batch.batch_key} is cancelled", code="batch_cancelled")
    if batch.kind == "patient_refunds":
        raise ResolutionError(
            f"batch {batch.batch_key} is a patient refund list for the "
            "provider's AP system; export it (`gateway batches export`)",
            code="not_for_payer",
        )
    if not batch.partner_id:
        raise ResolutionError(
            f"payer {batch.payer_id} has no outbound.delivery_partner in its profile; batch "
            f"{batch.batch_key} stays issued (export it with `gateway batches export`, or add "
            "the partner and deliver again)",
            code="no_delivery_partner",
        )
    profile = profiles.get(batch.partner_id)
    if profile is None or profile.outbound_dir is None:
        raise ResolutionError(
            f"delivery partner {batch.partner_id!r} is not configured and enabled (see "
            "mappings/partners, GATEWAY_PARTNERS_DIR); batch stays issued",
            code="partner_not_configured",
        )
    blobs = {name: store.put(io.BytesIO(data)) for name, data in content.items()}
    ids: list[int] = []
    ft = tbl(BatchFile)
    with db.write() as s:
        for name, blob in blobs.items():
            q = add_to_queue(
                s, profile.id, profile.outbound_dir, name, blob.sha256, blob.size, QUEUE_KIND, None
            )
            ids.append(q.id)
            s.execute(
                update(ft)
                .where(ft.c.batch_id == batch_id, ft.c.name == name)
                .values(outbound_file_id=q.id)
            )
        audit.record(
            s,
            actor=actor,
            action="batch_queued",
            outcome="queued",
            reason=f"batch {batch.batch_key} to {profile.id}",
            details={"batch_id": batch_id, "outbound_ids": ids},
        )
    with db.read() as s:
        return get_batch(s, batch_id), ids


def deliver_batch(
    db: Database,
    store: FileRawStore,
    batch_id: int,
    *,
    profiles: Mapping[str, PartnerProfile],
    actor: str,
    now: bool = True,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
) -> tuple[BatchView, DrainResult]:
    """Queue the batch and (``now``) deliver it at once; undeliverable files stay queued."""
    batch, ids = queue_batch(db, store, batch_id, profiles=profiles, actor=actor)
    result = DrainResult()
    if now and batch.partner_id:
        result = drain(
            db,
            store,
            {batch.partner_id: profiles[batch.partner_id]},
            owner=f"batch-{batch_id}",
            environ=environ,
            stop=stop,
            only_ids=ids,
        )
    with db.read() as s:
        return get_batch(s, batch_id), result


__all__ = [
    "BatchProblem",
    "BatchView",
    "CreateResult",
    "FileView",
    "Sources",
    "batch_content",
    "cancel_batch",
    "create_batches",
    "deliver_batch",
    "get_batch",
    "list_batches",
    "queue_batch",
]
