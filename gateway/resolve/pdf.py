"""Printable PDF letters and reports (fpdf2; deterministic bytes for the same input).

Every text a gateway PDF prints wraps inside its cell or the page's margins (fpdf2's
``multi_cell`` and ``table``): a long reason, name or claim number takes more lines, never
runs off the page. Built-in PDF fonts cover Latin-1 only, so text is folded to it (unknown
characters become '?') rather than failing a refund letter over a name with an unusual
character. fpdf is imported when a document is rendered, not with this module: read-only
commands (``gateway report aging``) import the report code that builds letters and must start
without it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

#: a blank to be filled in by hand, where a form field has no value
BLANK = "_" * 28

if TYPE_CHECKING:
    from fpdf import FPDF


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True, slots=True)
class Letter:
    """A letter with a claim table: refund transmittal, offset authorisation, dispute."""

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
    #: labelled references under the title (a None value prints as a blank to fill in)
    facts: Sequence[tuple[str, str | None]] = ()
    #: the signature block: signer, title, contact (after "Sincerely," and a signature line)
    signature: Sequence[str] = ()

    def draw(self, w: Writer) -> None:
        w.page(landscape=self.landscape)
        for line in self.sender:
            w.line(line)
        w.gap(4)
        w.line(self.date.strftime("%B %d, %Y"))
        w.gap(4)
        for line in self.recipient:
            w.line(line)
        w.gap(6)
        w.line(self.title, bold=True, size=13)
        w.gap(2)
        for i in range(0, len(self.facts), 2):
            w.fields(self.facts[i : i + 2])
        if self.facts:
            w.gap(2)
        for para in self.paragraphs:
            w.paragraph(para)
        if self.columns:
            w.table(self.columns, self.rows, self.widths)
        if self.totals:
            w.gap(3)
            for label, value in self.totals:
                w.line(f"{label}: {value}", bold=True)
        if self.signature:
            w.gap(6)
            w.line("Sincerely,")
            w.gap(10)
            w.line("_" * 36)
            for line in self.signature:
                w.line(line)
        if self.footer:
            w.gap(4)
            w.paragraph(self.footer, size=8)


class Writer:
    """An fpdf2 document with the few wrapping primitives the gateway's documents use."""

    def __init__(
        self, *, title: str, date: dt.date, subject: str = "", page_numbers: bool = False
    ) -> None:
        pdf: Any = _pdf_class()(orientation="P", unit="mm", format="Letter")
        pdf.page_numbers = page_numbers
        pdf.set_creation_date(dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC))
        pdf.set_title(_latin1(title))
        if subject:
            pdf.set_subject(_latin1(subject))
        pdf.set_author("Remittance Gateway")
        pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf = pdf

    def running_header(self, lines: Sequence[str]) -> None:
        """Lines to print at the top of each following page (a table that continues onto a
        new page keeps its form heading)."""
        self.pdf.running = tuple(lines)

    def page(self, *, landscape: bool = False) -> None:
        self.pdf.add_page(orientation="L" if landscape else "P")
        self.pdf.set_font("Helvetica", size=10)

    def gap(self, mm: float) -> None:
        self.pdf.ln(mm)

    def line(self, text: str, *, bold: bool = False, size: float = 10) -> None:
        """One line of text; wraps at the right margin if it is longer."""
        self.pdf.set_font("Helvetica", style="B" if bold else "", size=size)
        self.pdf.multi_cell(0, size * 0.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font("Helvetica", size=10)

    def paragraph(self, text: str, *, size: float = 10) -> None:
        self.pdf.set_font("Helvetica", size=size)
        self.pdf.multi_cell(0, size * 0.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)
        self.pdf.set_font("Helvetica", size=10)

    def fields(self, pairs: Sequence[tuple[str, str | None]], *, size: float = 10) -> None:
        """Labelled values side by side, each wrapping in its own cell; a missing value prints
        as a blank line to fill in by hand."""
        from fpdf.enums import TableCellFillMode, WrapMode

        pdf = self.pdf
        pdf.set_font("Helvetica", size=size)
        with pdf.table(
            width=pdf.epw,
            borders_layout="NONE",
            first_row_as_headings=False,
            text_align="LEFT",
            line_height=size * 0.5,
            wrapmode=WrapMode.WORD,
            cell_fill_mode=TableCellFillMode.NONE,
            padding=(0.5, 1, 0.5, 0),
        ) as table:
            row = table.row()
            for label, value in pairs:
                row.cell(_latin1(f"{label}: {value or BLANK}"))
        pdf.set_font("Helvetica", size=10)

    def checkbox(self, checked: bool, text: str) -> None:
        self.line(f"[{'X' if checked else ' '}] {text}")

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float] = (),
        *,
        size: float = 8,
    ) -> None:
        """A bordered table whose cells wrap their text; the heading row repeats on each
        page it continues onto."""
        weights = tuple(widths) or (1.0,) * len(columns)
        if len(weights) != len(columns) or any(len(r) != len(columns) for r in rows):
            raise ValueError("every table row needs one value per column")
        from fpdf import FontFace
        from fpdf.enums import TableCellFillMode, WrapMode

        pdf = self.pdf
        pdf.set_font("Helvetica", size=size)
        pdf.ln(1)
        with pdf.table(
            col_widths=weights,
            width=pdf.epw,
            text_align="LEFT",
            line_height=size * 0.5,
            wrapmode=WrapMode.WORD,
            headings_style=FontFace(emphasis="BOLD"),
            repeat_headings=1,
            cell_fill_mode=TableCellFillMode.NONE,
            padding=0.8,
        ) as table:
            head = table.row()
            for col in columns:
                head.cell(_latin1(col))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(_latin1(value))
        pdf.set_font("Helvetica", size=10)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


@cache
def _pdf_class() -> type[FPDF]:
    """fpdf's document class with the gateway's page heading and numbers (built on first use:
    importing fpdf costs a second of start-up)."""
    from fpdf import FPDF

    class _Pdf(FPDF):
        page_numbers = False
        #: lines printed at the top of every page from now on (a form's page heading)
        running: tuple[str, ...] = ()

        def header(self) -> None:
            if not self.running:
                return
            self.set_font("Helvetica", style="B", size=9)
            for line in self.running:
                self.multi_cell(0, 4.5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
            self.ln(1)
            self.set_font("Helvetica", size=10)

        def footer(self) -> None:
            if self.page_numbers:
                self.set_y(-12)
                self.set_font("Helvetica", size=8)
                self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")

    return _Pdf


def render_letter(letter: Letter) -> bytes:
    return render_document([letter])


def render_document(letters: Sequence[Letter]) -> bytes:
    """Several letters in one PDF, each starting on a new page; metadata from the first."""
    if not letters:
        raise ValueError("a document needs at least one page")
    w = Writer(title=letters[0].title, date=letters[0].date)
    for letter in letters:
        letter.draw(w)
    return w.output()


def render_pages(
    *, title: str, date: dt.date, subject: str, pages: Sequence[Callable[[Writer], None]]
) -> bytes:
    """A document drawn page by page (forms such as the CMS-838), numbered 'Page n of m'."""
    if not pages:
        raise ValueError("a document needs at least one page")
    w = Writer(title=title, date=date, subject=subject, page_numbers=True)
    for draw in pages:
        draw(w)
    return w.output()


__all__ = ["BLANK", "Letter", "Writer", "render_document", "render_letter", "render_pages"]
