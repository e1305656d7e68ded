"""Reports: root-cause and aging, escheat (the CMS-838 is gateway.resolve.cms838).

Escheat: patient credits unclaimed past their state's dormancy period (``mappings/escheat.yaml``;
dormant since identification, or since a patient refund was issued and never cashed) move to
``escheat_pending``; the escheat report lists those per provider.

The escheat report imports the document renderer and layouts when it runs, and the escheat
rules are read by the caller (``mappings.escheat``): ``gateway report aging`` then loads
neither, nor the mapping YAML loader (issue 18, an instant CLI).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.reconcile.tables import Credit
from gateway.resolve.case_sync import sync_cases
from gateway.resolve.case_views import CaseView, list_cases
from gateway.resolve.tables import BatchItem, CaseTransition, ResolutionBatch, ResolutionCase
from gateway.resolve.workflow import CaseState, transition
from schemas.serialize import money
from schemas.states import CreditStatus

if TYPE_CHECKING:
    from gateway.resolve.render import Rendered
    from mappings.escheat import EscheatRules

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# ---------------------------------------------------------------- root cause and aging


@dataclass
class AgingReport:
    as_of: dt.date
    #: section → key → [count, amount]
    sections: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def add(self, section: str, key: str, amount: Decimal) -> None:
        cell = self.sections.setdefault(section, {}).setdefault(key, [0, ZERO])
        cell[0] += 1
        cell[1] += amount

    def rows(self, section: str) -> list[tuple[str, int, Decimal]]:
        return [(k, int(v[0]), v[1]) for k, v in sorted(self.sections.get(section, {}).items())]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "sections": {
                name: [{"key": k, "count": n, "amount": money(a)} for k, n, a in self.rows(name)]
                for name in sorted(self.sections)
            },
        }

    def to_csv(self) -> bytes:
        from gateway.security.cells import neutralise  # keys are payer ids and codes: input

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["section", "key", "count", "amount"])
        for name in sorted(self.sections):
            for k, n, a in self.rows(name):
                w.writerow([neutralise(name), neutralise(k), n, money(a)])
        return buf.getvalue().encode()


AGE_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"))


def _age(days: int) -> str:
    for top, label in AGE_BUCKETS:
        if days <= top:
            return label
    return "181+"


def aging(s: Session, *, as_of: dt.date, near_days: int = 14) -> AgingReport:
    """Credits by cause, payer, CARC, month, age, deadline, recovery method and case state."""
    sync_cases(s)
    rep = AgingReport(as_of)
    ct, rc = tbl(Credit), tbl(ResolutionCase)
    active: dict[int, Decimal] = {}
    for r in s.execute(
        select(ct, rc.c.state.label("case_state"), rc.c.method)
        .select_from(ct.outerjoin(rc, rc.c.credit_id == ct.c.id))
        .order_by(ct.c.id)
    ):
        amount = Decimal(r.amount).quantize(CENT)
        rep.add("month", r.identified_on.strftime("%Y-%m"), amount)
        if r.status == CreditStatus.RESOLVED:
            rep.add("recovery", r.resolution or "unknown", amount)
            if r.method:
                rep.add("recovery_method", r.method, amount)
            continue
        active[r.id] = amount
        rep.add("cause", r.cause, amount)
        rep.add("payer", r.payer_id or r.owed_to, amount)
        rep.add("age", _age((as_of - r.identified_on).days), amount)
        rep.add("case_state", r.case_state or r.status, amount)
        if r.government:
            if r.due_by is None:
                key = "no_deadline"
            elif r.due_by < as_of:
                key = "overdue"
            elif r.due_by <= as_of + dt.timedelta(days=near_days):
                key = f"due_within_{near_days}"
            else:
                key = "later"
            rep.add("government_deadline", key, amount)
    if active:
        pairs: set[tuple[str, int]] = set()
        for r in s.execute(
            text(
                "SELECT DISTINCT c.id, a.group_code, a.reason FROM credits c "
                "JOIN claim_payments cp ON cp.provider_id = c.provider_id "
                "AND cp.patient_control_number = c.patient_control_number "
                "LEFT JOIN payer_aliases pa ON pa.alias = cp.payer_id "
                "JOIN adjustments a ON a.claim_payment_id = cp.id "
                "WHERE c.status <> 'resolved' AND (c.payer_id = '' OR "
                "COALESCE(pa.payer_id, cp.payer_id) = c.payer_id)"
            )
        ):
            pairs.add((f"{r.group_code}-{r.reason}", int(r.id)))
        for code, cid in sorted(pairs):
            if cid in active:
                rep.add("carc", code, active[cid])
    return rep


# ---------------------------------------------------------------- escheat


def _dormant_since(s: Session, cases: Iterable[CaseView]) -> dict[int, dt.date]:
    """Since when each patient credit is unclaimed: the date its refund was issued (the
    patient refund batch's date), else when it was identified."""
    out = {c.case_id: c.identified_on for c in cases}
    ids = [c.case_id for c in cases if c.state == CaseState.PATIENT_REFUND_ISSUED.value]
    if ids:
        issued = refund_issued_on(s, ids)
        tt = tbl(CaseTransition)
        for r in s.execute(
            select(tt.c.case_id, tt.c.at)
            .where(tt.c.case_id.in_(ids), tt.c.to_state == CaseState.PATIENT_REFUND_ISSUED.value)
            .order_by(tt.c.id)
        ):
            out[r.case_id] = issued.get(r.case_id) or r.at.date()
    return out


def refund_issued_on(s: Session, case_ids: list[int]) -> dict[int, dt.date]:
    """case id → the date of the (live) patient refund batch that issued its refund."""
    it, bt = tbl(BatchItem), tbl(ResolutionBatch)
    out: dict[int, dt.date] = {}
    for r in s.execute(
        select(it.c.case_id, bt.c.as_of)
        .join(bt, bt.c.id == it.c.batch_id)
        .where(it.c.case_id.in_(case_ids), it.c.cancelled.is_(False))
        .order_by(it.c.id)
    ):
        out[int(r.case_id)] = r.as_of
    return out


def mark_escheat(s: Session, *, as_of: dt.date, rules: EscheatRules, actor: str) -> list[CaseView]:
    """Move patient credits dormant past their state's period to escheat_pending (audited)."""
    sync_cases(s)
    cases = [
        c
        for c in list_cases(
            s,
            states=[
                CaseState.OPEN.value,
                CaseState.APPROVED.value,
                CaseState.PATIENT_REFUND_ISSUED.value,
            ],
        )
        if c.owed_to == "patient"
    ]
    since = _dormant_since(s, cases)
    moved = []
    for c in cases:
        code, rule = rules.state_for(c.provider_npi)
        days = (as_of - since[c.case_id]).days
        if days >= rule.dormancy_days:
            moved.append(
                transition(
                    s,
                    c.credit_id,
                    CaseState.ESCHEAT_PENDING,
                    actor=actor,
                    reason=f"unclaimed {days} days (state {code}: {rule.dormancy_days})",
                    details={"state": code, "dormant_since": since[c.case_id].isoformat()},
                )
            )
    return moved


def escheat_report(
    s: Session, *, as_of: dt.date, rules: EscheatRules, provider_id: int | None = None
) -> list[Rendered]:
    """One CSV per provider of its escheat_pending cases."""
    from gateway.resolve.documents import provider_header
    from gateway.resolve.render import render
    from mappings.outbound_layouts import get_layout

    cases = list_cases(s, states=[CaseState.ESCHEAT_PENDING.value], provider_id=provider_id)
    layout = get_layout("escheat_report_csv", document="report")
    since = _dormant_since(s, cases)
    by_provider: dict[int, list[CaseView]] = {}
    for c in cases:
        by_provider.setdefault(c.provider_id, []).append(c)
    out = []
    pt = tbl(Provider)
    for pid in sorted(by_provider):
        npi = s.execute(select(pt.c.npi).where(pt.c.id == pid)).scalar_one()
        rows: list[dict[str, Any]] = []
        for c in sorted(
            by_provider[pid], key=lambda c: (c.account_id or "", c.patient_control_number)
        ):
            code, _ = rules.state_for(npi)
            rows.append(
                {
                    "state": code,
                    "account_id": c.account_id or "",
                    "patient_control_number": c.patient_control_number,
                    "identified_on": c.identified_on,
                    "dormant_since": since[c.case_id],
                    "days_dormant": (as_of - since[c.case_id]).days,
                    "amount": c.amount,
                    "case_state": c.state,
                    "case_id": c.case_id,
                }
            )
        header = {**provider_header(s, pid), "as_of_compact": as_of.strftime("%Y%m%d")}
        out.append(render(layout, header, rows))
    return out


__all__ = [
    "AgingReport",
    "aging",
    "escheat_report",
    "mark_escheat",
    "refund_issued_on",
]
