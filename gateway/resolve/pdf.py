"""Printable PDF letters and reports (fpdf2; deterministic bytes for the same input).

Built-in PDF fonts cover Latin-1 only, so text is folded to it (unknown characters become '?')
rather than failing a refund letter over a name with an unusual character. fpdf is imported
when a document is rendered, not with this module: read-only commands (``gateway report aging``)
import the report code that builds letters and must start without it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True, slots=True)
class Letter:
    """A letter with a claim table: refund transmittal, offset authorisation, dispute, 838."""

    title: str
    date: dt.date
    sender: Sequence[str]
    recipient: Sequence[str]
    paragraphs: Sequence[str]
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    totals: Sequence[tuple[str, str]] = ()
    #: relative column widths (defaults to equal)
    widths: Sequence[float] = field(default_factory=tuple)
    landscape: bool = False
    footer: str = ""


def render_letter(letter: Letter) -> bytes:
    return render_document([letter])


def render_document(letters: Sequence[Letter]) -> bytes:
    """Several letters in one PDF, each starting on a new page (e.g. CMS-838: certification,
    Part A detail, Part B detail); metadata comes from the first."""
    if not letters:
        raise ValueError("a document needs at least one page")
    from fpdf import FPDF

    first = letters[0]
    pdf = FPDF(orientation="L" if first.landscape else "P", unit="mm", format="Letter")
    pdf.set_creation_date(dt.datetime.combine(first.date, dt.time(), tzinfo=dt.UTC))
    pdf.set_title(_latin1(first.title))
    pdf.set_author("Remittance Gateway")
    pdf.set_auto_page_break(auto=True, margin=15)
    for letter in letters:
        pdf.add_page(orientation="L" if letter.landscape else "P")
        _write(pdf, letter)
    return bytes(pdf.output())


def _write(pdf: FPDF, letter: Letter) -> None:
    pdf.set_font("Helvetica", size=10)
    for line in letter.sender:
        pdf.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.cell(0, 5, letter.date.strftime("%B %d, %Y"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for line in letter.recipient:
        pdf.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.cell(0, 7, _latin1(letter.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.ln(2)
    for para in letter.paragraphs:
        pdf.multi_cell(0, 5, _latin1(para), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    if letter.columns:
        usable = pdf.w - pdf.l_margin - pdf.r_margin
        weights = list(letter.widths) or [1.0] * len(letter.columns)
        total = sum(weights)
        widths = [usable * w / total for w in weights]
        pdf.set_font("Helvetica", style="B", size=8)
        for col, width in zip(letter.columns, widths, strict=True):
            pdf.cell(width, 6, _latin1(col), border=1)
        pdf.ln()
        pdf.set_font("Helvetica", size=8)
        for row in letter.rows:
            for value, width in zip(row, widths, strict=True):
                pdf.cell(width, 5, _latin1(value), border=1)
            pdf.ln()
    if letter.totals:
        pdf.ln(3)
        pdf.set_font("Helvetica", style="B", size=10)
        for label, value in letter.totals:
            pdf.cell(0, 6, _latin1(f"{label}: {value}"), new_x="LMARGIN", new_y="NEXT")
    if letter.footer:
        pdf.ln(4)
        pdf.set_font("Helvetica", size=8)
        pdf.multi_cell(0, 4, _latin1(letter.footer), new_x="LMARGIN", new_y="NEXT")
