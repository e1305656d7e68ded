"""Attack: make a file the gateway sends run code on its reader's desk (issue 17, item 4).

A payer controls the claim ids in its 835s; those ids come back to it in our refund files. A
claim id ``=cmd|' /C calc'!A0`` used to be written verbatim as the first cell of the refund
file, where a spreadsheet runs it. Every text cell of every outbound layout must be
neutralised (OWASP CSV injection guidance), and amounts must stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import string
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from gateway.resolve.render import RenderError, Value, render
from gateway.resolve.reports import AgingReport
from gateway.security.cells import FORMULA_START
from mappings.outbound_layouts import Layout, load_layouts
from tests.integration.helpers import ROOT, ingest
from tests.integration.test_api_support import Api

EVIL = "=cmd|' /C calc'!A0"
HOSTILE = (
    EVIL,
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\uff1d1+1",
)
DUP = ROOT / "tests" / "fixtures" / "reconcile" / "duplicate_payment"


def _is_number(cell: str) -> bool:
    try:
        Decimal(cell)
    except InvalidOperation:
        return False
    return True


def _assert_cells_safe(cells: list[str], where: str) -> None:
    for cell in cells:
        if cell and cell[0] in FORMULA_START:
            assert _is_number(cell), (where, cell)


def test_835_claim_id_formula_does_not_reach_the_refund_file(api: Api, tmp_path: Path) -> None:
    """Attack: a payer's 835 carries the claim id ``=cmd|' /C calc'!A0``; the credit it
    creates is approved over the API and batched: the refund file for that payer must show
    the id as text, not a formula, with the amounts still numbers."""
    swap = [(b"DUP1", EVIL.encode()), (b"ACME01", b"87726")]  # UnitedHealthcare: refunds
    for name in ("1.835", "2.835", "3.csv"):
        data = (DUP / name).read_bytes()
        for old, new in swap:
            data = data.replace(old, new)
        if name.endswith(".835"):
            r = api.client.post("/v1/files", content=data, headers=api.auth("ops"))
            assert r.status_code == 201, r.text
            api.process_queue()
        else:
            assert ingest(api.gw, data, name).state == "processed"
    api.gw.cli("reconcile", "--as-of", "2026-09-30", check=True)
    credits = api.client.get("/v1/credits", headers=api.auth("ops")).json()["items"]
    [credit] = [c for c in credits if c["patient_control_number"] == EVIL]
    r = api.client.post(
        f"/v1/credits/{credit['id']}/approve",
        headers=api.auth("ops"),
        json={"reason": "duplicate payment confirmed", "method": "refund"},
    )
    assert r.status_code == 200, r.text
    out = tmp_path / "batches"
    api.gw.cli("batches", "create", "--as-of", "2026-10-01", "--out", str(out), check=True)
    [refund] = list(out.glob("REFUND_87726_*.csv"))
    rows = list(csv.reader(io.StringIO(refund.read_text(encoding="utf-8"), newline="")))
    assert rows[1][0] == "'" + EVIL  # the spreadsheet shows the text; it runs nothing
    assert EVIL not in [cell for row in rows for cell in row]
    assert rows[1][7] == "80.00"  # amounts are numbers, unquoted and unprefixed
    for row in rows:
        _assert_cells_safe(row, refund.name)


def _values(layout: Layout, i: int) -> tuple[dict[str, Value], list[dict[str, Value]]]:
    """Batch and two rows giving every named field of ``layout`` a hostile value of its
    format: formula text, negative money where the format allows it."""
    batch: dict[str, Value] = {}
    rows: list[dict[str, Value]] = [{}, {}]
    records = layout.records
    for kind, specs in (("batch", [*records.header, *records.trailer]), ("row", records.detail)):
        for n, spec in enumerate(specs):
            if spec.name is None:
                continue
            for r, target in enumerate([batch] if kind == "batch" else rows):
                value: Value
                if spec.format == "money":
                    value = Decimal("-12.34") if spec.name != "amount" else Decimal("5.00")
                elif spec.format == "cents":
                    value = Decimal("5.00")
                elif spec.format == "date":
                    value = dt.date(2026, 7, 1)
                elif spec.format == "int":
                    value = -7
                else:
                    value = HOSTILE[(i + n + r) % len(HOSTILE)]
                    if spec.width is not None:
                        value = value[: spec.width - 1]
                target[spec.name] = value
    for _, field, _, _ in string.Formatter().parse(layout.filename):
        if field:
            batch[field] = "X1"  # file names are made safe separately (render.filename)
    return batch, rows


LAYOUTS = load_layouts()


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_outbound_layout_neutralises_formulas(name: str) -> None:
    """Attack: a formula in any text field (claim ids, member ids, reasons, references, payer
    ids in a header) of any outbound layout, CSV or fixed width."""
    layout = LAYOUTS[name]
    batch, rows = _values(layout, len(name))
    out = render(layout, batch, rows)  # hostile values are cut to leave room for the quote
    text = out.content.decode("utf-8")
    if layout.format == "csv":
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter))
        for line in lines:
            _assert_cells_safe(line, name)
        cells = [c for line in lines for c in line]
        assert any(c.startswith("'") for c in cells), name  # the hostile text is there, as text
        if any(s.format == "money" and s.name != "amount" for s in layout.records.detail):
            assert "-12.34" in cells, name  # a negative amount stays a number
    else:
        kinds = (
            (["header"] if layout.records.header else [])
            + ["detail"] * len(rows)
            + (["trailer"] if layout.records.trailer else [])
        )
        for kind, record in zip(kinds, text.split(layout.line_ending), strict=False):
            pos = 0
            for spec in getattr(layout.records, kind):
                assert spec.width is not None
                cell = record[pos : pos + spec.width].strip()
                pos += spec.width
                if spec.format == "text":
                    _assert_cells_safe([cell], f"{name} {kind} {spec.name}")


def test_line_breaks_cannot_forge_fixed_width_records() -> None:
    """Attack: a claim id with CR LF and a fake trailer record in a fixed-width MAC file."""
    layout = LAYOUTS["refund_fixed_mac"]
    batch, rows = _values(layout, 0)
    rows[0]["patient_control_number"] = "X\r\nT000000001000000000099999"
    with pytest.raises(RenderError, match="line breaks are not allowed"):
        render(layout, batch, rows)


def test_aging_report_csv_neutralises_payer_keys() -> None:
    """Attack: a payer id ``=HYPERLINK(...)`` from an 835 becomes a key of the aging CSV."""
    rep = AgingReport(dt.date(2026, 9, 30))
    rep.add("payer", '=HYPERLINK("http://x.invalid","click")', Decimal("-3.00"))
    rows = list(csv.reader(io.StringIO(rep.to_csv().decode(), newline="")))
    assert rows[1] == ["payer", '\'=HYPERLINK("http://x.invalid","click")', "1", "-3.00"]
