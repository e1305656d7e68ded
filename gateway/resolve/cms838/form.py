"""The CMS-838 as the form prints it: the certification page (provider, quarter ended, the
three boxes, the officer's signature block, the contact) and a detail page per Part with the
form's 15 numbered columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from gateway.resolve.pdf import BLANK, Writer, render_pages
from mappings.providers import Certifier
from schemas.serialize import money

ZERO = Decimal("0.00")

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


__all__ = ["render_pdf"]
