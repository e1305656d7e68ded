"""CMS-838 column 1: beneficiary names read from the raw files at report time (the database
never stores them), newest 835 first, its corrected name first, the 837 as a fallback, and a
blank (counted) when the raw file is gone. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.db.models import InboundFile, Provider
from gateway.resolve.beneficiary_names import beneficiary_names
from gateway.settings import x12_limits
from tests.integration.helpers import Gateway, ingest

CASE = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile" / "medicare_duplicate"
BILLED = (
    (CASE / "1.837").read_bytes().replace(b"NM1*IL*1*TESTPATIENT*ALEX", b"NM1*IL*1*BILLEDNAME*JO")
)
PAID = (CASE / "1.835").read_bytes()
CORRECTED = (
    (CASE / "2.835")
    .read_bytes()
    .replace(b"XXTEST0001~", b"XXTEST0001~NM1*74*1*CORRECTEDNAME*KIM~")
    .replace(b"SE*17*", b"SE*18*")
)


def _names(gw: Gateway, *pcns: str) -> tuple[dict[str, str], int]:
    with gw.db.read() as s:
        provider = s.execute(select(Provider.id).where(Provider.npi == "1234567893")).scalar_one()
        found = beneficiary_names(s, gw.store, provider, pcns, x12_limits(gw.settings))
    return found.names, found.missing


def test_the_837_names_a_claim_no_835_has_paid(gw: Gateway) -> None:
    assert ingest(gw, BILLED, "1.837").state == "processed"
    assert _names(gw, "MCR1", "NOSUCHPCN") == ({"MCR1": "BILLEDNAME, J"}, 1)


def test_the_newest_835_wins_and_its_corrected_name_first(gw: Gateway) -> None:
    for data, name in ((BILLED, "1.837"), (PAID, "1.835")):
        assert ingest(gw, data, name).state == "processed"
    assert _names(gw, "MCR1") == ({"MCR1": "TESTPATIENT, A"}, 0)
    assert ingest(gw, CORRECTED, "2.835").state == "processed"
    assert _names(gw, "MCR1") == ({"MCR1": "CORRECTEDNAME, K"}, 0)


def test_a_pruned_raw_file_leaves_the_name_blank(gw: Gateway) -> None:
    report = ingest(gw, PAID, "1.835")
    assert report.state == "processed"
    with gw.db.read() as s:
        sha = s.execute(
            select(InboundFile.sha256).where(InboundFile.id == report.file_id)
        ).scalar_one()
    assert gw.store.delete(sha)
    assert _names(gw, "MCR1") == ({}, 1)
