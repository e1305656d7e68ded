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


@pytest.mark.parametrize(("name", "layout", "expected"), [
    ("pm_export.txt", "practice_management_export",
     [("charge", "provider", "250.00"), ("payment", "payer", "180.00"),
      ("adjustment", "provider", "40.00"), ("payment", "patient", "30.00")]),
    ("hb_transactions.csv", "hospital_billing_transactions",
     [("charge", "provider", "1200.00"), ("payment", "payer", "900.00"),
      ("adjustment", "payer", "250.00"), ("adjustment", "provider", "50.00")]),
])
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
        b"A,P,2026-01-01,charge,provider,,-5,\n"
    )
    result = parse_ledger(data)
    assert not result.ok
    described = [e.describe() for e in result.errors]
    assert described[0].startswith("line 2, column \"posted_date\"")
    assert "required when the party is a payer" in described[1]
    assert any(d.startswith("line 4, column \"type\"") for d in described)
    assert any(d.startswith("line 4, column \"amount\"") for d in described)
    assert any(d.startswith("line 5, column \"amount\"") and "positive" in d for d in described)


def test_unreadable_ledgers_raise_typed_errors() -> None:
    with pytest.raises(LedgerError, match="empty"):
        parse_ledger(b"")
    with pytest.raises(LedgerError, match="header lacks"):
        parse_ledger(b"foo,bar\n1,2\n")
    with pytest.raises(LedgerError, match="UTF-8"):
        parse_ledger(b"account_id\n\xff\xfe")
