"""Payer letters a recovery department accepts the first time (issue 21), on SQLite and
PostgreSQL, from real 835/837/ledger files: a Medicare offset worked by hand from the raw
lines, the MSP sentence on Medicare MSP cases only (Medicare, Medicaid and commercial COB), a
solicited refund answering the payer's letter, and a dispute citing its 835 evidence. Each
letter's page 1 is rendered to PNG (pdftoppm), checked for ink, read back with pypdf for every
required field, and measured: no text beyond the page. Names never reach the logs.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert
from structlog.testing import capture_logs

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.reconcile import run_reconcile
from gateway.reconcile.refunds import validate_file
from gateway.reconcile.tables import Credit
from gateway.resolve import case_sync, case_views
from gateway.resolve import workflow as wf
from gateway.resolve.batches.issue import create_batches
from gateway.resolve.batches.records import batch_content
from gateway.resolve.documents import Sources
from gateway.resolve.letters import MSP_SENTENCE
from mappings.payers import default_directory, load_directory
from mappings.providers import load_directory as load_providers
from tests.integration import pdfcheck
from tests.integration.helpers import Gateway, ingest

FIX = Path(__file__).resolve().parents[1] / "fixtures"
MCR = FIX / "reconcile" / "medicare_duplicate"
RR = FIX / "reconcile" / "refund_requests"
TEST_PAYERS = load_directory(FIX / "resolution" / "payers")
DAY = dt.date(2026, 9, 30)
LONG_LAST = "OF-A-VERY-LONG-HYPHENATED-FAMILY-NAME-THAT-NEVER-ENDS"
MBI = "1EG4TE5MK73"
PROFILE = """\
name: GOOD CLINIC OF THE GREATER EXAMPLE VALLEY REGIONAL HEALTH SYSTEM AND AFFILIATES
officer: {name: Dana Officer, title: Chief Financial Officer}
contact: {name: Robin Contact, phone: "555-010-0142"}
address:
  lines: ["Suite 1200, The Long Named Medical Office Tower at Example Boulevard and Main"]
  city: Example City
  state: PA
  postal_code: "19000"
ccns:
  "390111": {npis: ["1234567893"], ptan: "PT390111A"}
"""


def _sources(gw: Gateway, tmp_path: Path) -> Sources:
    folder = tmp_path / "providers"
    folder.mkdir()
    (folder / "good.yaml").write_text(PROFILE)
    return Sources(store=gw.store, providers=load_providers(folder))


def _letter(s: object, batch_id: int) -> bytes:
    files = batch_content(s, batch_id)  # type: ignore[arg-type]
    return next(v for k, v in files.items() if k.endswith(".pdf"))


def _data(s: object, batch_id: int, suffix: str) -> str:
    files = batch_content(s, batch_id)  # type: ignore[arg-type]
    return next(v for k, v in files.items() if k.endswith(suffix)).decode()


def test_medicare_offset_worked_by_hand_from_the_raw_lines(
    gw: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Raw lines: the 837 bills CLM*MCR1*100.00 for NM1*IL (the beneficiary, MBI below); the
    # MAC pays it twice: CLP*MCR1*1*100.00*80.00 in TRN TRACE120 (ICN 22026182000101) and
    # again in TRN TRACE121 (ICN 22026182000102), each with CAS*CO*45*20.00. The ledger
    # posts the 100.00 charge and both 80.00 payments. Allowed = 100.00 - 20.00 = 80.00, paid
    # 80.00 + 80.00 = 160.00, so 160.00 - 80.00 = 80.00 is owed back: the second payment.
    # The letter cites the latest adjudication: ICN ...102, billed 100.00, paid 80.00.
    billed = (
        (MCR / "1.837")
        .read_bytes()
        .replace(
            b"NM1*IL*1*TESTPATIENT*ALEX****MI*M999",
            f"NM1*IL*1*{LONG_LAST}*ALEXANDRA****MI*{MBI}".encode(),
        )
    )
    payers = default_directory()
    for data, name in (
        (billed, "1.837"),
        ((MCR / "1.835").read_bytes(), "1.835"),
        ((MCR / "2.835").read_bytes(), "2.835"),
        ((MCR / "3.csv").read_bytes(), "3.csv"),
    ):
        assert ingest(gw, data, name).state == "processed"
    run_reconcile(gw.db, as_of=DAY, payers=payers)
    src = _sources(gw, tmp_path)
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs, gw.db.write() as s:
        case_sync.sync_cases(s)
        [case] = case_views.list_cases(s, states=["open"])
        assert case.amount == Decimal("80.00")
        wf.approve(s, case.credit_id, actor="bob", reason="two payments", payers=payers)
        [batch] = create_batches(
            s, as_of=DAY, actor="bob", payers=payers, reference="EFT-778899", sources=src
        ).batches
        assert (batch.kind, batch.msp) == ("offset", False)
        pdf = _letter(s, batch.id)
        form = _data(s, batch.id, ".txt")
    detail = form.splitlines()[1]
    assert detail.startswith("D22026182000102 " + MBI)  # the ICN, then the MBI from the 837
    assert detail.rstrip().endswith("00000000800001")  # 80.00 in cents, reason 01 (duplicate)
    pdfcheck.check(
        pdf,
        tmp_path,
        "medicare_offset",
        "Authorization to Offset Overpayments",
        "GOOD CLINIC OF THE GREATER EXAMPLE VALLEY",
        "NPI 1234567893",
        "TIN 123456789",
        "The Long Named Medical Office Tower",
        "Example City, PA 19000",
        "CCN 390111",
        "PTAN PT390111A",
        f"ALEXANDRA {LONG_LAST}",
        MBI,
        "22026182000102",
        "MCR1",
        "06/10/2026",
        "100.00",
        "80.00",
        "Duplicate payment",
        "Offset reference: EFT-778899",
        "Sincerely",
        "Dana Officer",
        "Chief Financial Officer",
        "Contact: Robin Contact, telephone 555-010-0142",
    )
    assert MSP_SENTENCE[:40] not in pdfcheck.page1_text(pdf)
    assert "Voluntary" not in pdfcheck.page1_text(pdf)
    # the name and the MBI are in the letter's bytes only: not in any log line
    seen = repr(logs) + caplog.text
    for secret in (LONG_LAST, "ALEXANDRA", MBI):
        assert secret not in seen


def _cob_credits(gw: Gateway) -> dict[str, int]:
    """One 10.00 COB credit each for Medicare B, Medicaid and a commercial payer."""
    out = {}
    with gw.db.write() as s:
        pid = s.execute(
            insert(tbl(Provider))
            .values(key="1234567893", npi="1234567893", tin="123456789", name="Good Clinic")
            .returning(tbl(Provider).c.id)
        ).scalar_one()
        for payer in ("MCRB01", "SKMCD0", "87726"):
            gov = payer != "87726"
            out[payer] = s.execute(
                insert(tbl(Credit))
                .values(
                    provider_id=pid,
                    account_id=f"A-{payer}",
                    patient_control_number=f"COB-{payer}",
                    owed_to="payer",
                    payer_id=payer,
                    cause="coordination_of_benefits",
                    amount=Decimal("10.00"),
                    government=gov,
                    deadline_days=60 if gov else 30,
                    identified_on=DAY,
                    due_by=DAY + dt.timedelta(days=60 if gov else 30),
                    status="open",
                    first_run_id=0,
                    last_run_id=0,
                )
                .returning(tbl(Credit).c.id)
            ).scalar_one()
        case_sync.sync_cases(s)
    return out


def test_msp_sentence_only_on_medicare_msp_cases(gw: Gateway, tmp_path: Path) -> None:
    payers = default_directory()
    ids = _cob_credits(gw)
    with gw.db.write() as s:
        for cid in ids.values():
            wf.approve(s, cid, actor="bob", reason="other payer primary", payers=payers)
        res = create_batches(
            s, as_of=DAY, actor="bob", payers=payers, sources=_sources(gw, tmp_path)
        )
        assert res.problems == []
        by_payer = {b.payer_id: b for b in res.batches}
        letters = {p: _letter(s, b.id) for p, b in by_payer.items()}
    assert {p: b.msp for p, b in by_payer.items()} == {
        "MCRB01": True,
        "SKMCD0": False,
        "87726": False,
    }
    sentence = MSP_SENTENCE.replace(" ", "")
    assert sentence in pdfcheck.page1_text(letters["MCRB01"])
    for payer in ("SKMCD0", "87726"):
        text = pdfcheck.page1_text(letters[payer])
        assert sentence not in text, payer
        assert "MedicareSecondaryPayer" not in text, payer
        assert "MSP" not in text, payer
        assert "Otherpayerprimary(coordinationofbenefits)" in text, payer
    assert "Otherpayerprimary(MedicareSecondaryPayer)" in pdfcheck.page1_text(letters["MCRB01"])
    # Medicare letters carry the CCN/PTAN line; the others do not need it
    assert "CCN390111" in pdfcheck.page1_text(letters["MCRB01"])
    assert "CCN" not in pdfcheck.page1_text(letters["87726"])
    # no operator reference: a blank to fill in, never the batch number
    text = pdfcheck.page1_text(letters["87726"])
    assert "Check/EFTreference:____" in text
    assert f"Check/EFTreference:{by_payer['87726'].batch_key}" not in text


def _refund_requests(gw: Gateway) -> None:
    for name in ("1.835", "2.835", "3.835", "4.csv"):
        assert ingest(gw, (RR / name).read_bytes(), name).state == "processed"
    run_reconcile(gw.db, as_of=DAY, payers=TEST_PAYERS)
    assert ingest(gw, (RR / "5.835").read_bytes(), "5.835").state == "processed"
    run_reconcile(gw.db, as_of=dt.date(2026, 10, 20), payers=TEST_PAYERS)
    for name in ("requests.csv", "requests_letter.csv"):
        validate_file(gw.db, (RR / name).read_bytes(), name=name, payers=TEST_PAYERS)


def test_solicited_refund_answers_the_payer_letter_and_dispute_cites_835s(
    gw: Gateway, tmp_path: Path
) -> None:
    _refund_requests(gw)
    src = _sources(gw, tmp_path)
    with gw.db.write() as s:
        case_sync.sync_cases(s)
        [case] = [
            c
            for c in case_views.list_cases(s, states=["open"])
            if c.patient_control_number == "RR-DUP"
        ]
        wf.approve(s, case.credit_id, actor="bob", reason="payer letter L-77", payers=TEST_PAYERS)
        res = create_batches(
            s, as_of=dt.date(2026, 10, 23), actor="bob", payers=TEST_PAYERS, sources=src
        )
        [offset] = [b for b in res.batches if b.kind == "offset"]
        dispute = next(b for b in res.batches if b.kind == "dispute" and b.payer_id == "ACME01")
        solicited, disputed = _letter(s, offset.id), _letter(s, dispute.id)
    # requests_letter.csv: L-77 dated 10/22/2026 asks 80.00 back on ICN QP2 (our RR-DUP)
    pdfcheck.check(
        solicited,
        tmp_path,
        "solicited_refund",
        "Response to Overpayment Request L-77 dated 10/22/2026",
        "In response to your overpayment request L-77 dated 10/22/2026",
        "Your letter number: L-77",
        "Your letter date: 10/22/2026",
        "QP2",
        "RR-DUP",
        "80.00",
        "Duplicate payment",
        "NPI 1234567893",
        "TIN 123456789",
        "Contact: Robin Contact",
    )
    assert "Voluntary" not in pdfcheck.page1_text(solicited)
    # OR-1005 asks for RR-REC's 80.00, which 5.835 (TRN TRACE137, PLB WO 80.00 ref WP2)
    # already took back; OR-1006 names a claim no 835 of theirs ever paid
    pdfcheck.check(
        disputed,
        tmp_path,
        "dispute_evidence",
        "Dispute of Overpayment Refund Request",
        "OR-1005",
        "10/21/2026",
        "Recouped: 835 TRN TRACE137 of 10/10/2026, PLB WO 80.00 (ref WP2)",
        "NO-SUCH-CLAIM",
        "No remittance (835) from you pays this claim.",
        "835 TRN TRACE136 of 07/01/2026: ICN K1 paid 80.00",
        "Total disputed: 230.00",
        "Sincerely",
    )


@pytest.mark.usefixtures("gw")
def test_long_names_addresses_and_reasons_stay_on_the_page(tmp_path: Path) -> None:
    from gateway.resolve import letters
    from gateway.resolve.pdf import render_letter

    sender = letters.Sender(
        name="X" * 20 + " HOSPITAL " + "WITH A VERY LONG LEGAL NAME " * 4,
        npi="1234567893",
        tin="123456789",
        address=("Building " + "Long Street Name " * 10,),
        ccn="390111",
        ptan="PTAN" * 5,
        contact_name="Robin " + "Contact " * 8,
        contact_phone="555-010-0142",
    )
    row = {
        "patient_name": "ALEXANDRA-MARIE-JOSEPHINE " + LONG_LAST,
        "member_id": MBI,
        "payer_claim_control_number": "ICN-" + "9" * 40,
        "patient_control_number": "PCN-" + "1" * 34,
        "service_from": DAY,
        "service_to": DAY + dt.timedelta(days=30),
        "billed": Decimal("123456789.12"),
        "original_paid": Decimal("123456789.12"),
        "amount": Decimal("123456789.12"),
        "reason": "Paid in excess of the allowed amount " * 6,
    }
    batch = {
        "provider_name": sender.name,
        "provider_npi": "1234567893",
        "provider_tin": "123456789",
        "batch_id": "RF000001",
        "payer_id": "MCRB01",
        "created_on": DAY,
        "msp_flag": "Y",
    }
    pdf = render_letter(
        letters.transmittal(
            kind="refund_transmittal",
            batch=batch,
            rows=[row] * 3,
            profile=default_directory().get("MCRB01"),
            sender=sender,
            check_reference="CHK-" + "4" * 60,
        )
    )
    pdfcheck.check(pdf, tmp_path, "long_values", LONG_LAST, "Paid in excess", MBI)


def test_dispute_cites_a_resent_era_once(gw: Gateway) -> None:
    """A clearinghouse re-sends ACME01's June ERA (same TRN TRACEKPI9102, new ISA control
    number). A dispute letter citing what the payer paid on R4 names that payment once: listed
    twice, it would read as two payments of 1000.00."""
    from gateway.resolve.evidence import dispute_evidence
    from tests.integration.kpi_data import build, june_835

    ids = build(gw)
    resent = june_835().replace(b"000009102", b"000009199")
    assert ingest(gw, resent, "kpi-b-resent.835").state == "processed"
    with gw.db.read() as s:
        line = dispute_evidence(s, ids["P1"], "R4", "ACME01", TEST_PAYERS)
    assert line == "835 TRN TRACEKPI9102 of 06/10/2026: ICN ICNR4 paid 1000.00"
