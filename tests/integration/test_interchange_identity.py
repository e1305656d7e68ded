"""Interchange identity includes the receiver (issue 16 §3), on SQLite and PostgreSQL.

A clearinghouse that numbers ISA13 per receiver sends the same ISA13 to two providers: two
interchanges, both loaded. The same sender, receiver and ISA13 again with other bytes is a
duplicate (TA1 note 025): quarantined, replayable, never silently dropped.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gateway.ingest.replay import replay
from tests.integration import test_reconcile_scenarios as scenarios
from tests.integration.helpers import Gateway, counts, ingest, interchange_keys
from tests.integration.test_reconcile_resends import Clp, era, ledger
from tests.integration.test_reconcile_scenarios import Cli

cli = scenarios.cli  # the in-process CLI fixture

NPI_A, NPI_B = "1234567893", "1992999998"
OVER = [("CO", "45", "30.00")]  # charge 100, paid 80: B = 100 − 30 − 80 = −10


def test_same_isa13_to_two_receivers_are_two_interchanges(
    cli: Cli, gw: Gateway, tmp_path: Path
) -> None:
    """Provider A's and B's ERAs both carry ISA13 700 from CLEARINGHOUSE; each has a claim
    overpaid by 10.00, so each provider gets its own credit (B(c) = −10 per claim)."""
    files = {
        "a.835": era(
            700,
            "TRA700",
            [Clp("IA1", "A1", "100.00", "80.00", OVER)],
            npi=NPI_A,
            receiver="PROVIDERA",
        ),
        "b.835": era(
            700,
            "TRB700",
            [Clp("IB1", "B1", "100.00", "80.00", OVER)],
            npi=NPI_B,
            receiver="PROVIDERB",
        ),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        assert "processed" in cli("ingest", str(tmp_path / name))
    for npi, acct, pcn in ((NPI_A, "A-IA", "IA1"), (NPI_B, "B-IB", "IB1")):
        path = tmp_path / f"{acct}.csv"
        path.write_bytes(ledger(f"{acct},{pcn},2026-06-10,charge,provider,,100.00,C1"))
        assert "processed" in cli("ingest", "--provider", npi, str(path))
    with gw.db.read() as s:
        keys = s.execute(
            text(
                "SELECT sender_qualifier, sender_id, receiver_qualifier, "
                "receiver_id, control_number FROM interchanges"
            )
        ).all()
    assert sorted(tuple(k) for k in keys) == [
        ("ZZ", "CLEARINGHOUSE", "ZZ", "PROVIDERA", "000000700"),
        ("ZZ", "CLEARINGHOUSE", "ZZ", "PROVIDERB", "000000700"),
    ]
    cli("reconcile", "--as-of", "2026-09-30")
    got = sorted(
        (r["patient_control_number"], r["amount"], r["cause"]) for r in cli.json("credits")
    )
    assert got == [("IA1", "10.00", "overpayment"), ("IB1", "10.00", "overpayment")]


def test_same_pair_repeat_is_quarantined_and_replayable(gw: Gateway) -> None:
    first = ingest(
        gw, era(710, "TR710", [Clp("RP1", "R1", "100.00", "80.00", OVER)], receiver="PROVIDERA")
    )
    assert first.state == "processed"
    # same sender, receiver and ISA13; other bytes (another payment run under the same ICN)
    repeat = ingest(
        gw,
        era(710, "TR711", [Clp("RP2", "R2", "100.00", "80.00", OVER)], receiver="PROVIDERA"),
        name="repeat.835",
    )
    assert repeat.state == "failed"
    assert repeat.error_code == "duplicate_interchange"
    message = repeat.error_message or ""
    assert "025" in message
    assert "ZZ:PROVIDERA" in message
    # an earlier file holds it: which one is not said (it may be another provider's)
    assert "an earlier file" in message
    assert f"file {first.file_id}" not in message
    assert counts(gw.db)["claim_payments"] == 1
    again = replay(gw.db, gw.store, gw.settings, repeat.file_id, actor="ops", reason="retry")
    assert again.report.error_code == "duplicate_interchange"
    forced = replay(
        gw.db,
        gw.store,
        gw.settings,
        repeat.file_id,
        actor="ops",
        reason="partner confirmed new content",
        force=True,
    )
    assert forced.report.state == "processed"
    assert counts(gw.db)["claim_payments"] == 2
    assert interchange_keys(gw.db) == [("CLEARINGHOUSE", "000000710")] * 2
    # within one file too: the same identity twice is a duplicate
    twice = era(720, "TR720", [], receiver="PROVIDERA")
    body = twice[twice.index(b"GS*") : twice.index(b"IEA*")]
    doubled = twice + twice[: twice.index(b"GS*")] + body + twice[twice.index(b"IEA*") :]
    inner = ingest(gw, doubled, name="doubled.835")
    assert inner.state == "failed"
    assert "this file" in (inner.error_message or "")
    assert inner.error_code == "duplicate_interchange"
