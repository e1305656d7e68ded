"""Every PDF the gateway writes keeps its text on the page: long reasons, names and claim
numbers wrap inside their cells (they used to run off the page in offset and dispute letters).

Each text run pypdf finds is measured with the font it was drawn in; its right edge must stay
inside the page's right margin, and every word must still be there.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from gateway.resolve import letters
from gateway.resolve.cms838.form import render_pdf
from gateway.resolve.pdf import render_letter
from mappings.providers import Certifier

DAY = dt.date(2026, 10, 1)
LONG = (
    "Paid in excess of the allowed amount after the secondary payer's coordination of "
    "benefits was recalculated under the corrected contract schedule for 2026, see the "
    "attached remittance advice and the payer's letter of 14 September"
)
BATCH = {
    "provider_name": "VALLEY HOSPITAL WITH A VERY LONG LEGAL NAME OF THE ORGANISATION",
    "provider_npi": "1992999999",
    "provider_tin": "987654321",
    "batch_id": "OF000042",
    "payer_id": "ACME01",
    "created_on": DAY,
    "reference": "OF000042",
    "msp_flag": "N",
}
ROW = {
    "patient_control_number": "PCN-0000000000000000000000000000001",
    "payer_claim_control_number": "ICN-202600000000000001",
    "service_from": DAY,
    "service_to": DAY,
    "original_paid": Decimal("80.00"),
    "amount": Decimal("80.00"),
    "reason": LONG,
    "request_reference": "RR-0000000000000042",
    "requested": Decimal("100.00"),
    "agreed": Decimal("20.00"),
    "billed": Decimal("100.00"),
    "patient_name": "ALEXANDRA OF-A-VERY-LONG-HYPHENATED-FAMILY-NAME",
    "member_id": "1EG4TE5MK73",
    "evidence": "835 TRN TRACE0000000000000001 of 07/01/2026: ICN 202600000000000001 paid 80.00",
}
SENDER = letters.Sender(
    name=str(BATCH["provider_name"]),
    npi="1992999999",
    tin="987654321",
    address=("Suite 1200, The Long Named Medical Office Tower at Example Boulevard",),
    contact_name="Robin Contact",
    contact_phone="555-010-0142",
)
_measure = FPDF(unit="pt")


def _width(text: str, font: str, size: float) -> float:
    _measure.set_font("Helvetica", style="B" if "Bold" in font else "", size=size)
    return float(_measure.get_string_width(text))


def _runs(data: bytes) -> list[tuple[float, float, str]]:
    """(right edge, page width, text) of every text run."""
    out: list[tuple[float, float, str]] = []
    for page in PdfReader(io.BytesIO(data)).pages:
        page_width = float(page.mediabox.width)

        def visit(
            text: str, cm: Any, tm: Any, font: Any, size: float, _w: float = page_width
        ) -> None:
            if text.strip():
                x = float(tm[4]) * float(cm[0]) + float(cm[4])
                name = str(font.get("/BaseFont", "")) if font else ""
                out.append((x + _width(text, name, size), _w, text))

        page.extract_text(visitor_text=visit)
    return out


def _certifier() -> Certifier:
    return Certifier(
        ccn="390111",
        source="t.yaml",
        npis=("1992999999",),
        name=str(BATCH["provider_name"]),
        ptan=None,
        officer_name="Dana Officer",
        officer_title="Chief Financial Officer and Vice President of Revenue",
        contact_name="Robin Contact",
        contact_phone="555-010-0142",
    )


def _cms838() -> bytes:
    rows = [
        {
            "part": part,
            "beneficiary_name": "OF-A-VERY-LONG-FAMILY-NAME, X",
            "member_id": "1EG4TE5MK73",
            "payer_claim_control_number": "21261820001020001",
            "type_of_bill": "111",
            "service_from": DAY,
            "service_to": DAY,
            "paid_date": DAY,
            "cost_report": "O",
            "amount": Decimal("123456.78"),
            "repaid": Decimal("0.00"),
            "method": "",
            "outstanding": Decimal("123456.78"),
            "reason_code": "3",
            "msp_code": "",
            "comments": LONG,
        }
        for part in ("A", "A", "B")
    ]
    return render_pdf(_certifier(), "2026Q3", dt.date(2026, 9, 30), rows)


@pytest.mark.parametrize(
    "make",
    [
        lambda: render_letter(
            letters.transmittal(
                kind="offset",
                batch=BATCH,
                rows=[ROW, ROW],
                profile=None,
                sender=SENDER,
                check_reference=None,
            )
        ),
        lambda: render_letter(
            letters.transmittal(
                kind="refund_transmittal",
                batch=BATCH,
                rows=[ROW],
                profile=None,
                sender=SENDER,
                check_reference="CHK-1",
            )
        ),
        lambda: render_letter(
            letters.dispute(batch=BATCH, rows=[ROW], profile=None, sender=SENDER)
        ),
        _cms838,
    ],
    ids=["offset", "refund", "dispute", "cms838"],
)
def test_text_stays_inside_the_right_margin(make: Any) -> None:
    data = make()
    runs = _runs(data)
    assert runs
    margin = 10 / 25.4 * 72  # fpdf2's default 1 cm
    for right, page_width, text in runs:
        assert right <= page_width - margin + 0.5, (round(right, 1), text)
    words = " ".join(t for _, _, t in runs).split()
    for word in LONG.split():
        assert word in words, word
