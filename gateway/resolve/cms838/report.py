"""The quarter's CMS-838 reports (``cms838``): the credits to report grouped by provider number,
each report's rows (form columns 1 to 15), CSV and PDF, and the credits recorded as reported
so that no later quarter lists them again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.read.reports import Cms838Read, Cms838WarningRead
from gateway.reconcile.medicare import UNVERIFIED
from gateway.reconcile.tables import Credit
from gateway.resolve.beneficiary_names import beneficiary_names
from gateway.resolve.cms838.form import render_pdf
from gateway.resolve.cms838.selection import classify, credit_warning, issued_by, parse_quarter
from gateway.resolve.documents import CENT, REASON_TEXT, claim_facts
from gateway.resolve.render import Rendered, Value, render
from gateway.resolve.tables import Cms838Line, ResolutionCase
from gateway.resolve.workflow import CaseState
from gateway.store.base import RawStore
from mappings.outbound_layouts import get_layout
from mappings.payers import PayerDirectory
from mappings.providers import Certifier, ProviderDirectory, default_directory
from parsers.x12.lexer import Limits
from schemas.serialize import money

ZERO = Decimal("0.00")
#: column 13: 1 duplicate Medicare payment, 2 primary payment by another insurer, 3 other
REASON_838 = {"duplicate_payment": "1", "coordination_of_benefits": "2"}


@dataclass(frozen=True, slots=True)
class Cms838Report:
    """One provider number's CMS-838 for one quarter."""

    certifier: Certifier
    provider_ids: tuple[int, ...]
    quarter: str
    quarter_ended: dt.date
    rows: tuple[dict[str, Any], ...]
    csv: Rendered
    pdf: bytes
    warnings: tuple[Cms838WarningRead, ...] = ()
    #: claims (PCNs) whose beneficiary name no raw file could give (pruned or unreadable)
    names_missing: int = 0

    @property
    def provider_number(self) -> str | None:
        return self.certifier.ccn

    @property
    def missing_fields(self) -> list[str]:
        return self.certifier.missing()

    @property
    def pdf_name(self) -> str:
        return self.csv.filename.rsplit(".", 1)[0] + ".pdf"

    def read(self) -> Cms838Read:
        """The report as its read model (API preview, ``--json``)."""
        c = self.certifier
        return Cms838Read(
            provider_number=c.ccn,
            provider_name=c.name,
            ptan=c.ptan,
            npis=list(c.npis),
            provider_ids=list(self.provider_ids),
            provider_id=self.provider_ids[0],
            provider_npi=c.npis[0] if c.npis else None,
            quarter=self.quarter,
            quarter_ended=self.quarter_ended,
            certification={
                "provider_name": c.name,
                "provider_number": c.ccn,
                "ptan": c.ptan,
                "quarter_ended": self.quarter_ended.isoformat(),
                "low_utilization": c.low_utilization,
                "detail_attached": not c.low_utilization and bool(self.rows),
                "no_credit_balances": not self.rows,
                "officer_name": c.officer_name,
                "officer_title": c.officer_title,
                "contact_name": c.contact_name,
                "contact_phone": c.contact_phone,
                "profile": c.source or None,
            },
            missing_fields=self.missing_fields,
            record_count=self.csv.record_count,
            amount=self.csv.amount_sum,
            part_a=[_json_row(r) for r in self.rows if r["part"] == "A"],
            part_b=[_json_row(r) for r in self.rows if r["part"] == "B"],
            warnings=list(self.warnings),
            beneficiary_names_missing=self.names_missing,
            files=[self.csv.filename, self.pdf_name],
        )


@dataclass
class Cms838Result:
    """The reports written, and what was left off reports (for provider numbers with none)."""

    quarter: str
    quarter_ended: dt.date
    reports: list[Cms838Report] = field(default_factory=list)
    #: warnings of provider numbers that get no report (e.g. only pending credits)
    notices: list[Cms838WarningRead] = field(default_factory=list)
    #: professional Part B credits, returned through the MAC's refund form instead
    refund_form_credits: int = 0


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (money(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, dt.date) else v)
        for k, v in r.items()
        if k != "beneficiary_name"
    }


def cms838(
    s: Session,
    *,
    quarter: str,
    payers: PayerDirectory,
    provider_id: int | None = None,
    record: bool = True,
    store: RawStore | None = None,
    limits: Limits | None = None,
    providers: ProviderDirectory | None = None,
) -> Cms838Result:
    """The quarter's CMS-838 reports, one per provider number with credits to report; records
    what they report unless ``record`` is false (the API's preview).

    With ``store`` the beneficiary names (column 1) are read from the raw files
    (gateway.resolve.beneficiary_names), parsed under ``limits`` (required with ``store``);
    without it they stay blank, as in the API's JSON preview.
    """
    if store is not None and limits is None:
        raise ValueError("cms838: a store to read names from needs the parser limits")
    label, _start, end = parse_quarter(quarter)
    directory = providers if providers is not None else default_directory()
    ct, lt, rc, pt = tbl(Credit), tbl(Cms838Line), tbl(ResolutionCase), tbl(Provider)
    stmt = (
        select(
            ct,
            lt.c.quarter.label("reported_in"),
            rc.c.id.label("case_id"),
            pt.c.npi.label("npi"),
            pt.c.name.label("provider_name"),
            pt.c.key.label("provider_key"),
        )
        .select_from(
            ct.join(pt, pt.c.id == ct.c.provider_id)
            .outerjoin(lt, lt.c.credit_id == ct.c.id)
            .outerjoin(rc, rc.c.credit_id == ct.c.id)
        )
        .where(ct.c.identified_on <= end, (ct.c.resolved_on.is_(None)) | (ct.c.resolved_on > end))
        .order_by(ct.c.id)
    )
    if provider_id is not None:
        stmt = stmt.where(ct.c.provider_id == provider_id)
    result = Cms838Result(label, end)
    groups: dict[str, tuple[Certifier, list[Any], list[Cms838WarningRead]]] = {}
    for r in s.execute(stmt):
        if r.medicare_part and r.owed_to == "payer" and r.return_method == "refund":
            result.refund_form_credits += 1
        kind, warning = classify(r, label, payers)
        if kind == "skip":
            continue
        cert = directory.for_npi(r.npi) or Certifier(
            ccn=None,
            source="",
            npis=(r.npi,) if r.npi else (),
            name=r.provider_name or None,
            ptan=None,
            officer_name=None,
            officer_title=None,
            contact_name=None,
            contact_phone=None,
        )
        key = cert.ccn or f"provider:{r.provider_id}"
        _, rows, warnings = groups.setdefault(key, (cert, [], []))
        if kind == "row":
            rows.append(r)
            if r.medicare_verified is False:
                warnings.append(
                    credit_warning(
                        UNVERIFIED,
                        r,
                        (
                            "Medicare by the claim's filing indicator, but payer "
                            f"{r.payer_id} is no known Medicare contractor (no payer profile "
                            "with programme medicare_a or medicare_b): check it is the MAC "
                            "before filing"
                        ),
                    )
                )
        elif warning is not None:
            warnings.append(warning)
    issued = issued_by(
        s, [r.case_id for _, rows, _ in groups.values() for r in rows if r.case_id is not None], end
    )
    for key in sorted(groups):
        cert, credits, warnings = groups[key]
        if not credits:
            result.notices.extend(warnings)
            continue
        report = _report(s, cert, credits, warnings, label, end, payers, store, limits, issued)
        if record:
            _record(s, report)
        result.reports.append(report)
    return result


def _report(
    s: Session,
    cert: Certifier,
    credits: list[Any],
    warnings: list[Cms838WarningRead],
    label: str,
    end: dt.date,
    payers: PayerDirectory,
    store: RawStore | None,
    limits: Limits | None,
    issued: dict[int, tuple[str, dt.date]],
) -> Cms838Report:
    by_provider: dict[int, list[Any]] = {}
    for r in credits:
        by_provider.setdefault(int(r.provider_id), []).append(r)
    missing_names = 0
    found: dict[tuple[int, str], str] = {}
    for pid, mine in by_provider.items():
        if store is None or limits is None:
            continue
        names = beneficiary_names(s, store, pid, {r.patient_control_number for r in mine}, limits)
        missing_names += names.missing
        found.update(
            {(pid, r.patient_control_number): names.get(r.patient_control_number) for r in mine}
        )
    rows: list[dict[str, Any]] = []
    for r in credits:
        # for a duplicate payment, the most recently paid claim (claim_facts: the latest
        # standing adjudication of the payer owed)
        f = claim_facts(s, r.provider_id, r.patient_control_number, r.payer_id, payers)
        amount = Decimal(r.amount).quantize(CENT)
        state, when = issued.get(r.case_id, ("", None)) if r.case_id is not None else ("", None)
        repaid = amount if state == CaseState.REFUND_SENT.value else ZERO
        reason = REASON_838.get(r.cause, "3")
        comments = [] if reason != "3" else [REASON_TEXT.get(r.cause, r.cause)]
        if state == CaseState.OFFSET_REQUESTED.value and when is not None:
            comments.append(f"offset requested from the MAC on {when:%m/%d/%Y}")
        closed = cert.cost_report_closed_through
        rows.append(
            {
                "credit_id": r.id,
                "part": r.medicare_part,
                "beneficiary_name": found.get((int(r.provider_id), r.patient_control_number), ""),
                "member_id": f.member_id,
                "payer_claim_control_number": f.payer_claim_control_number,
                "patient_control_number": r.patient_control_number,
                "type_of_bill": f.type_of_bill,
                "service_from": f.service_from,
                "service_to": f.service_to,
                "paid_date": f.paid_date,
                "cost_report": "C" if closed and f.service_to and f.service_to <= closed else "O",
                "amount": amount,
                "repaid": repaid,
                "method": "C" if state == CaseState.REFUND_SENT.value else "",
                "outstanding": amount - repaid,
                "reason_code": reason,
                "msp_code": "",
                "comments": "; ".join(comments),
                "payer_id": r.payer_id,
            }
        )
    rows.sort(
        key=lambda x: (
            x["part"],
            x["payer_claim_control_number"],
            x["patient_control_number"],
            x["credit_id"],
        )
    )
    header: dict[str, Value] = {
        "report_id": cert.ccn or (cert.npis[0] if cert.npis else "unknown"),
        "quarter": label,
        "provider_name": cert.name or "",
        "provider_number": cert.ccn or "",
        "ptan": cert.ptan or "",
        "quarter_ended": end,
        "officer_name": cert.officer_name or "",
        "officer_title": cert.officer_title or "",
        "contact_name": cert.contact_name or "",
        "contact_phone": cert.contact_phone or "",
        "npis": " ".join(cert.npis),
    }
    rendered = render(get_layout("cms838_csv", document="report"), header, rows)
    pdf = render_pdf(cert, label, end, rows)
    return Cms838Report(
        cert,
        tuple(sorted(by_provider)),
        label,
        end,
        tuple(rows),
        rendered,
        pdf,
        tuple(warnings),
        missing_names,
    )


def _record(s: Session, report: Cms838Report) -> None:
    lt = tbl(Cms838Line)
    ids = [x["credit_id"] for x in report.rows]
    known = set(s.execute(select(lt.c.credit_id).where(lt.c.credit_id.in_(ids))).scalars())
    ct = tbl(Credit)
    by_credit = {
        int(r.id): int(r.provider_id)
        for r in s.execute(select(ct.c.id, ct.c.provider_id).where(ct.c.id.in_(ids)))
    }
    new = [x for x in report.rows if x["credit_id"] not in known]
    if new:
        s.execute(
            insert(lt),
            [
                {
                    "credit_id": x["credit_id"],
                    "provider_id": by_credit[x["credit_id"]],
                    "quarter": report.quarter,
                    "part": x["part"],
                    "amount": x["amount"],
                }
                for x in new
            ],
        )


__all__ = ["Cms838Report", "Cms838Result", "cms838"]
