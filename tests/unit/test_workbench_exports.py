"""Worklist exports: the screen's columns, formula cells neutralised, money numeric."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl

from gateway.read.worklist import WorklistRow
from gateway.resolve.exports import to_csv, to_xlsx
from gateway.resolve.worklist import COLUMNS
from schemas.states import CaseState, CreditStatus


def _row(account: str, pcn: str) -> WorklistRow:
    return WorklistRow(
        case_id=1,
        credit_id=7,
        provider_id=1,
        provider_npi="1234567893",
        provider_key="npi:1234567893",
        state=CaseState.OPEN,
        method=None,
        reference=None,
        approved_by=None,
        credit_status=CreditStatus.OPEN,
        investigation_opened_on=None,
        investigation_closed_on=None,
        account_id=account,
        patient_control_number=pcn,
        owed_to="payer",
        payer_id="ACME01",
        amount=Decimal("-12.50"),
        cause="duplicate_payment",
        government=False,
        identified_on=dt.date(2026, 9, 30),
        due_by=dt.date(2026, 10, 30),
    )


def test_formula_cells_are_neutralised_in_csv_and_xlsx() -> None:
    rows = [_row("=cmd|' /C calc'!A0", "@SUM(A1)"), _row("+1+1", "\uff1dHYPERLINK(1)")]
    today = dt.date(2026, 10, 1)
    table = list(csv.reader(io.StringIO(to_csv(rows, today).decode())))
    assert table[0] == [title for _, title in COLUMNS]
    assert (table[1][3], table[1][4]) == ("'=cmd|' /C calc'!A0", "'@SUM(A1)")
    assert (table[2][3], table[2][4]) == ("'+1+1", "'\uff1dHYPERLINK(1)")
    assert table[1][7] == "-12.50"  # a negative amount stays a number
    assert table[1][12] == "29"
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx(rows, today))).active
    assert ws is not None
    got = list(ws.iter_rows(values_only=True))
    assert got[1][3] == "'=cmd|' /C calc'!A0"
    assert got[1][4] == "'@SUM(A1)"
    assert got[1][7] == -12.5
    assert all(not (isinstance(v, str) and v.startswith("=")) for r in got for v in r)
    assert ws.cell(row=2, column=4).data_type == "s"
