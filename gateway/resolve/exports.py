"""CSV and XLSX exports of a worklist view: the screen's columns, text cells neutralised
against spreadsheet formula injection (``gateway.security.cells``), money as numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from gateway.read.worklist import WorklistRow
from gateway.resolve.worklist import COLUMNS
from gateway.security.cells import neutralise


def _value(row: WorklistRow, key: str, today: dt.date) -> Any:
    if key == "days_left":
        return row.days_left(today)
    value = getattr(row, key)
    if isinstance(value, bool):
        return "yes" if value else ""
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def to_csv(rows: list[WorklistRow], today: dt.date) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([title for _, title in COLUMNS])
    for r in rows:
        w.writerow([_text(_value(r, k, today)) for k, _ in COLUMNS])
    return buf.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal | int | dt.date):
        return value
    return neutralise(str(value))


def to_xlsx(rows: list[WorklistRow], today: dt.date) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "cases"
    ws.append([title for _, title in COLUMNS])
    for r in rows:
        ws.append([_cell(_value(r, k, today)) for k, _ in COLUMNS])
        amount = ws.cell(row=ws.max_row, column=[k for k, _ in COLUMNS].index("amount") + 1)
        amount.number_format = "0.00"
        # a text cell that looks like a formula stays text, whatever the reader
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


__all__ = ["to_csv", "to_xlsx"]
