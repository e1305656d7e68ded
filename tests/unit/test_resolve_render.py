"""Outbound layouts render exact bytes with control totals; PDFs carry the amounts."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from gateway.resolve.pdf import Letter, render_letter
from gateway.resolve.render import RenderError, Value, render
from mappings.outbound_layouts import load_layouts

BATCH: dict[str, Value] = {
    "payer_id": "87726",
    "provider_npi": "1234567893",
    "provider_tin": "123456789",
    "batch_id": "B000017",
    "created_on": dt.date(2026, 10, 5),
}
ROWS: list[dict[str, Value]] = [
    {
        "patient_control_number": "PCN100",
        "payer_claim_control_number": "ICN-9001",
        "service_from": dt.date(2026, 7, 1),
        "service_to": dt.date(2026, 7, 1),
        "original_paid": Decimal("160.00"),
        "amount": Decimal("80.00"),
        "reason": "duplicate_payment",
        "reason_code": "1",
        "check_reference": "CHK 5521",
    },
    {
        "patient_control_number": "PCN200",
        "payer_claim_control_number": "ICN-9002",
        "service_from": dt.date(2026, 7, 3),
        "service_to": dt.date(2026, 7, 4),
        "original_paid": Decimal("45.10"),
        "amount": Decimal("12.5"),
        "reason": "overpayment",
        "reason_code": "3",
        "check_reference": "CHK 5521",
    },
]


def test_csv_refund_layout_exact_bytes() -> None:
    out = render(load_layouts()["refund_csv_standard"], BATCH, ROWS)
    assert out.filename == "REFUND_87726_1234567893_B000017.csv"
    assert out.content.decode() == (
        "Patient Account Number,Payer Claim Number,DOS From,DOS To,Original Paid,"
        "Refund Amount,Reason,Check/EFT Reference\r\n"
        "PCN100,ICN-9001,07/01/2026,07/01/2026,160.00,80.00,duplicate_payment,CHK 5521\r\n"
        "PCN200,ICN-9002,07/03/2026,07/04/2026,45.10,12.50,overpayment,CHK 5521\r\n"
        "TOTAL,2,,,,92.50,,\r\n"
    )
    assert (out.record_count, out.amount_sum) == (2, Decimal("92.50"))


def test_fixed_width_layout_exact_bytes() -> None:
    out = render(load_layouts()["refund_fixed_mac"], BATCH, ROWS)
    lines = out.content.decode().split("\r\n")
    assert lines[0] == "H1234567893123456789" + "87726".ljust(15) + "B000017".ljust(20) + "20261005"
    assert lines[1] == (
        "D" + "ICN-9001".ljust(30) + "PCN100".ljust(38) + "2026070120260701" + "000000008000" + "01"
    )
    assert lines[3] == "T000000002" + "9250".rjust(15, "0")
    assert {len(line) for line in lines[1:3]} == {1 + 30 + 38 + 8 + 8 + 12 + 2}
    assert lines[4] == ""


def test_value_too_wide_is_an_error_not_a_truncation() -> None:
    rows = [dict(ROWS[0], payer_claim_control_number="X" * 31)]
    with pytest.raises(RenderError, match="detail record 1, field 'payer_claim_control_number'"):
        render(load_layouts()["refund_fixed_mac"], BATCH, rows)


def test_file_names_cannot_escape_the_folder() -> None:
    out = render(load_layouts()["refund_csv_standard"], dict(BATCH, batch_id="../../etc"), ROWS)
    assert "/" not in out.filename
    assert out.filename.startswith("REFUND_")


def test_pdf_letter_text_round_trips() -> None:
    pdf = render_letter(
        Letter(
            title="Voluntary refund transmittal",
            date=dt.date(2026, 10, 5),
            sender=["Valley Clinic", "NPI 1234567893"],
            recipient=["ACME Health", "Refunds Dept"],
            paragraphs=["Enclosed is check 5521 for the overpayments listed below."],
            columns=["Patient account", "Payer claim", "Amount"],
            rows=[["PCN100", "ICN-9001", "80.00"], ["PCN200", "ICN-9002", "12.50"]],
            totals=[("Claims", "2"), ("Total refunded", "92.50")],
        )
    )
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for needle in ("ICN-9001", "PCN200", "80.00", "Total refunded: 92.50", "check 5521"):
        assert needle in text
    assert pdf == render_letter(
        Letter(
            title="Voluntary refund transmittal",
            date=dt.date(2026, 10, 5),
            sender=["Valley Clinic", "NPI 1234567893"],
            recipient=["ACME Health", "Refunds Dept"],
            paragraphs=["Enclosed is check 5521 for the overpayments listed below."],
            columns=["Patient account", "Payer claim", "Amount"],
            rows=[["PCN100", "ICN-9001", "80.00"], ["PCN200", "ICN-9002", "12.50"]],
            totals=[("Claims", "2"), ("Total refunded", "92.50")],
        )
    )
