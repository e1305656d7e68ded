"""Visual checks of a generated PDF: page 1 rendered to PNG with pdftoppm (poppler-utils), the
PNG not blank, every required field found by pypdf, and no text run past the page box."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader

_measure = FPDF(unit="pt")


def page1_png(pdf: bytes, folder: Path, stem: str) -> Path:
    """Render page 1 at 60 dpi; the PNG must exist and hold ink (not a blank page)."""
    exe = shutil.which("pdftoppm")
    assert exe, "pdftoppm (poppler-utils) is required by the visual document tests"
    src = folder / f"{stem}.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        [
            exe,
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(src),
            str(folder / stem),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    png = folder / f"{stem}.png"
    with Image.open(png) as img:
        grey = img.convert("L")
        dark = sum(grey.histogram()[:128])
        assert dark > 500, f"page 1 of {stem} looks blank ({dark} dark pixels)"
    return png


def page1_text(pdf: bytes) -> str:
    """Page 1's text with every run of whitespace removed, so that a value wrapped inside its
    table cell is still found whole."""
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    return re.sub(r"\s+", "", text)


def has(pdf: bytes, *needles: str) -> None:
    text = page1_text(pdf)
    missing = [n for n in needles if re.sub(r"\s+", "", n) not in text]
    assert not missing, f"missing on page 1: {missing}"


def _width(text: str, font: str, size: float) -> float:
    _measure.set_font("Helvetica", style="B" if "Bold" in font else "", size=size)
    return float(_measure.get_string_width(text))


def overflow(pdf: bytes) -> list[str]:
    """Text runs (of every page) whose left or right edge is outside the page box."""
    bad: list[str] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)

        def visit(
            text: str,
            cm: Any,
            tm: Any,
            font: Any,
            size: float,
            width: float = width,
            height: float = height,
        ) -> None:
            if not text.strip():
                return
            x = float(tm[4]) * float(cm[0]) + float(cm[4])
            y = float(tm[5]) * float(cm[3]) + float(cm[5])
            name = str(font.get("/BaseFont", "")) if font else ""
            right = x + _width(text, name, size)
            if x < 0 or right > width or y < 0 or y > height:
                bad.append(text)

        page.extract_text(visitor_text=visit)
    return bad


def check(pdf: bytes, folder: Path, stem: str, *needles: str) -> None:
    """The whole visual check of one document."""
    page1_png(pdf, folder, stem)
    has(pdf, *needles)
    assert overflow(pdf) == [], f"text beyond the page in {stem}"
