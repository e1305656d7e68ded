"""Resolution end to end, on SQLite and PostgreSQL, with a real sshd as the payers' SFTP server.

Fixture 835/837/ledger files (tests/fixtures/reconcile) → reconcile → cases → approval →
batches (exact bytes against golden files for two payer layouts, control totals, PDFs read
back) → delivery through the outbound queue with receipts → a later 835 whose PLB WO recoups
the offset resolves its case → CMS-838. Payer profiles for the test live in
tests/fixtures/resolution/payers (ACME01 offsets, MCRB01 refunds by MAC form, BETA02 has no
layout).
"""

from __future__ import annotations

import io
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pypdf import PdfReader
from sqlalchemy import select, update
from typer.testing import CliRunner

from gateway.audit import verify_chain
from gateway.cli import app
from gateway.db.models import AuditEntry
from gateway.db.types import utcnow
from gateway.outbound.enqueue import outbound_store
from gateway.outbound.queue import drain
from gateway.outbound.tables import OutboundFile
from gateway.resolve.batches.delivery import deliver_batch
from gateway.resolve.batches.records import batch_content
from gateway.resolve.batches.views import get_batch, list_batches
from gateway.resolve.case_views import get_case
from mappings.payers import load_directory
from tests.integration.helpers import Gateway
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    sshd_fixture,
    sshd_server_fixture,
)

RECON = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"
HERE = Path(__file__).resolve().parents[1] / "fixtures" / "resolution"
PAYERS = HERE / "payers"
GOLDEN = HERE / "golden"
FILES = [
    "duplicate_payment/1.835",
    "duplicate_payment/2.835",
    "duplicate_payment/3.csv",
    "plb_recouped/1.835",
    "plb_recouped/2.835",
    "plb_recouped/3.csv",
    "medicare_duplicate/1.837",
    "medicare_duplicate/1.835",
    "medicare_duplicate/2.835",
    "medicare_duplicate/3.csv",
    "both_primary/1.835",
    "both_primary/2.835",
    "both_primary/3.csv",
    "copay_twice/1.835",
    "copay_twice/2.csv",
]


class Cli:
    """``gateway`` in-process against the test gateway's database."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0) -> tuple[str, str]:
        result = self.runner.invoke(app, list(args), terminal_width=200)
        if code is not None:
            assert result.exit_code == code, (args, result.output, result.exception)
        return result.stdout, result.stderr

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code)[0])


@pytest.fixture
def cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for key, value in gw.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield Cli()
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    structlog.reset_defaults()


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("RESOLUTION_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{name} differs from its golden file"


def _credit_ids(cli: Cli) -> dict[str, int]:
    rows = cli.json("credits", "--status", "all")
    return {r["patient_control_number"]: r["id"] for r in rows}


def test_reconcile_approve_batch_deliver_recoup(
    cli: Cli, gw: Gateway, sshd: SshdServer, tmp_path: Path
) -> None:
    for name in FILES:
        out, _ = cli("ingest", str(RECON / name))
        assert "processed" in out
    cli("reconcile", "--as-of", "2026-09-30", "--payers", str(PAYERS))
    ids = _credit_ids(cli)
    assert set(ids) == {"DUP1", "REC1", "MCR1", "BOTH1", "COPAY1"}

    # worklist: government first by due date (the 60-day Medicare credit leads, though the
    # commercial ones are due sooner), then the rest; nothing overdue yet
    cases = cli.json("cases", "list", "--as-of", "2026-09-30")
    assert [c["patient_control_number"] for c in cases][:3] == ["MCR1", "DUP1", "REC1"]
    assert all(c["state"] == "open" for c in cases)
    mcr = next(c for c in cases if c["patient_control_number"] == "MCR1")
    assert (mcr["government"], mcr["due_by"]) == (True, "2026-11-29")
    due = cli.json("cases", "list", "--due-within", "14", "--as-of", "2026-11-20", code=1)
    assert [c["patient_control_number"] for c in due] == ["MCR1", "DUP1", "REC1"]
    assert [c["overdue"] for c in due] == [False, True, True]

    # a payer with no layout: clear error, the case stays open
    _, err = cli(
        "cases",
        "approve",
        str(ids["BOTH1"]),
        "--reason",
        "cob confirmed",
        "--payers",
        str(PAYERS),
        code=2,
    )
    assert "no_layout" in err
    assert "BETA02" in err
    assert "refund_layout" in err
    assert cli.json("cases", "show", str(ids["BOTH1"]))["case"]["state"] == "open"

    for pcn in ("DUP1", "REC1", "MCR1", "COPAY1"):
        cli(
            "cases",
            "approve",
            str(ids[pcn]),
            "--reason",
            "verified against the 835s",
            "--payers",
            str(PAYERS),
            "--actor",
            "alice",
        )
    # approving twice is a typed, explained error
    _, err = cli(
        "cases", "approve", str(ids["DUP1"]), "--reason", "again", "--payers", str(PAYERS), code=2
    )
    assert "invalid_transition" in err
    assert "cannot become approved" in err

    created = cli.json(
        "batches", "create", "--as-of", "2026-10-01", "--payers", str(PAYERS), "--actor", "alice"
    )
    assert created["problems"] == []
    batches = {b["kind"]: b for b in created["batches"]}
    assert sorted(batches) == ["offset", "patient_refunds", "refund_transmittal"]
    offset, refund = batches["offset"], batches["refund_transmittal"]
    assert (offset["batch_key"], offset["payer_id"], offset["record_count"], offset["amount"]) == (
        "OF000002",
        "ACME01",
        2,
        "160.00",
    )
    assert (refund["batch_key"], refund["payer_id"], refund["amount"]) == (
        "RF000003",
        "MCRB01",
        "80.00",
    )

    # idempotent: running again issues nothing
    again = cli.json("batches", "create", "--as-of", "2026-10-01", "--payers", str(PAYERS))
    assert again == {"batches": [], "problems": []}

    with gw.db.read() as s:
        files = {b["kind"]: batch_content(s, b["id"]) for b in created["batches"]}
        assert get_case(s, ids["DUP1"]).state == "offset_requested"
        assert get_case(s, ids["MCR1"]).state == "refund_sent"
        assert get_case(s, ids["COPAY1"]).state == "patient_refund_issued"
    # exact bytes for two payer layouts (and the AP list)
    _golden(
        "OFFSET_ACME01_1234567893_OF000002.csv",
        files["offset"]["OFFSET_ACME01_1234567893_OF000002.csv"],
    )
    _golden(
        "MACREF_1234567893_RF000003.txt",
        files["refund_transmittal"]["MACREF_1234567893_RF000003.txt"],
    )
    _golden(
        "PATREF_1234567893_PR000001.csv", files["patient_refunds"]["PATREF_1234567893_PR000001.csv"]
    )
    # control totals: trailer agrees with the body
    mac = files["refund_transmittal"]["MACREF_1234567893_RF000003.txt"].decode().splitlines()
    assert mac[-1] == "T000000001000000000008000"
    assert sum(int(line[-14:-2]) for line in mac if line.startswith("D")) == 8000
    # manifests: every file's sha256 and totals
    import hashlib

    for kind, content in files.items():
        manifest = json.loads(next(v for k, v in content.items() if k.endswith(".json")))
        for f in manifest["files"]:
            assert hashlib.sha256(content[f["name"]]).hexdigest() == f["sha256"], kind
        assert manifest["totals"]["amount"] == batches[kind]["amount"]
    # PDFs read back: amounts and claim ids
    letter = _pdf_text(files["offset"]["OFFSET_ACME01_1234567893_OF000002.pdf"])
    for needle in ("Authorization to Offset", "DUP1", "REC1", "D2", "P2", "160.00", "OF000002"):
        assert needle in letter, needle
    mac_letter = _pdf_text(files["refund_transmittal"]["MACREF_1234567893_RF000003.pdf"])
    for needle in (
        "Voluntary Refund",
        "MCR1",
        "22026182000102",
        "80.00",
        "Check/EFT reference: ____",  # no --check-reference: a blank, not the batch number
        "Medicare Part B Overpayment Refunds",
        "ALEX TESTPATIENT",  # read from the raw 837 as the letter was written
    ):
        assert needle in mac_letter, needle
    assert "Check/EFT reference: RF000003" not in mac_letter

    # delivery: the MAC batch first meets a server that is down, stays queued and visible
    base = sshd.make_tree("out")
    profile = sshd.profile(id="test-payer", role="payer", outbound_dir=str(base / "out"))
    store = outbound_store(gw.settings.data_dir)
    sshd.stop()
    impatient = sshd.profile(
        id="test-payer",
        role="payer",
        outbound_dir=str(base / "out"),
        retry={"attempts": 1, "initial_seconds": 0, "max_seconds": 0, "jitter_seconds": 0},
    )
    view, res = deliver_batch(
        gw.db, store, refund["id"], profiles={profile.id: impatient}, actor="alice"
    )
    assert view.delivery == "queued"
    assert res.delivered == []
    listed = cli.json("batches", "list")
    assert next(b for b in listed if b["id"] == refund["id"])["delivery"] == "queued"
    sshd.start()
    with gw.db.write() as s:  # skip the back-off wait
        s.execute(update(OutboundFile).values(next_attempt_at=utcnow()))
    drain(gw.db, store, {profile.id: profile}, owner="test")
    view, _ = deliver_batch(
        gw.db, store, offset["id"], profiles={profile.id: profile}, actor="alice"
    )
    assert view.delivery == "delivered"
    with gw.db.read() as s:
        for b in (refund, offset):
            got = get_batch(s, b["id"])
            assert got.delivery == "delivered"
            for f in got.files:
                assert f.receipt is not None
                assert f.receipt.sha256 == f.sha256
                remote = Path(f.receipt.remote_path)
                assert remote.read_bytes() == files[b["kind"]][f.name]
    shown = cli.json("batches", "show", str(offset["id"]))
    assert shown["delivery"] == "delivered"
    assert all(f["receipt"] for f in shown["files"])
    # delivering again sends nothing twice
    deliver_batch(gw.db, store, offset["id"], profiles={profile.id: profile}, actor="alice")
    assert sorted(os.listdir(base / "out")) == sorted(
        [*files["offset"], *files["refund_transmittal"]]
    )

    # the payer recoups REC1 by PLB WO in a later 835: reconciliation resolves the case
    cli("ingest", str(RECON / "plb_recouped/4.835"))
    cli("reconcile", "--as-of", "2026-10-20", "--payers", str(PAYERS))
    cli("cases", "sync")
    rec = cli.json("cases", "show", str(ids["REC1"]))["case"]
    assert rec["state"] == "resolved"
    assert rec["history"][-1]["actor"] == "reconcile"
    assert "recouped_by_plb" in rec["history"][-1]["reason"]
    assert [h["to"] for h in rec["history"]] == ["open", "approved", "offset_requested", "resolved"]
    assert cli.json("cases", "show", str(ids["DUP1"]))["case"]["state"] == "offset_requested"

    # CMS-838 for 2026Q3: MCR1 is a professional Part B credit (837P to the Part B MAC),
    # returned through the MAC's refund form above; it is never on the CMS-838, and since
    # 1 Dec 2024 no report is filed when there is nothing to report
    # (tests/integration/test_medicare_reporting.py covers the institutional claims it covers)
    out_dir = tmp_path / "838"
    assert (
        cli.json(
            "report",
            "cms838",
            "--quarter",
            "2026Q3",
            "--out",
            str(out_dir),
            "--payers",
            str(PAYERS),
        )
        == []
    )
    said, _ = cli(
        "report", "cms838", "--quarter", "2026Q3", "--out", str(out_dir), "--payers", str(PAYERS)
    )
    said = " ".join(said.split())
    assert "no Medicare credit balances to report for 2026Q3" in said
    assert "1 professional Medicare Part B credit(s) are not on the CMS-838" in said
    assert list(out_dir.iterdir()) == []
    mcr1 = next(
        c for c in cli.json("credits", "--status", "all") if c["patient_control_number"] == "MCR1"
    )
    assert (mcr1["medicare_part"], mcr1["return_method"]) == ("B", "refund")

    # aging / root cause
    aging = cli.json("report", "aging", "--as-of", "2026-10-20")["sections"]
    assert {r["key"]: r["amount"] for r in aging["recovery"]} == {"recouped_by_plb": "80.00"}
    assert {r["key"] for r in aging["cause"]} == {
        "duplicate_payment",
        "coordination_of_benefits",
        "patient_overpayment",
    }
    assert any(r["key"] == "CO-45" for r in aging["carc"])

    # every transition is in the audit chain, which still verifies
    with gw.db.read() as s:
        actions = [r.action for r in s.execute(select(AuditEntry.action))]
        assert actions.count("case_approved") == 4
        assert "batch_issued" in actions
        assert "batch_queued" in actions
        assert verify_chain(s).ok
        assert [b.batch_key for b in list_batches(s)] == ["RF000003", "OF000002", "PR000001"]
    assert load_directory(PAYERS).get("12302") is not None
