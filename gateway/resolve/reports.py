"""Reports: CMS-838 (Medicare credit balances per quarter), root-cause and aging, escheat.

CMS-838: every Medicare (Part A or B, by the payer profile's programme) credit identified by
the quarter's last day and not resolved by then, one detail row per credit in the form's column
order; Part A and Part B on separate detail pages after a certification page. A credit is
reported once, ever: ``cms838_lines`` records which quarter reported it (unique per credit), so
re-running a quarter reproduces the same report and a later quarter leaves it out.

Escheat: patient credits unclaimed past their state's dormancy period (``mappings/escheat.yaml``;
dormant since identification, or since a patient refund was issued and never cashed) move to
``escheat_pending``; the escheat report lists those per provider.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gateway.db.models import Provider, tbl
from gateway.errors import ConfigError, InputError
from gateway.reconcile.tables import Credit
from gateway.resolve.documents import claim_facts, provider_header
from gateway.resolve.names import BeneficiaryNames, beneficiary_names
from gateway.resolve.pdf import Letter, render_document
from gateway.resolve.render import Rendered, render
from gateway.resolve.tables import CaseTransition, Cms838Line, ResolutionCase
from gateway.resolve.workflow import CaseState, CaseView, list_cases, sync_cases, transition
from gateway.store.base import RawStore
from mappings.outbound_layouts import get_layout
from mappings.payers import PayerDirectory
from schemas.serialize import money

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ESCHEAT_PATH = Path(__file__).resolve().parents[2] / "mappings" / "escheat.yaml"
PARTS = {"medicare_a": "A", "medicare_b": "B"}
REASON_838 = {"duplicate_payment": "1", "coordination_of_benefits": "2"}


# ---------------------------------------------------------------- CMS-838

def parse_quarter(value: str) -> tuple[str, dt.date, dt.date]:
    """'2026Q3' → ('2026Q3', 2026-07-01, 2026-09-30)."""
    m = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", value.strip())
    if m is None:
        raise InputError(f"quarter {value!r} is not like 2026Q3", code="bad_quarter")
    year, q = int(m.group(1)), int(m.group(2))
    if not 1900 <= year <= 9998:
        raise InputError(f"quarter {value!r}: year {year} is out of range", code="bad_quarter")
    start = dt.date(year, 3 * q - 2, 1)
    end = (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)) \
        - dt.timedelta(days=1)
    return f"{year}Q{q}", start, end


@dataclass(frozen=True, slots=True)
class Cms838Report:
    provider_id: int
    provider_npi: str
    quarter: str
    rows: tuple[dict[str, Any], ...]
    csv: Rendered
    pdf: bytes
    #: claims (PCNs) whose beneficiary name no raw file could give (pruned or unreadable)
    names_missing: int = 0

    @property
    def pdf_name(self) -> str:
        return self.csv.filename.rsplit(".", 1)[0] + ".pdf"

    def to_json(self) -> dict[str, Any]:
        return {"provider_id": self.provider_id, "provider_npi": self.provider_npi,
                "quarter": self.quarter, "record_count": self.csv.record_count,
                "amount": money(self.csv.amount_sum),
                "part_a": [_json_row(r) for r in self.rows if r["part"] == "A"],
                "part_b": [_json_row(r) for r in self.rows if r["part"] == "B"],
                "beneficiary_names_missing": self.names_missing,
                "files": [self.csv.filename, self.pdf_name]}


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    return {k: (money(v) if isinstance(v, Decimal) else
                v.isoformat() if isinstance(v, dt.date) else v)
            for k, v in r.items() if k != "beneficiary_name"}


def _issued_by(s: Session, case_ids: list[int], end: dt.date) -> dict[int, str]:
    """case id → refund_sent/offset_requested reached on or before ``end`` (latest)."""
    if not case_ids:
        return {}
    tt = tbl(CaseTransition)
    out: dict[int, str] = {}
    limit = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    for r in s.execute(select(tt.c.case_id, tt.c.to_state, tt.c.at).where(
            tt.c.case_id.in_(case_ids)).order_by(tt.c.id)):
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
        if at < limit:
            out[r.case_id] = r.to_state
    return out


def cms838(s: Session, *, quarter: str, payers: PayerDirectory, provider_id: int | None = None,
           record: bool = True, store: RawStore | None = None) -> list[Cms838Report]:
    """The quarter's CMS-838 per provider (a provider is included when it has Medicare credits
    to report, or when asked for by ``provider_id``); records what it reported.

    With ``store`` the beneficiary names (column 1) are read from the raw files
    (gateway.resolve.names); without it they stay blank, as in the API's JSON preview.
    """
    label, _start, end = parse_quarter(quarter)
    ct, lt, rc = tbl(Credit), tbl(Cms838Line), tbl(ResolutionCase)
    stmt = select(ct, lt.c.quarter.label("reported_in"), rc.c.id.label("case_id")).select_from(
        ct.outerjoin(lt, lt.c.credit_id == ct.c.id).outerjoin(rc, rc.c.credit_id == ct.c.id)
    ).where(ct.c.identified_on <= end, ct.c.status != "pending",
            (ct.c.resolved_on.is_(None)) | (ct.c.resolved_on > end)).order_by(ct.c.id)
    if provider_id is not None:
        stmt = stmt.where(ct.c.provider_id == provider_id)
    by_provider: dict[int, list[Any]] = {}
    for r in s.execute(stmt):
        profile = payers.get(r.payer_id) if r.payer_id else None
        if profile is None or profile.programme not in PARTS or r.owed_to != "payer":
            continue
        if r.reported_in is not None and r.reported_in != label:
            continue  # reported in an earlier quarter: never twice
        by_provider.setdefault(r.provider_id, []).append((r, PARTS[profile.programme]))
    if provider_id is not None:
        by_provider.setdefault(provider_id, [])
    issued = _issued_by(s, [r.case_id for rows in by_provider.values() for r, _ in rows
                            if r.case_id is not None], end)
    layout = get_layout("cms838_csv", document="report")
    out = []
    for pid in sorted(by_provider):
        header = {**provider_header(s, pid), "quarter": label}
        names = (beneficiary_names(s, store, pid, {r.patient_control_number
                                                   for r, _ in by_provider[pid]})
                 if store is not None else BeneficiaryNames())
        rows: list[dict[str, Any]] = []
        for r, part in by_provider[pid]:
            f = claim_facts(s, pid, r.patient_control_number, r.payer_id, payers)
            amount = Decimal(r.amount).quantize(CENT)
            state = issued.get(r.case_id) if r.case_id is not None else None
            repaid = amount if state == CaseState.REFUND_SENT.value else ZERO
            method = {"refund_sent": "C", "offset_requested": "A"}.get(state or "", "")
            reason = REASON_838.get(r.cause, "3")
            rows.append({
                "credit_id": r.id, "part": part,
                "beneficiary_name": names.get(r.patient_control_number),
                "member_id": f.member_id, "payer_claim_control_number":
                f.payer_claim_control_number, "patient_control_number":
                r.patient_control_number, "type_of_bill": f.type_of_bill if part == "A" else "",
                "service_from": f.service_from, "service_to": f.service_to,
                "paid_date": f.paid_date, "cost_report": "O", "amount": amount,
                "repaid": repaid, "method": method, "outstanding": amount - repaid,
                "reason_code": reason,
                "comments": "" if reason != "3" else r.cause.replace("_", " "),
            })
        rows.sort(key=lambda x: (x["part"], x["payer_claim_control_number"],
                                 x["patient_control_number"], x["credit_id"]))
        rendered = render(layout, header, rows)
        pdf = render_document(_cms838_pages(header, rows, end))
        if record:
            known = set(s.execute(select(lt.c.credit_id).where(
                lt.c.credit_id.in_([x["credit_id"] for x in rows]))).scalars()) if rows else set()
            new = [x for x in rows if x["credit_id"] not in known]
            if new:
                s.execute(insert(lt), [{"credit_id": x["credit_id"], "provider_id": pid,
                                        "quarter": label, "part": x["part"],
                                        "amount": x["amount"]} for x in new])
        out.append(Cms838Report(pid, header["provider_npi"], label, tuple(rows), rendered, pdf,
                                names.missing))
    return out


def _cms838_pages(header: dict[str, Any], rows: list[dict[str, Any]],
                  end: dt.date) -> list[Letter]:
    def d(v: Any) -> str:
        return v.strftime("%m/%d/%Y") if isinstance(v, dt.date) else ""

    total = sum((r["amount"] for r in rows), ZERO)
    sender = [header["provider_name"], f"NPI {header['provider_npi']}",
              f"TIN {header['provider_tin']}"]
    pages = [Letter(
        title=f"CMS-838 Medicare Credit Balance Report - quarter ending {d(end)}", date=end,
        sender=sender, recipient=["Medicare Administrative Contractor"],
        paragraphs=[
            "Certification: I certify that this report, including the detail pages, was "
            "prepared from the provider's records and is true, correct and complete to the "
            "best of my knowledge.",
            ("[X] Detail attached" if rows else "[X] No Medicare credit balances this quarter"),
            "Signature of officer: ______________________   Date: __________",
        ], columns=[], rows=[],
        totals=[("Credit balances reported", str(len(rows))), ("Total", money(total))])]
    columns = ["Beneficiary", "MBI/HICN", "ICN", "TOB", "From", "Through", "Paid", "O/C",
               "Credit", "Repaid", "Meth.", "Outstanding", "Rsn", "Comments"]
    for part in ("A", "B"):
        mine = [r for r in rows if r["part"] == part]
        pages.append(Letter(
            title=f"CMS-838 Detail - Medicare Part {part}", date=end, sender=sender,
            recipient=[], landscape=True,
            paragraphs=[] if mine else [f"No Medicare Part {part} credit balances."],
            columns=columns if mine else [],
            widths=[1.3, 1.2, 1.6, 0.5, 0.9, 0.9, 0.9, 0.4, 0.9, 0.9, 0.5, 1.0, 0.4, 1.3],
            rows=[[r["beneficiary_name"], r["member_id"], r["payer_claim_control_number"],
                   r["type_of_bill"],
                   d(r["service_from"]), d(r["service_to"]), d(r["paid_date"]),
                   r["cost_report"], money(r["amount"]), money(r["repaid"]), r["method"],
                   money(r["outstanding"]), r["reason_code"], r["comments"]] for r in mine],
            totals=[(f"Part {part} credits", str(len(mine))),
                    (f"Part {part} total", money(sum((r["amount"] for r in mine), ZERO)))]))
    return pages


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
        return {"as_of": self.as_of.isoformat(), "sections": {
            name: [{"key": k, "count": n, "amount": money(a)} for k, n, a in self.rows(name)]
            for name in sorted(self.sections)}}

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
    for r in s.execute(select(ct, rc.c.state.label("case_state"), rc.c.method).select_from(
            ct.outerjoin(rc, rc.c.credit_id == ct.c.id)).order_by(ct.c.id)):
        amount = Decimal(r.amount).quantize(CENT)
        rep.add("month", r.identified_on.strftime("%Y-%m"), amount)
        if r.status == "resolved":
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
        for r in s.execute(text(
                "SELECT DISTINCT c.id, a.group_code, a.reason FROM credits c "
                "JOIN claim_payments cp ON cp.provider_id = c.provider_id "
                "AND cp.patient_control_number = c.patient_control_number "
                "LEFT JOIN payer_aliases pa ON pa.alias = cp.payer_id "
                "JOIN adjustments a ON a.claim_payment_id = cp.id "
                "WHERE c.status <> 'resolved' AND (c.payer_id = '' OR "
                "COALESCE(pa.payer_id, cp.payer_id) = c.payer_id)")):
            pairs.add((f"{r.group_code}-{r.reason}", int(r.id)))
        for code, cid in sorted(pairs):
            if cid in active:
                rep.add("carc", code, active[cid])
    return rep


# ---------------------------------------------------------------- escheat

class StateRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dormancy_days: int = Field(ge=1, le=36500)
    notice_days_before: int = Field(default=120, ge=0, le=3650)


class EscheatRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_state: str
    states: dict[str, StateRule]
    providers: dict[str, str] = {}

    def state_for(self, npi: str | None) -> tuple[str, StateRule]:
        code = self.providers.get(npi or "", self.default_state)
        rule = self.states.get(code)
        if rule is None:
            raise ConfigError(f"mappings/escheat.yaml: no rule for state {code!r}",
                              code="escheat_config")
        return code, rule


def load_escheat(path: Path = ESCHEAT_PATH) -> EscheatRules:
    try:
        return EscheatRules.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: cannot read: {exc}", code="escheat_config") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{path.name}: {'.'.join(str(p) for p in first['loc'])}: "
                          f"{first['msg']}", code="escheat_config") from None


def _dormant_since(s: Session, cases: Iterable[CaseView]) -> dict[int, dt.date]:
    out = {c.case_id: c.identified_on for c in cases}
    ids = [c.case_id for c in cases if c.state == CaseState.PATIENT_REFUND_ISSUED.value]
    if ids:
        tt = tbl(CaseTransition)
        for r in s.execute(select(tt.c.case_id, tt.c.at).where(
                tt.c.case_id.in_(ids), tt.c.to_state == CaseState.PATIENT_REFUND_ISSUED.value)
                .order_by(tt.c.id)):
            out[r.case_id] = r.at.date()
    return out


def mark_escheat(s: Session, *, as_of: dt.date, rules: EscheatRules,
                 actor: str) -> list[CaseView]:
    """Move patient credits dormant past their state's period to escheat_pending (audited)."""
    sync_cases(s)
    cases = [c for c in list_cases(s, states=[CaseState.OPEN.value, CaseState.APPROVED.value,
                                              CaseState.PATIENT_REFUND_ISSUED.value])
             if c.owed_to == "patient"]
    since = _dormant_since(s, cases)
    moved = []
    for c in cases:
        code, rule = rules.state_for(c.provider_npi)
        days = (as_of - since[c.case_id]).days
        if days >= rule.dormancy_days:
            moved.append(transition(
                s, c.credit_id, CaseState.ESCHEAT_PENDING, actor=actor,
                reason=f"unclaimed {days} days (state {code}: {rule.dormancy_days})",
                details={"state": code, "dormant_since": since[c.case_id].isoformat()}))
    return moved


def escheat_report(s: Session, *, as_of: dt.date, rules: EscheatRules,
                   provider_id: int | None = None) -> list[Rendered]:
    """One CSV per provider of its escheat_pending cases."""
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
        for c in sorted(by_provider[pid], key=lambda c: (c.account_id or "",
                                                          c.patient_control_number)):
            code, _ = rules.state_for(npi)
            rows.append({"state": code, "account_id": c.account_id or "",
                         "patient_control_number": c.patient_control_number,
                         "identified_on": c.identified_on, "dormant_since": since[c.case_id],
                         "days_dormant": (as_of - since[c.case_id]).days, "amount": c.amount,
                         "case_state": c.state, "case_id": c.case_id})
        header = {**provider_header(s, pid), "as_of_compact": as_of.strftime("%Y%m%d")}
        out.append(render(layout, header, rows))
    return out


__all__ = ["AgingReport", "Cms838Report", "EscheatRules", "aging", "cms838", "escheat_report",
           "load_escheat", "mark_escheat", "parse_quarter"]
