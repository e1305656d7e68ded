"""The pure identity rules of issue 16 §2 and §3 (gateway/ingest/resend.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import parsers
from gateway.ingest import resend
from gateway.ingest.resend import Copy, Prior, Trace, TransactionResends
from schemas import (
    Adjustment,
    ClaimPayment,
    Entity,
    Interchange,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def _claim(
    pcn: str = "PCN1",
    icn: str = "ICN1",
    paid: str = "80.00",
    status: str = "1",
    cas: tuple[tuple[str, str, str], ...] = (("CO", "45", "20.00"),),
    **kw: Any,
) -> ClaimPayment:
    return ClaimPayment(
        patient_control_number=pcn,
        status_code=status,
        charge=D("100.00"),
        paid=D(paid),
        patient_responsibility=D("0"),
        filing_indicator="12",
        payer_claim_control_number=icn,
        facility_code="11",
        frequency_code="1",
        adjustments=[Adjustment(g, r, D(a)) for g, r, a in cas],
        **kw,
    )


TRACE = Trace(7, "ACME01", "EFT123", "")


def _keys(trace: Trace, claims: list[ClaimPayment]) -> list[str]:
    tx = TransactionResends(1, "0001", trace, None)
    return [tx.claim_key(c) for c in claims]


def test_interchange_identity_includes_both_parties() -> None:
    sample = (ROOT / "gateway" / "samples" / "5010-835-example-1.txt").read_bytes()
    parsed = parsers.parse(sample).interchanges[0].interchange
    base = dataclasses.replace(parsed, sender_qualifier="ZZ", receiver_qualifier="ZZ")
    ident = resend.interchange_identity
    assert ident(base) == ident(dataclasses.replace(base, time="0000", usage_indicator="T"))
    variants = [
        base,
        dataclasses.replace(base, receiver_id="PROVIDERB"),
        dataclasses.replace(base, receiver_qualifier="30"),
        dataclasses.replace(base, sender_qualifier="01"),
        dataclasses.replace(base, sender_id="OTHERSENDER"),
    ]
    assert len({ident(x) for x in variants}) == len(variants)
    assert ident(base) == ("ZZ", parsed.sender_id, "ZZ", parsed.receiver_id, parsed.control_number)
    assert isinstance(base, Interchange)


def test_key_is_injective_over_its_parts() -> None:
    assert resend.key(("ab", "c")) != resend.key(("a", "bc"))
    assert resend.key(("a", "")) != resend.key(("", "a"))
    assert len(resend.key(("x",))) == 32


def test_migration_0014_keeps_a_frozen_copy_of_the_key_formula() -> None:
    path = ROOT / "gateway/db/migrations/versions/0014_resend_identity.py"
    spec = importlib.util.spec_from_file_location("m0014", path)
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for parts in [("CLP", "ACME01", "T1", "", "P1", "I1", "1", "8000", "1"), ("", "é~*")]:
        assert module.key(parts) == resend.key(parts)


def test_cents_ignore_the_written_scale() -> None:
    assert resend.cents(D("80")) == resend.cents(D("80.0")) == resend.cents(D("80.00")) == 8000
    assert resend.cents(D("-12.5")) == -1250
    assert resend.cents(None) == 0


def test_resend_key_is_the_claim_identity_not_dates_names_or_envelope() -> None:
    a = _claim(statement_from=None, received_date=None)
    renamed = _claim(
        statement_from=dt.date(2026, 6, 1),
        received_date=dt.date(2026, 6, 2),
        patient=Entity("QC", "OTHERNAME", "ALEX"),
    )
    renamed.dates["050"] = dt.date(2026, 7, 2)
    assert _keys(TRACE, [a]) == _keys(TRACE, [renamed])
    assert resend.content_of(a) == resend.content_of(renamed)
    for other in (_claim(pcn="PCN2"), _claim(icn="ICN2"), _claim(paid="75.00"), _claim(status="2")):
        assert _keys(TRACE, [a]) != _keys(TRACE, [other])
    for trace in (
        Trace(7, "BETA02", "EFT123", ""),
        Trace(7, "ACME01", "EFT124", ""),
        Trace(7, "ACME01", "EFT123", "DIV1"),
    ):
        assert _keys(TRACE, [a]) != _keys(trace, [a])


def test_identical_loops_in_one_transaction_are_numbered() -> None:
    """Two identical CLP loops in one ERA are two payments; a resend repeats both."""
    first, second = _keys(TRACE, [_claim(), _claim()])
    assert first != second
    other = _claim(pcn="PCN9")
    assert set(_keys(TRACE, [other, _claim(), _claim()])) - set(_keys(TRACE, [other])) == {
        first,
        second,
    }


def test_plb_keys_are_numbered_and_distinct_from_claims() -> None:
    tx = TransactionResends(1, "0001", TRACE, None)
    wo = ProviderAdjustment("1234567893", None, "WO", "P2", D("30.00"))
    k1, k2 = tx.plb_key(wo), tx.plb_key(wo)
    assert k1 != k2
    assert (
        TransactionResends(2, "0002", TRACE, None).plb_key(
            dataclasses.replace(wo, fiscal_period_date=dt.date(2026, 1, 1))
        )
        == k1
    )
    assert tx.plbs == 2


def test_content_is_money_and_codes_only() -> None:
    svc = ServicePayment(
        "HC:99213", D("100.00"), D("80.00"), adjustments=[Adjustment("CO", "45", D("20.00"))]
    )
    a = _claim(cas=(), services=[svc])
    b = _claim(cas=(), services=[dataclasses.replace(svc, service_date=None, units=D("2"))])
    assert resend.content_of(a) == resend.content_of(b)
    two = _claim(cas=(("CO", "45", "15.00"), ("CO", "253", "5.00")))
    swapped = _claim(cas=(("CO", "253", "5.00"), ("CO", "45", "15.00")))
    assert resend.content_of(two) == resend.content_of(swapped)
    assert resend.difference(resend.content_of(_claim()), resend.content_of(two)) == "claim CAS"
    assert (
        resend.difference(resend.content_of(_claim()), resend.content_of(_claim(paid="79.00")))
        == "CLP04"
    )
    line = _claim(
        cas=(),
        services=[dataclasses.replace(svc, adjustments=[Adjustment("CO", "45", D("25.00"))])],
    )
    assert resend.difference(resend.content_of(a), resend.content_of(line)) == "SVC/line CAS"


def test_content_of_a_parsed_loop_equals_the_content_of_its_stored_rows() -> None:
    """The loader compares a parsed loop with one read back from NUMERIC columns."""
    c = _claim(cas=(("CO", "45", "20"),))
    c.adjustments[0].quantity = D("1")
    stored = resend.claim_content(
        "1",
        D("100.00"),
        D("80.00"),
        D("0.00"),
        "12",
        "11",
        "1",
        [("CO", "45", D("20.00"), D("1.0000"))],
        [],
    )
    assert resend.content_of(c) == stored


def test_transaction_is_a_resend_only_when_every_row_was_loaded() -> None:
    prior = Prior(remittances={10: (3, 8000, "2026-07-01")})
    prior.add_claim("k1", 100, 3, "P1", "I1")
    prior.add_claim("k1", 90, 2, "P1", "I1")  # an even earlier copy wins
    assert prior.claims["k1"] == Copy(90, 2)
    tx = TransactionResends(11, "0002", TRACE, prior, amount=8000, payment_date="2026-07-01")
    tx.claims = 2
    tx.resent(prior.claims["k1"])
    assert not tx.is_resend
    tx.resent(Copy(91, 3))
    assert tx.is_resend
    assert tx.resend_of == 2  # ties: the earliest file
    assert tx.same_remittance()
    tx.conflict(3, "differs")
    assert not tx.is_resend
    fresh = TransactionResends(12, "0003", TRACE, None)
    assert not fresh.is_resend
    assert fresh.resend_of is None
    assert not dataclasses.replace(tx, amount=7000).same_remittance()


def test_lock_ids_are_signed_64_bit_and_per_trace() -> None:
    ids = {Trace(p, "ACME01", n, "").lock_id() for p in (1, 2) for n in ("T1", "T2")}
    assert len(ids) == 4
    assert all(-(2**63) <= i < 2**63 for i in ids)
    assert Trace(1, "ACME01", "T1", "").lock_id() == Trace(1, "ACME01", "T1", "").lock_id()


@pytest.mark.parametrize("supplemental", ["", "DIV1"])
def test_trn04_round_trips_through_the_parser_and_writer(supplemental: str) -> None:
    from parsers.writer import write_835

    sample = (ROOT / "gateway" / "samples" / "5010-835-example-1.txt").read_bytes()
    remit = parsers.parse(sample).transactions[0]
    assert isinstance(remit, Remittance)
    assert remit.originator_supplemental == ""
    remit.originator_supplemental = supplemental
    again = parsers.parse(write_835([remit])).transactions[0]
    assert isinstance(again, Remittance)
    assert again.originator_supplemental == supplemental
