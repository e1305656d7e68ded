"""The demo's practice-management ledger export: pipe-separated rows (the layout
``LEDGER_LAYOUT`` of ``mappings/ledger``), one file per period ending on each cut day.

Split from ``gateway.demo.render`` (the file record and what the renderers share).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from gateway.demo.calendar import CHECKPOINT
from gateway.demo.model import DemoClaim, Posting
from gateway.demo.render import DemoFile

#: the ledger layout the export is written in (``mappings/ledger/<name>.yaml``)
LEDGER_LAYOUT = "practice_management_export"
LEDGER_HEADER = (
    "Acct No",
    "Claim ID",
    "Date Posted",
    "Trans Type",
    "Carrier Code",
    "Trans Amount",
    "Batch",
    "CPT",
    "DOS",
    "Line Ctrl",
    "Dept",
)
#: the department that posts a hospital claim's charges, by the category of its largest
#: revenue code (else hospital outpatient); a practice claim's, by its first procedure
_HOSPITAL_DEPARTMENTS = {
    "030": "Laboratory",
    "031": "Laboratory",
    "032": "Radiology",
    "035": "Radiology",
    "036": "Surgery",
    "045": "Emergency",
}
_PRACTICE_DEPARTMENTS = {"7": "Radiology", "8": "Laboratory"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _ledger_date(day: dt.date) -> str:
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year:04d}"


def department(c: DemoClaim) -> str:
    """The department the ledger names on the claim's charge rows."""
    if c.kind == "837I":
        top = max(c.lines, key=lambda ln: ln.charge)
        return _HOSPITAL_DEPARTMENTS.get(top.revenue_code[:3], "Hospital outpatient")
    code = c.lines[0].procedure.split(":")[-1] if c.lines else ""
    return _PRACTICE_DEPARTMENTS.get(code[:1], "Clinic")


_CODE_ORDER = {"C": 0, "PP": 1, "IP": 2, "CA": 3, "WO": 4, "IR": 5, "PR": 6}


def ledger_files(
    claims: Iterable[DemoClaim], cuts: Iterable[dt.date] = (CHECKPOINT,)
) -> list[DemoFile]:
    """The practice-management ledger export: one file per period ending on each of ``cuts``
    (the reconciliation days but the last), then the rest."""
    rows: list[tuple[Posting, DemoClaim]] = [(p, c) for c in claims for p in c.postings]
    rows.sort(
        key=lambda r: (r[0].date, r[1].account_id, r[1].pcn, _CODE_ORDER[r[0].code], r[0].amount)
    )
    out: list[DemoFile] = []
    first = min(r[0].date for r in rows)
    last = max(r[0].date for r in rows)
    ends = [c for c in sorted(set(cuts)) if first <= c < last] + [last]
    starts = [first] + [e + dt.timedelta(days=1) for e in ends[:-1]]
    for start, end in zip(starts, ends, strict=True):
        lines = ["|".join(LEDGER_HEADER)]
        for p, c in rows:
            if start <= p.date <= end:
                detail = (
                    ("", "", "")
                    if p.line is None
                    else (
                        p.line.procedure.split(":")[-1],
                        _ledger_date(p.line.service_date),
                        p.line.control,
                    )
                )
                lines.append(
                    "|".join(
                        (
                            c.account_id,
                            c.pcn,
                            _ledger_date(p.date),
                            p.code,
                            p.payer_id,
                            f"{p.amount:.2f}",
                            p.reference,
                            *detail,
                            department(c) if p.code == "C" else "",
                        )
                    )
                )
        data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        out.append(
            DemoFile(f"ledger/DRMC_ledger_{start:%Y%m%d}_{end:%Y%m%d}.txt", "ledger", end, data)
        )
    return out
