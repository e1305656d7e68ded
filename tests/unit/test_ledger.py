from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mappings.ledger_layouts import load_layouts
from parsers.ledger import LedgerError, parse_ledger, sniff_layout
from tests.conftest import FIXTURES

LEDGERS = FIXTURES / "ledger"


def test_canonical_rows() -> None:
    result = parse_ledger((LEDGERS / "canonical_clean.csv").read_bytes())
    assert result.ok
    assert [(r.type, r.party, r.payer_id, r.amount) for r in result.rows] == [
        ("charge", "provider", "", Decimal("100.00")),
        ("payment", "payer", "P1", Decimal("70.00")),
        ("payment", "patient", "", Decimal("10.00")),
    ]
    assert result.rows[0].posted_date == dt.date(2026, 7, 1)


@pytest.mark.parametrize(
    ("name", "layout", "expected"),
    [
        (
            "pm_export.txt",
            "practice_management_export",
            [
                ("charge", "provider", "250.00"),
                ("payment", "payer", "180.00"),
                ("adjustment", "provider", "40.00"),
                ("payment", "patient", "30.00"),
            ],
        ),
        (
            "hb_transactions.csv",
            "hospital_billing_transactions",
            [
                ("charge", "provider", "1200.00"),
                ("payment", "payer", "900.00"),
                ("adjustment", "payer", "250.00"),
                ("adjustment", "provider", "50.00"),
            ],
        ),
    ],
)
def test_mapped_layouts_are_sniffed_and_translated(
    name: str, layout: str, expected: list[tuple[str, str, str]]
) -> None:
    data = (LEDGERS / name).read_bytes()
    found = sniff_layout(data, load_layouts())
    assert found is not None
    assert found.name == layout
    result = parse_ledger(data, found)
    assert result.ok, result.errors
    assert [(r.type, r.party, str(r.amount)) for r in result.rows] == expected


def test_bad_rows_are_reported_with_their_line() -> None:
    data = (
        b"account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference\n"
        b"A,P,2026-13-01,charge,provider,,10.00,\n"
        b"A,P,2026-01-01,payment,payer,,10.00,\n"
        b"A,P,2026-01-01,gift,patient,,abc,\n"
        b"A,P,2026-01-01,payment,patient,,-5,\n"
    )
    result = parse_ledger(data)
    assert not result.ok
    described = [e.describe() for e in result.errors]
    assert described[0].startswith("line 2, column posted_date")
    assert "required when the party is a payer" in described[1]
    assert any(d.startswith("line 4, column type") for d in described)
    assert any(d.startswith("line 4, column amount") for d in described)
    assert any(d.startswith("line 5, column amount") and "positive" in d for d in described)


def test_unreadable_ledgers_raise_typed_errors() -> None:
    with pytest.raises(LedgerError, match="empty"):
        parse_ledger(b"")
    with pytest.raises(LedgerError, match="header lacks"):
        parse_ledger(b"foo,bar\n1,2\n")
    with pytest.raises(LedgerError, match="UTF-8"):
        parse_ledger(b"account_id\n\xff\xfe")


def test_negative_charge_is_a_reversal_that_nets() -> None:
    """A charge reversal keeps its sign in every layout: it nets, never adds a charge."""
    data = (
        b"account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference\n"
        b"A,P,2026-01-01,charge,provider,,150.00,C1\n"
        b"A,P,2026-01-05,charge,provider,,-50.00,C1R\n"
    )
    result = parse_ledger(data)
    assert result.ok
    assert [r.amount for r in result.rows] == [Decimal("150.00"), Decimal("-50.00")]


def test_line_columns_are_read_and_normalised() -> None:
    data = (
        b"account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference,"
        b"procedure_code,revenue_code,modifiers,service_date,units,line_ref\n"
        b"A,P,2026-01-01,charge,provider,,150.00,C1,99213-25,,25,2026-01-01,1,P-L1\n"
        b"A,P,2026-01-01,charge,provider,,40.00,C2,,300,,2026-01-01,2.5,\n"
        b"A,P,2026-01-01,charge,provider,,40.00,C3,,300,,01/01/2026,x,\n"
    )
    result = parse_ledger(data)
    first, second = result.rows
    assert (first.procedure_code, first.modifiers, first.service_date, first.line_ref) == (
        "99213",
        "25",
        dt.date(2026, 1, 1),
        "P-L1",
    )
    assert (second.revenue_code, second.units) == ("0300", Decimal("2.5"))
    described = [e.describe() for e in result.errors]
    assert described[0].startswith("line 4, column service_date")
    assert described[1].startswith("line 4, column units")


def test_signed_layout_reversal_keeps_its_sign() -> None:
    layout = next(x for x in load_layouts() if x.name == "hospital_billing_transactions")
    data = (
        b"HAR,Invoice Number,Post Date,Txn Code,Payor ID,Amount,Txn ID,CPT/HCPCS,Rev Code\n"
        b"H1,INV1,01/02/2026,CHG,,300.00,T1,80053,300\n"
        b"H1,INV1,01/03/2026,CHG,,-300.00,T2,80053,300\n"
        b"H1,INV1,01/04/2026,INSPMT,P1,-20.00,T3,,\n"
    )
    result = parse_ledger(data, layout)
    assert result.ok, result.errors
    assert [r.amount for r in result.rows] == [
        Decimal("300.00"),
        Decimal("-300.00"),
        Decimal("20.00"),
    ]
    assert result.rows[0].revenue_code == "0300"
