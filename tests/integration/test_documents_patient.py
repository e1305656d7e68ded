"""Patient refunds and escheat due diligence (issue 21), on SQLite and PostgreSQL, from real
files: the accounts-payable list carries the payee's name and mailing address from the 837's
subscriber loop (read from the raw file when the batch is issued), a patient letter PDF goes
with the checks, and the unclaimed refund's escheat clock starts on the day the refund was
issued, with the due-diligence notice ``notice_days_before`` promises (a PDF and its due date).
Page 1 of each PDF is rendered (pdftoppm) and read back (pypdf). Names never reach the logs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from gateway.reconcile import run_reconcile
from gateway.resolve import case_sync, case_views
from gateway.resolve import workflow as wf
from gateway.resolve.batches.issue import create_batches
from gateway.resolve.batches.records import batch_content
from gateway.resolve.documents import Sources
from gateway.resolve.notices import due_diligence
from gateway.resolve.reports import mark_escheat
from gateway.resolve.tables import BatchFile
from mappings.escheat import EscheatRules
from mappings.payers import load_directory
from tests.integration import pdfcheck
from tests.integration.helpers import Gateway, ingest

FIX = Path(__file__).resolve().parents[1] / "fixtures"
COPAY = FIX / "reconcile" / "copay_twice"
PAYERS = load_directory(FIX / "resolution" / "payers")
DAY = dt.date(2026, 9, 30)
ISSUED = dt.date(2026, 10, 5)
LAST = "VANDERBERG-MONTGOMERY-WHITFIELD-ASHCROFT"
STREET = "4500 North Extraordinarily Long Boulevard Name Apartment 12B Rear Entrance"
#: the 837 that billed COPAY1: the subscriber is the patient (SBR02 18), at this address
BILLED = (
    (FIX / "reconcile" / "medicare_duplicate" / "1.837")
    .read_bytes()
    .replace(b"NM1*40*2*MEDICARE PART B*****46*MCRB01", b"NM1*40*2*ACME HEALTH PLAN*****46*ACME01")
    .replace(b"SBR*P*18*******MB", b"SBR*P*18*******12")
    .replace(
        b"NM1*IL*1*TESTPATIENT*ALEX****MI*M999~",
        f"NM1*IL*1*{LAST}*JOSEPHINE****MI*ACM123456~N3*{STREET}~N4*EXAMPLETOWN*PA*19001~".encode(),
    )
    .replace(b"NM1*PR*2*MEDICARE PART B*****PI*MCRB01", b"NM1*PR*2*ACME HEALTH PLAN*****PI*ACME01")
    .replace(b"CLM*MCR1*", b"CLM*COPAY1*")
    .replace(b"SE*17*", b"SE*19*")
)
RULES = EscheatRules(
    default_state="PA", states={"PA": {"dormancy_days": 1095, "notice_days_before": 120}}
)


def _issue(gw: Gateway) -> tuple[int, dict[str, bytes]]:
    for data, name in ((BILLED, "1.837"), ((COPAY / "1.835").read_bytes(), "1.835")):
        assert ingest(gw, data, name).state == "processed"
    assert ingest(gw, (COPAY / "2.csv").read_bytes(), "2.csv").state == "processed"
    run_reconcile(gw.db, as_of=DAY, payers=PAYERS)
    with gw.db.write() as s:
        case_sync.sync_cases(s)
        [case] = case_views.list_cases(s, states=["open"])
        assert (case.owed_to, case.amount) == ("patient", Decimal("20.00"))
        wf.approve(s, case.credit_id, actor="bob", reason="copay paid twice", payers=PAYERS)
        [batch] = create_batches(
            s,
            as_of=ISSUED,
            actor="bob",
            payers=PAYERS,
            reference="CHK-100234",
            sources=Sources(store=gw.store),
        ).batches
        assert batch.kind == "patient_refunds"
        return case.credit_id, batch_content(s, batch.id)


def test_patient_refund_list_and_letter_name_the_payee(
    gw: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        _, files = _issue(gw)
    ap = next(v for k, v in files.items() if k.endswith(".csv")).decode()
    rows = list(csv.DictReader(io.StringIO(ap)))
    assert rows[0]["payee_name"] == f"JOSEPHINE {LAST}"
    assert rows[0]["payee_address1"] == STREET
    assert (rows[0]["payee_city"], rows[0]["payee_state"], rows[0]["payee_postal_code"]) == (
        "EXAMPLETOWN",
        "PA",
        "19001",
    )
    # raw lines: CLP*COPAY1 PR-3 20.00 is the patient's share; the ledger posts two 20.00
    # patient payments (COPAY-DESK, COPAY-PORTAL): 40.00 - 20.00 = 20.00 back to the patient
    assert rows[0]["refund_amount"] == "20.00"
    assert ap.splitlines()[-1].startswith("#TOTAL,1,")
    letter = next(v for k, v in files.items() if k.endswith(".pdf"))
    pdfcheck.check(
        letter,
        tmp_path,
        "patient_letter",
        "Refund of Your Overpayment",
        f"JOSEPHINE {LAST}",
        STREET,
        "EXAMPLETOWN, PA 19001",
        "Dear JOSEPHINE",
        "A-COPAY",
        "20.00",
        "Check reference: CHK-100234",
        "06/10/2026",
        "Patient paid more than their responsibility",
        "NPI 1234567893",
        "Sincerely",
        "Contact:",
    )
    seen = repr(logs) + caplog.text
    for secret in (LAST, "JOSEPHINE", STREET, "ACM123456"):
        assert secret not in seen
    # at rest the batch's files are sealed: no name or address in the database's bytes
    with gw.db.read() as s:
        stored = [bytes(c) for c in s.execute(select(BatchFile.content)).scalars()]
    assert stored
    assert all(c.startswith(b"v1:") for c in stored)
    assert not any(LAST.encode() in c or STREET.encode() in c for c in stored)


def test_escheat_clock_runs_from_the_refund_and_the_notice_is_due_first(
    gw: Gateway, tmp_path: Path
) -> None:
    credit_id, _ = _issue(gw)
    # PA: 1095 dormant days from the refund's issue (2026-10-05; they span 2028's leap day),
    # and the notice 120 days before that
    escheat_on = ISSUED + dt.timedelta(days=1095)
    notice_due = escheat_on - dt.timedelta(days=120)
    assert (notice_due, escheat_on) == (dt.date(2029, 6, 6), dt.date(2029, 10, 4))
    with gw.db.write() as s:
        before = notice_due - dt.timedelta(days=1)
        assert due_diligence(s, as_of=before, rules=RULES, payers=PAYERS) == []
        [notices] = due_diligence(
            s, as_of=notice_due, rules=RULES, payers=PAYERS, sources=Sources(store=gw.store)
        )
        [due] = notices.due
        assert (due.credit_id, due.dormant_since, due.notice_due, due.escheat_on) == (
            credit_id,
            ISSUED,
            notice_due,
            escheat_on,
        )
        # the credit escheats on the date the notice announced, not a day before
        assert (
            mark_escheat(s, as_of=escheat_on - dt.timedelta(days=1), rules=RULES, actor="b") == []
        )
        [moved] = mark_escheat(s, as_of=escheat_on, rules=RULES, actor="bob")
        assert moved.state == "escheat_pending"
    pdfcheck.check(
        notices.pdf,
        tmp_path,
        "escheat_notice",
        "Notice of Unclaimed Refund",
        f"JOSEPHINE {LAST}",
        STREET,
        "EXAMPLETOWN, PA 19001",
        "On 10/05/2026 we issued you a refund of 20.00",
        "Refund issued: 10/05/2026",
        "Check reference: CHK-100234",
        "Notice due by: 06/06/2029",
        "Reported to the state on: 10/04/2029",
        "unclaimed property law of PA",
        "A-COPAY",
        "Sincerely",
    )
