"""The CMS-838 Medicare credit balance report, as CMS asks for it since 1 December 2024.

Providers no longer file it every quarter, nor certify zero balances: a report is written for a
provider number (CCN) only when it has Medicare credits not yet reported; otherwise the command
says there is nothing to file. It covers institutional claims (837I) billed to the Part A/B
MAC: credits whose ``return_method`` is ``report`` (gateway/reconcile/medicare.py). Professional
Part B credits go back through the MAC's voluntary refund form (batches) and never appear here;
credits the provider is returning by claim adjustment are noted, not listed.

A credit is on the report of the quarter when it was identified by the quarter's last day and
not resolved by then, and was not reported in an earlier quarter (``cms838_lines``, unique per
credit: re-running a quarter reproduces its report, a later quarter leaves it out). A pending
credit is a warning, not a detail row; so is a credit Medicare is owed only by the claim's
filing indicator, from a payer that is no known Medicare contractor (``unverified Medicare
payer``), and a credit owed to nobody known on a claim Medicare paid.

One report per provider number, psychiatric and rehabilitation subunits each their own: the
gateway's providers (NPIs) are grouped by the provider profiles (mappings/providers). The
report holds what the form prints: the certification page (provider name and number, quarter
ended, the three boxes, the officer's signature, printed name, title and date, the contact
person and telephone) and detail pages, Part A and Part B apart, with every column of the form
in its order, numbered 1 to 15. A provider number with no profile, or a profile missing a
field, still gets its report with those fields blank; ``missing_fields`` names them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gateway.db.models import Provider, tbl
from gateway.errors import InputError
from gateway.read.reports import Cms838Read, Cms838WarningRead
from gateway.reconcile.medicare import UNVERIFIED
from gateway.reconcile.tables import Credit
from gateway.resolve.documents import REASON_TEXT, claim_facts
from gateway.resolve.names import beneficiary_names
from gateway.resolve.pdf import BLANK, Writer, render_pages
from gateway.resolve.render import Rendered, Value, render
from gateway.resolve.tables import CaseTransition, Cms838Line, ResolutionCase
from gateway.resolve.workflow import CaseState
from gateway.store.base import RawStore
from mappings.outbound_layouts import get_layout
from mappings.payers import PayerDirectory
from mappings.providers import Certifier, ProviderDirectory, default_directory
from parsers.x12.lexer import Limits
from schemas.serialize import money
from schemas.states import CreditStatus

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
#: column 13: 1 duplicate Medicare payment, 2 primary payment by another insurer, 3 other
REASON_838 = {"duplicate_payment": "1", "coordination_of_benefits": "2"}
#: the detail page's columns, numbered as the form numbers them
COLUMNS = (
    "(1) Beneficiary name",
    "(2) HICN / MBI",
    "(3) ICN",
    "(4) Type of bill",
    "(5) Admission / start of care date",
    "(6) Discharge / through date",
    "(7) Paid date",
    "(8) Cost report O/C",
    "(9) Amount of Medicare credit balance",
    "(10) Amount repaid",
    "(11) Method of payment (A/C/X)",
    "(12) Amount outstanding",
    "(13) Reason (1 duplicate, 2 MSP, 3 other)",
    "(14) MSP code",
    "(15) Comments",
)
WIDTHS = (2.1, 1.6, 2.0, 0.8, 1.2, 1.2, 1.1, 0.9, 1.3, 1.1, 1.0, 1.3, 1.2, 0.8, 2.6)


#: the read model of a warning lives in gateway.read.reports
Cms838Warning = Cms838WarningRead


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
    warnings: tuple[Cms838Warning, ...] = ()
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
    notices: list[Cms838Warning] = field(default_factory=list)
    #: professional Part B credits, returned through the MAC's refund form instead
    refund_form_credits: int = 0


def parse_quarter(value: str) -> tuple[str, dt.date, dt.date]:
    """'2026Q3' → ('2026Q3', 2026-07-01, 2026-09-30)."""
    m = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", value.strip())
    if m is None:
        raise InputError(f"quarter {value!r} is not like 2026Q3", code="bad_quarter")
    year, q = int(m.group(1)), int(m.group(2))
    if not 1900 <= year <= 9998:
        raise InputError(f"quarter {value!r}: year {year} is out of range", code="bad_quarter")
    start = dt.date(year, 3 * q - 2, 1)
    end = (dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)) - dt.timedelta(
        days=1
    )
    return f"{year}Q{q}", start, end


def _json_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (money(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, dt.date) else v)
        for k, v in r.items()
        if k != "beneficiary_name"
    }


def _issued_by(s: Session, case_ids: list[int], end: dt.date) -> dict[int, tuple[str, dt.date]]:
    """case id → (refund_sent/offset_requested/... reached on or before ``end``, when)."""
    if not case_ids:
        return {}
    tt = tbl(CaseTransition)
    out: dict[int, tuple[str, dt.date]] = {}
    limit = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    for r in s.execute(
        select(tt.c.case_id, tt.c.to_state, tt.c.at)
        .where(tt.c.case_id.in_(case_ids))
        .order_by(tt.c.id)
    ):
        at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
        if at < limit:
            out[r.case_id] = (r.to_state, at.date())
    return out


def _warn(code: str, r: Any, message: str) -> Cms838Warning:
    return Cms838Warning(
        code=code,
        message=f"credit {r.id} ({r.patient_control_number}): {message}",
        credit_id=r.id,
        patient_control_number=r.patient_control_number,
        payer_id=r.payer_id or None,
    )


def _classify(r: Any, label: str, payers: PayerDirectory) -> tuple[str, Cms838Warning | None]:
    """('row' | 'skip' | 'warn', warning) for one credit open at the quarter's end."""
    part = r.medicare_part
    if part is None and r.return_method is None and r.owed_to == "payer":
        profile = payers.get(r.payer_id) if r.payer_id else None
        if profile is not None and profile.programme in ("medicare_a", "medicare_b"):
            return "warn", _warn(
                "not_classified",
                r,
                (
                    "a Medicare credit found before this gateway version classified credits: run "
                    "`gateway reconcile` so it is reported (or returned) the right way"
                ),
            )
        return "skip", None
    if part is None:
        return "skip", None
    if r.owed_to == "unknown":
        return "warn", _warn(
            "owner_unknown",
            r,
            (
                f"{money(Decimal(r.amount))} on a claim Medicare paid is owed to nobody known yet "
                f"({r.cause}); find whose money it is: Medicare's must be reported"
            ),
        )
    if r.owed_to != "payer" or r.return_method == "refund":
        return "skip", None
    if r.reported_in is not None and r.reported_in != label:
        return "skip", None  # reported in an earlier quarter: never twice
    if r.return_method == "claim_adjustment":
        return "warn", _warn(
            "claim_adjustment",
            r,
            (
                "being returned by the adjustment claim sent to the MAC, so it is not on the "
                "CMS-838; if the MAC does not process it, report or refund it"
            ),
        )
    if r.status == CreditStatus.PENDING:
        return "warn", _warn(
            "pending_credit",
            r,
            (
                f"{money(Decimal(r.amount))} owed to {r.payer_id} is pending "
                f"(until {r.pending_until or 'its variance is resolved'}): not a detail row until "
                "it opens"
            ),
        )
    return "row", None


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
    (gateway.resolve.names), parsed under ``limits`` (required with ``store``); without it
    they stay blank, as in the API's JSON preview.
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
    groups: dict[str, tuple[Certifier, list[Any], list[Cms838Warning]]] = {}
    for r in s.execute(stmt):
        if r.medicare_part and r.owed_to == "payer" and r.return_method == "refund":
            result.refund_form_credits += 1
        kind, warning = _classify(r, label, payers)
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
                    _warn(
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
    issued = _issued_by(
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
    warnings: list[Cms838Warning],
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


# ---------------------------------------------------------------- the form's pages


def render_pdf(cert: Certifier, label: str, end: dt.date, rows: Sequence[dict[str, Any]]) -> bytes:
    """The form: its certification page, then a detail page per Part that has rows."""
    return render_pages(
        title=f"CMS-838 Medicare Credit Balance Report, quarter ended {end:%m/%d/%Y}",
        date=end,
        subject=f"CMS-838 provider number {cert.ccn or '(none)'} quarter {label}",
        pages=[
            lambda w: _certification(w, cert, end, bool(rows)),
            *(
                _detail(cert, end, part, [x for x in rows if x["part"] == part])
                for part in ("A", "B")
                if any(x["part"] == part for x in rows)
            ),
        ],
    )


def _d(v: Any) -> str:
    return v.strftime("%m/%d/%Y") if isinstance(v, dt.date) else ""


def _certification(w: Writer, c: Certifier, end: dt.date, detail: bool) -> None:
    w.running_header(())
    w.page()
    w.line("Form CMS-838", size=8)
    w.line("MEDICARE CREDIT BALANCE REPORT", bold=True, size=13)
    w.line("CERTIFICATION PAGE", bold=True, size=11)
    w.gap(2)
    w.paragraph(
        "Required under sections 1815(a), 1833(e) and 1866(a)(1)(C) of the Social "
        "Security Act. Not submitting it when it is due may suspend Medicare payments "
        "to the provider. Anyone who misrepresents, falsifies, conceals or omits any "
        "essential information may be subject to fine, imprisonment or civil money "
        "penalties under applicable Federal laws.",
        size=9,
    )
    w.line("CERTIFICATION BY OFFICER OR ADMINISTRATOR OF PROVIDER", bold=True)
    w.paragraph(
        "I hereby certify that I have read the above statements and have examined the "
        "accompanying credit balance report prepared by the provider named below for "
        "the calendar quarter ended below, and that it is a true, correct and complete "
        "statement prepared from the books and records of the provider in accordance "
        "with applicable Federal laws, regulations and instructions.",
        size=9,
    )
    w.line(f"Provider name: {c.name or BLANK}")
    number = c.ccn or BLANK
    w.line(f"Provider number (CCN/PTAN): {number}" + (f"   PTAN: {c.ptan}" if c.ptan else ""))
    w.line(f"Calendar quarter ended: {_d(end)}")
    if c.npis:
        w.line(f"NPI(s) reported under this provider number: {', '.join(c.npis)}", size=8)
    w.gap(4)
    w.line(f"(Sign) Officer or administrator of provider: {BLANK}")
    w.line(f"(Print) Name: {c.officer_name or BLANK}")
    w.line(f"(Print) Title: {c.officer_title or BLANK}")
    w.line(f"Date: {BLANK}  (the day the officer signs)")
    w.gap(4)
    w.line("CHECK ONE:", bold=True)
    w.checkbox(c.low_utilization, "Qualify as a low utilization provider.")
    w.checkbox(
        detail and not c.low_utilization, "The credit balance report detail page(s) is attached."
    )
    w.checkbox(
        not detail,
        "There are no Medicare credit balances to report for this quarter "
        "(no detail page attached).",
    )
    w.gap(4)
    w.line(f"Contact person: {c.contact_name or BLANK}")
    w.line(f"Telephone number: {c.contact_phone or BLANK}")
    w.gap(6)
    w.paragraph(
        "Since 1 December 2024 this report is filed only when there are Medicare credit "
        "balances to report; each credit is reported once. Professional (Part B "
        "carrier) credits are returned through the MAC's voluntary refund form, not "
        "this report.",
        size=8,
    )


def _detail(c: Certifier, end: dt.date, part: str, rows: Sequence[dict[str, Any]]) -> Any:
    def draw(w: Writer) -> None:
        w.running_header(
            (
                f"MEDICARE CREDIT BALANCE REPORT - DETAIL PAGE - MEDICARE PART {part}",
                f"Provider name: {c.name or BLANK}    Provider number: {c.ccn or BLANK}    "
                f"Quarter ended: {_d(end)}",
                f"Contact person: {c.contact_name or BLANK}    Telephone: "
                f"{c.contact_phone or BLANK}",
            )
        )
        w.page(landscape=True)
        w.line(
            f"[{'X' if part == 'A' else ' '}] Part A    [{'X' if part == 'B' else ' '}] "
            "Part B"
            + (
                "   (Part B: services billed to the MAC on institutional claims)"
                if part == "B"
                else ""
            ),
            size=9,
        )
        w.table(
            COLUMNS,
            [
                [
                    r["beneficiary_name"],
                    r["member_id"],
                    r["payer_claim_control_number"],
                    r["type_of_bill"],
                    _d(r["service_from"]),
                    _d(r["service_to"]),
                    _d(r["paid_date"]),
                    r["cost_report"],
                    money(r["amount"]),
                    money(r["repaid"]),
                    r["method"],
                    money(r["outstanding"]),
                    r["reason_code"],
                    r["msp_code"],
                    r["comments"],
                ]
                for r in rows
            ],
            WIDTHS,
            size=7,
        )
        total = sum((r["amount"] for r in rows), ZERO)
        repaid = sum((r["repaid"] for r in rows), ZERO)
        w.gap(2)
        w.line(
            f"Part {part}: {len(rows)} credit balance(s); total {money(total)}; repaid "
            f"{money(repaid)}; outstanding {money(total - repaid)}",
            bold=True,
            size=9,
        )

    return draw


__all__ = [
    "COLUMNS",
    "Cms838Report",
    "Cms838Result",
    "Cms838Warning",
    "cms838",
    "parse_quarter",
    "render_pdf",
]
