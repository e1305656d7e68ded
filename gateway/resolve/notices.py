"""Escheat due-diligence notices: the letter a patient gets before an unclaimed refund goes to
the state, and the date it is due.

A patient credit is unclaimed from the day its refund was issued (the patient refund batch's
date; a credit never refunded: from the day it was identified). The state's rule
(``mappings/escheat.yaml``) reports it to the state ``dormancy_days`` later, and requires the
holder to write to the owner ``notice_days_before`` that: so the notice is due on
``since + dormancy_days - notice_days_before``. ``due_diligence`` lists every patient credit
whose notice is due by ``as_of`` (and that has not escheated yet), with one notice page per
credit addressed to the payee named in the 837 (read from the raw file when the notice is
written; never stored or logged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.resolve import letters
from gateway.resolve.case_views import CaseView, list_cases
from gateway.resolve.documents import Sources, claim_facts, provider_header
from gateway.resolve.parties import parties
from gateway.resolve.pdf import render_document
from gateway.resolve.reports import _dormant_since
from gateway.resolve.tables import BatchItem, ResolutionBatch
from gateway.resolve.workflow import CaseState
from mappings.escheat import EscheatRules
from mappings.payers import PayerDirectory

#: patient credits whose money is still with the provider (a refund issued but not cashed)
UNCLAIMED = (
    CaseState.OPEN.value,
    CaseState.APPROVED.value,
    CaseState.PATIENT_REFUND_ISSUED.value,
)


@dataclass(frozen=True, slots=True)
class NoticeDue:
    """One credit's notice: when it is due and when the credit escheats."""

    case_id: int
    credit_id: int
    state: str
    dormant_since: dt.date
    notice_due: dt.date
    escheat_on: dt.date

    def to_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "credit_id": self.credit_id,
            "state": self.state,
            "dormant_since": self.dormant_since.isoformat(),
            "notice_due": self.notice_due.isoformat(),
            "escheat_on": self.escheat_on.isoformat(),
        }


@dataclass
class ProviderNotices:
    """A provider's due notices and the PDF that holds them (one page each)."""

    provider_npi: str
    due: list[NoticeDue] = field(default_factory=list)
    pdf: bytes = b""

    @property
    def filename(self) -> str:
        return f"ESCHEAT_NOTICES_{self.provider_npi}.pdf"


def check_references(s: Session, case_ids: list[int]) -> dict[int, str]:
    """case id → the check reference its patient refund batch was issued with ('' when the
    operator gave none: the batch number is not a check number)."""
    it, bt = tbl(BatchItem), tbl(ResolutionBatch)
    out: dict[int, str] = {}
    for r in s.execute(
        select(it.c.case_id, bt.c.reference, bt.c.batch_key)
        .join(bt, bt.c.id == it.c.batch_id)
        .where(it.c.case_id.in_(case_ids), it.c.cancelled.is_(False))
    ):
        out[int(r.case_id)] = "" if r.reference == r.batch_key else str(r.reference)
    return out


def schedule(c: CaseView, since: dt.date, rules: EscheatRules) -> NoticeDue:
    code, rule = rules.state_for(c.provider_npi)
    escheat_on = since + dt.timedelta(days=rule.dormancy_days)
    return NoticeDue(
        c.case_id,
        c.credit_id,
        code,
        since,
        escheat_on - dt.timedelta(days=rule.notice_days_before),
        escheat_on,
    )


def due_diligence(
    s: Session,
    *,
    as_of: dt.date,
    rules: EscheatRules,
    payers: PayerDirectory,
    sources: Sources | None = None,
    provider_id: int | None = None,
) -> list[ProviderNotices]:
    """The notices due by ``as_of`` per provider, each provider's rendered into one PDF."""
    src = sources or Sources()
    cases = [
        c
        for c in list_cases(s, states=list(UNCLAIMED), provider_id=provider_id)
        if c.owed_to == "patient"
    ]
    since = _dormant_since(s, cases)
    by_provider: dict[int, list[tuple[CaseView, NoticeDue]]] = {}
    for c in cases:
        due = schedule(c, since[c.case_id], rules)
        if due.notice_due <= as_of < due.escheat_on:
            by_provider.setdefault(c.provider_id, []).append((c, due))
    out = []
    for pid in sorted(by_provider):
        items = sorted(by_provider[pid], key=lambda x: (x[1].notice_due, x[0].case_id))
        header = provider_header(s, pid)
        sender = letters.Sender.of(header, src.directory().for_npi(header["provider_npi"]))
        people = parties(
            s, src.store, pid, [c.patient_control_number for c, _ in items], src.limits
        )
        checks = check_references(s, [c.case_id for c, _ in items])
        pages = []
        for c, due in items:
            facts = claim_facts(s, pid, c.patient_control_number, None, payers)
            who = people.get(c.patient_control_number)
            row = {
                "payee_name": who.name,
                "payee_address": who.address,
                "account_id": c.account_id or "",
                "amount": c.amount,
                "service_from": facts.service_from,
                "service_to": facts.service_to,
                "issued_on": due.dormant_since
                if c.state == CaseState.PATIENT_REFUND_ISSUED.value
                else None,
                "check_reference": checks.get(c.case_id, ""),
            }
            pages.append(
                letters.due_diligence_notice(
                    row=row,
                    day=as_of,
                    sender=sender,
                    state=due.state,
                    notice_due=due.notice_due,
                    escheat_on=due.escheat_on,
                )
            )
        out.append(
            ProviderNotices(
                str(header["provider_npi"]), [d for _, d in items], render_document(pages)
            )
        )
    return out


__all__ = ["NoticeDue", "ProviderNotices", "due_diligence", "schedule"]
