"""An ERA sent again is not a second payment (issue 16 §2), through ``gateway ingest``,
``reconcile`` and ``credits --json``, on SQLite and PostgreSQL.

Every 835 here is written by ``era`` with its envelope (ISA13, GS06, ST02) and trace (TRN02,
TRN04) given explicitly, so a resend differs from its original only where a clearinghouse's
re-send does. Amounts are worked by hand in each test from docs/accounting.md:
B(c) = charges − counted W − Σ N − patient net payments.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.remittance_rows import ClaimPaymentRow, RemittanceRow
from gateway.ingest.replay import process_now
from gateway.ingest.resend import Prior, Trace
from gateway.ingest.resend_check import ResendCheck, prior_remittances
from gateway.intake import accept_bytes
from gateway.reconcile import sql as q
from parsers.x12 import guides as x12_guides
from tests.integration import test_reconcile_scenarios as scenarios
from tests.integration.helpers import Gateway, ingest
from tests.integration.test_reconcile_scenarios import Cli

cli = scenarios.cli  # the in-process CLI fixture

NPI = "1234567893"
AS_OF = "2026-09-30"
LEDGER_HEADER = "account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference"


@dataclass
class Clp:
    """One CLP loop: claim-level CAS only (group, reason, amount)."""

    pcn: str
    icn: str
    charge: str
    paid: str
    cas: list[tuple[str, str, str]] = field(default_factory=list)
    status: str = "1"


def era(
    isa13: int,
    trace: str,
    claims: list[Clp],
    *,
    st02: str = "0001",
    date: str = "20260701",
    trn04: str = "",
    plb: tuple[tuple[str, str, str], ...] = (),
    patient: str = "PATIENT",
    production: str | None = None,
    npi: str = NPI,
    receiver: str = "RECEIVER",
) -> bytes:
    """An 835 of payer ACME01 from CLEARINGHOUSE to ``receiver``; ISA13 = GS06 = ``isa13``.

    BPR02 = Σ CLP04 − Σ PLB (a negative net is carried by a PLB FB forward balance).
    """
    total = sum((Decimal(c.paid) for c in claims), Decimal(0))
    total -= sum((Decimal(a) for _, _, a in plb), Decimal(0))
    if total < 0:
        plb = (*plb, ("FB", trace, f"{total:.2f}"))
        total = Decimal(0)
    body: list[str] = []
    for c in claims:
        pr = sum((Decimal(a) for g, _, a in c.cas if g == "PR"), Decimal(0))
        body += [
            f"CLP*{c.pcn}*{c.status}*{c.charge}*{c.paid}*{pr}*12*{c.icn}*11*1",
            *(f"CAS*{g}*{r}*{a}" for g, r, a in c.cas),
            f"NM1*QC*1*{patient}*ALEX****MI*XXTEST0001",
            "DTM*232*20260610",
            "DTM*233*20260610",
        ]
    trn = f"TRN*1*{trace}*1512345678" + (f"*{trn04}" if trn04 else "")
    st = [
        f"ST*835*{st02}",
        f"BPR*I*{total:.2f}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*"
        f"98765*{date}",
        trn,
        f"DTM*405*{production or date}",
        "N1*PR*ACME HEALTH PLAN",
        "N3*1 PAYER WAY",
        "N4*CITY*ST*12345",
        "REF*2U*ACME01",
        f"N1*PE*GOOD CLINIC*XX*{npi}",
        "REF*TJ*123456789",
        "LX*1",
        *body,
        *(f"PLB*{npi}*20261231*{r}:{ref}*{a}" for r, ref, a in plb),
    ]
    st.append(f"SE*{len(st) + 1}*{st02}")
    isa = f"{isa13:09d}"
    segs = [
        f"ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*{receiver:<15}*"
        f"{date[2:]}*1200*^*00501*{isa}*0*P*:",
        f"GS*HP*CLEARINGHOUSE*{receiver}*{date}*1200*{isa13}*X*005010X221A1",
        *st,
        f"GE*1*{isa13}",
        f"IEA*1*{isa}",
    ]
    return ("~\n".join(segs) + "~\n").encode()


def ledger(*rows: str) -> bytes:
    return ("\n".join((LEDGER_HEADER, *rows)) + "\n").encode()


def charge(account: str, pcn: str, amount: str = "100.00") -> str:
    return f"{account},{pcn},2026-06-10,charge,provider,,{amount},CHG-{pcn}"


def posted(account: str, pcn: str, amount: str, ref: str = "EFT1") -> str:
    return f"{account},{pcn},2026-07-03,payment,payer,ACME01,{amount},{ref}-{pcn}"


class Run:
    """Files written to a temp folder and ingested through the CLI, one by one."""

    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.cli, self.dir = cli, tmp_path

    def ingest(self, name: str, data: bytes, *, code: int = 0) -> str:
        path = self.dir / name
        path.write_bytes(data)
        provider = ("--provider", NPI) if name.endswith(".csv") else ()
        return self.cli("ingest", *provider, str(path), code=code)

    def credits(self) -> list[tuple[str, str, str, str, str]]:
        self.cli("reconcile", "--as-of", AS_OF)
        return sorted(
            (r["patient_control_number"], r["cause"], r["payer_id"] or "", r["amount"], r["status"])
            for r in self.cli.json("credits", "--status", "all")
        )

    def file(self, file_id: int) -> dict[str, Any]:
        data = json.loads(self.cli("files", "show", str(file_id), "--json"))
        assert isinstance(data, dict)
        return data


def _counted_files(gw: Gateway) -> list[int]:
    """Which files' claim payments reconciliation counts (``sql.claim_payments``)."""
    with gw.db.read() as s:
        return sorted(
            {
                int(r[0])
                for r in s.execute(
                    text(
                        f"SELECT cp.file_id FROM ({q.claim_payments(None)}) k "  # noqa: S608
                        "JOIN claim_payments cp ON cp.id = k.id"
                    )
                )
            }
        )


CO20 = [("CO", "45", "20.00")]


def test_resent_era_creates_no_credit(cli: Cli, gw: Gateway, tmp_path: Path) -> None:
    """The same ERA with a new ISA13/GS06/ST02 (and another production date and patient name,
    which do not count): B = 100 − 20 − 80 = 0 per claim; counted twice it would be −80, a
    duplicate_payment of 80.00 (and a posting variance 80 posted vs 160 remitted)."""
    run = Run(cli, tmp_path)
    claims = [Clp("RS1", "I1", "100.00", "80.00", CO20), Clp("RS2", "I2", "100.00", "80.00", CO20)]
    run.ingest(
        "a.csv",
        ledger(
            charge("A-RS", "RS1"),
            charge("A-RS", "RS2"),
            posted("A-RS", "RS1", "80.00"),
            posted("A-RS", "RS2", "80.00"),
        ),
    )
    run.ingest("orig.835", era(601, "TRC601", claims))
    out = run.ingest(
        "resent.835",
        era(602, "TRC601", claims, st02="0002", production="20260705", patient="RENAMED"),
    )
    assert "resend of file 2" in out
    assert run.credits() == []
    assert cli.json("variances") == []
    resent, original = run.file(3), run.file(2)
    assert resent["state"] == "processed"
    assert resent["resend_of"] == [2]
    assert original["resent_by"] == [3]
    notes = [f for f in resent["findings"] if f["code"] == "remittance_resent"]
    assert len(notes) == 1
    assert notes[0]["file_ids"] == [2]
    assert _counted_files(gw) == [2]
    shown = cli("files", "show", "3")
    assert "resend of file 2 (processed)" in shown
    assert "remittance_resent" in shown
    assert "re-sent by file 3 (processed)" in cli("files", "show", "2")
    with gw.db.read() as s:
        assert (
            s.execute(
                select(RemittanceRow.resend_of_file_id).where(RemittanceRow.file_id == 3)
            ).scalar_one()
            == 2
        )
        twins = (
            s.execute(select(ClaimPaymentRow.resend_twin).where(ClaimPaymentRow.file_id == 3))
            .scalars()
            .all()
        )
    assert twins == [True, True]


def test_true_second_payment_needs_another_trace(cli: Cli, tmp_path: Path) -> None:
    """Same claim paid again under another TRN02 (new ICN): B = 100 − 20 − 160 = −80."""
    run = Run(cli, tmp_path)
    run.ingest("a.csv", ledger(charge("A-TP", "TP1")))
    run.ingest("1.835", era(611, "TRC611", [Clp("TP1", "J1", "100.00", "80.00", CO20)]))
    run.ingest(
        "2.835", era(612, "TRC612", [Clp("TP1", "J2", "100.00", "80.00", CO20)], date="20260715")
    )
    assert run.credits() == [("TP1", "duplicate_payment", "ACME01", "80.00", "open")]


def test_recut_era_with_a_subset_of_the_claims(cli: Cli, tmp_path: Path) -> None:
    """A re-cut carrying two of the original's three claims (its BPR02 recomputed): a resend.
    RC3 is overpaid (CO 30 on 100, paid 80): B = 100 − 30 − 80 = −10, owed once, not
    −10 − 80."""
    run = Run(cli, tmp_path)
    claims = [
        Clp("RC1", "K1", "100.00", "80.00", CO20),
        Clp("RC2", "K2", "100.00", "80.00", CO20),
        Clp("RC3", "K3", "100.00", "80.00", [("CO", "45", "30.00")]),
    ]
    run.ingest("a.csv", ledger(*(charge("A-RC", c.pcn) for c in claims)))
    run.ingest("orig.835", era(621, "TRC621", claims))
    out = run.ingest("recut.835", era(622, "TRC621", claims[1:], st02="0007"))
    assert "resend of file 2" in out
    assert run.credits() == [("RC3", "overpayment", "ACME01", "10.00", "open")]
    assert run.file(3)["resend_of"] == [2]


def test_trace_reused_with_disjoint_claims_counts_both(cli: Cli, tmp_path: Path) -> None:
    """Same payee, payer, TRN02, BPR02 (80.00) and BPR16, disjoint claims: both count, with a
    trace_reused warning. Each claim: B = 100 − 30 − 80 = −10 → overpayment 10.00."""
    run = Run(cli, tmp_path)
    run.ingest("a.csv", ledger(charge("A-TR", "TR1"), charge("A-TR", "TR2")))
    run.ingest(
        "1.835", era(631, "0", [Clp("TR1", "L1", "100.00", "80.00", [("CO", "45", "30.00")])])
    )
    out = run.ingest(
        "2.835", era(632, "0", [Clp("TR2", "L2", "100.00", "80.00", [("CO", "45", "30.00")])])
    )
    assert "resend" not in out
    assert run.credits() == [
        ("TR1", "overpayment", "ACME01", "10.00", "open"),
        ("TR2", "overpayment", "ACME01", "10.00", "open"),
    ]
    second = run.file(3)
    assert second["resend_of"] == []
    warned = [f for f in second["findings"] if f["code"] == "trace_reused"]
    assert len(warned) == 1
    assert warned[0]["severity"] == "warning"
    assert warned[0]["file_ids"] == [2]
    assert "the same payment" in warned[0]["message"]


@pytest.mark.parametrize(
    ("changed", "what"),
    [
        (Clp("CF1", "M1", "100.00", "75.00", [("CO", "45", "25.00")]), "is not among"),
        (
            Clp("CF1", "M1", "100.00", "80.00", [("CO", "45", "15.00"), ("CO", "253", "5.00")]),
            "claim CAS",
        ),
    ],
)
def test_conflicting_copy_is_quarantined_with_both_ids(
    cli: Cli, gw: Gateway, tmp_path: Path, changed: Clp, what: str
) -> None:
    """The same trace reporting claim CF1 with other money (CLP04) or codes (CAS): the second
    file is quarantined as remittance_conflict, naming both files; only the first counts
    (B = 100 − 20 − 80 = 0). A forced replay loads it, with a warning."""
    run = Run(cli, tmp_path)
    run.ingest("a.csv", ledger(charge("A-CF", "CF1")))
    run.ingest("1.835", era(641, "TRC641", [Clp("CF1", "M1", "100.00", "80.00", CO20)]))
    out = run.ingest("2.835", era(642, "TRC641", [changed], st02="0002"), code=1)
    assert "failed" in out
    detail = run.file(3)
    assert detail["state"] == "failed"
    assert detail["error_code"] == "remittance_conflict"
    assert "file 3 and file 2" in detail["error_message"]
    assert what in detail["error_message"]
    assert run.credits() == []
    assert _counted_files(gw) == [2]
    assert "failed" in cli("replay", "3", code=1)
    assert "processed" in cli("replay", "3", "--force", "--reason", "payer confirmed")
    forced = run.file(3)
    assert [f["file_ids"] for f in forced["findings"] if f["code"] == "remittance_conflict"] == [
        [2]
    ]


def test_original_replayed_lets_the_resend_take_its_place(
    cli: Cli, gw: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Original (file 2) and resend (file 3) of an ERA with one overpaid claim: B = 100 − 30 −
    80 = −10 → overpayment 10.00. Replaying the original deletes and reloads its rows: now the
    resend's rows are the earliest copy and count, and the original is recorded as the resend.
    A later replay that quarantines the original leaves the picture as it was."""
    run = Run(cli, tmp_path)
    claims = [
        Clp("OR1", "N1", "100.00", "80.00", [("CO", "45", "30.00")]),
        Clp("OR2", "N2", "100.00", "80.00", CO20),
    ]
    run.ingest("a.csv", ledger(charge("A-OR", "OR1"), charge("A-OR", "OR2")))
    run.ingest("orig.835", era(651, "TRC651", claims))
    run.ingest("resent.835", era(652, "TRC651", claims, st02="0002"))
    expected = [("OR1", "overpayment", "ACME01", "10.00", "open")]
    assert run.credits() == expected
    before = cli.json("credits", "--status", "all")
    assert _counted_files(gw) == [2]

    assert "resend of file 3" in cli("replay", "2", "--reason", "partner asked")
    assert _counted_files(gw) == [3]
    assert run.file(2)["resend_of"] == [3]
    assert run.credits() == expected
    assert cli.json("credits", "--status", "all") == before  # identified_on etc. unchanged

    with monkeypatch.context() as m:  # a guide withdrawn: the replay fails
        m.delitem(x12_guides.GUIDES, "005010X221A1")
        assert "failed" in cli("replay", "2", "--reason", "guide check", code=1)
    assert run.file(2)["state"] == "failed"
    assert run.credits() == expected
    assert cli.json("credits", "--status", "all") == before


def test_resent_plb_recoups_once(cli: Cli, tmp_path: Path) -> None:
    """P1 paid twice under two traces, then a PLB WO:P2 30.00 recoupment, and that 835 sent
    again: B = 100 − 20 − (80 + 80 − 30) = −50 → duplicate_payment 50.00. Counting the PLB
    twice would give −20."""
    run = Run(cli, tmp_path)
    run.ingest("a.csv", ledger(charge("A-PL", "PL1")))
    run.ingest("1.835", era(661, "TRC661", [Clp("PL1", "P1", "100.00", "80.00", CO20)]))
    run.ingest(
        "2.835", era(662, "TRC662", [Clp("PL1", "P2", "100.00", "80.00", CO20)], date="20260715")
    )
    plb = (("WO", "P2", "30.00"),)
    run.ingest("3.835", era(663, "TRC663", [], plb=plb, date="20260801"))
    assert "resend of file 4" in run.ingest(
        "4.835", era(664, "TRC663", [], plb=plb, date="20260801", st02="0009")
    )
    assert run.credits() == [("PL1", "duplicate_payment", "ACME01", "50.00", "open")]


def test_trn04_is_part_of_the_trace(cli: Cli, tmp_path: Path) -> None:
    """Same TRN02 with another TRN04 is another trace: both payments count
    (B = 100 − 20 − 160 = −80)."""
    run = Run(cli, tmp_path)
    run.ingest("a.csv", ledger(charge("A-T4", "T41")))
    claim = [Clp("T41", "Q1", "100.00", "80.00", CO20)]
    run.ingest("1.835", era(671, "TRC671", claim, trn04="DIV1"))
    out = run.ingest("2.835", era(672, "TRC671", claim, trn04="DIV2", st02="0002"))
    assert "resend" not in out
    assert run.credits() == [("T41", "duplicate_payment", "ACME01", "80.00", "open")]


def test_concurrent_loads_of_one_trace_take_turns(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers load an ERA and its resend at the same time. The second starts once the
    first has looked for earlier copies; the first then holds its rows uncommitted until the
    second has looked too (or for at most 3 s): the trace lock (PostgreSQL) or the single
    writer (SQLite) makes the second wait and see the first, so exactly one copy counts."""
    claims = [Clp("CC1", "V1", "100.00", "80.00", CO20)]
    first = accept_bytes(
        gw.db, gw.store, era(681, "TRC681", claims), source="test", original_name="a.835"
    ).file_id
    second = accept_bytes(
        gw.db,
        gw.store,
        era(682, "TRC681", claims, st02="0002"),
        source="test",
        original_name="b.835",
    ).file_id
    looked, first_looked = threading.Event(), threading.Event()
    prior, finish = ResendCheck.prior, ResendCheck.finish

    def _prior(self: ResendCheck, trace: Trace) -> Prior | None:
        found = prior(self, trace)
        (looked if self.file_id == second else first_looked).set()
        return found

    def _finish(self: ResendCheck) -> None:
        if self.file_id == first:
            looked.wait(3)
        finish(self)

    monkeypatch.setattr(ResendCheck, "prior", _prior)
    monkeypatch.setattr(ResendCheck, "finish", _finish)
    other = Database.from_settings(gw.settings)
    try:
        worker = threading.Thread(target=process_now, args=(gw.db, gw.store, gw.settings, first))
        worker.start()
        assert first_looked.wait(60)  # the first load holds its trace (and, on SQLite, the writer)
        process_now(other, gw.store, gw.settings, second)
        worker.join()
    finally:
        other.dispose()
    assert _state(gw, first) == _state(gw, second) == "processed"
    with gw.db.read() as s:
        twins = sorted(
            (int(r[0]), bool(r[1]))
            for r in s.execute(select(ClaimPaymentRow.file_id, ClaimPaymentRow.resend_twin))
        )
    assert twins == [(first, False), (second, True)]
    assert _counted_files(gw) == [first]


def _state(gw: Gateway, file_id: int) -> str:
    with gw.db.read() as s:
        return str(
            s.execute(select(InboundFile.state).where(InboundFile.id == file_id)).scalar_one()
        )


def _batch(isa13: int, *transactions: bytes) -> bytes:
    """One interchange (ISA13 = GS06 = ``isa13``) holding the ST..SE sets of ``era`` files."""
    envelope = era(isa13, "UNUSED", [])
    head = envelope[: envelope.index(b"ST*")]
    sets = b"".join(t[t.index(b"ST*") : t.index(b"GE*")] for t in transactions)
    return head + sets + b"GE*%d*%d~\nIEA*1*%09d~\n" % (len(transactions), isa13, isa13)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_opposite_trace_orders_deadlock_and_retry(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File X carries traces T1 then T2, file Y (its resend, re-batched) T2 then T1, loaded at
    the same time: each holds one trace lock and waits for the other's. PostgreSQL aborts one
    (deadlock); that load runs again and finds the other's rows: every claim counts once."""
    one = era(691, "TRC691", [Clp("DL1", "W1", "100.00", "80.00", CO20)])
    two = era(692, "TRC692", [Clp("DL2", "W2", "100.00", "80.00", CO20)], st02="0002")
    x = accept_bytes(
        gw.db, gw.store, _batch(693, one, two), source="test", original_name="x.835"
    ).file_id
    y = accept_bytes(
        gw.db, gw.store, _batch(694, two, one), source="test", original_name="y.835"
    ).file_id
    y_holds_one = threading.Event()
    calls: dict[int, int] = {x: 0, y: 0}
    prior = ResendCheck.prior

    def _prior(self: ResendCheck, trace: Trace) -> Prior | None:
        found = prior(self, trace)
        calls[self.file_id] += 1
        if self.file_id == y and calls[y] == 1:
            y_holds_one.set()
        if self.file_id == x and calls[x] == 1:
            y_holds_one.wait(5)
        return found

    monkeypatch.setattr(ResendCheck, "prior", _prior)
    other = Database.from_settings(gw.settings)
    try:
        worker = threading.Thread(target=process_now, args=(gw.db, gw.store, gw.settings, x))
        worker.start()
        while calls[x] == 0:
            time.sleep(0.01)
        process_now(other, gw.store, gw.settings, y)
        worker.join()
    finally:
        other.dispose()
    assert _state(gw, x) == _state(gw, y) == "processed"
    assert calls[x] + calls[y] > 4  # one of the loads ran again
    with gw.db.read() as s:
        counted = s.execute(
            text(
                f"SELECT k.pcn, cp.file_id FROM ({q.claim_payments(None)}) k "  # noqa: S608
                "JOIN claim_payments cp ON cp.id = k.id ORDER BY k.pcn"
            )
        ).all()
    assert [r[0] for r in counted] == ["DL1", "DL2"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_probes_twins_through_selective_indexes(gw: Gateway) -> None:
    """Without planner statistics (no ANALYZE on a gateway's own SQLite), the twin probe must
    still walk the patient control number index, not all of a provider's claim payments (a
    resent ERA of 20,000 claims would otherwise scan the table 20,000 times), and the loader
    finds a trace's earlier copies with one seek."""
    with gw.db.read() as s:
        assert (
            s.execute(
                text("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).scalar_one()
            == 0
        )
        claims_sql = f"EXPLAIN QUERY PLAN {q.claim_payments(None)}"
        plbs_sql = f"EXPLAIN QUERY PLAN SELECT pa.id FROM {q.recoupments(None)}"  # noqa: S608
        plans = {
            name: " | ".join(str(r[3]) for r in s.execute(text(sql)))
            for name, sql in (("claims", claims_sql), ("plbs", plbs_sql))
        }
        lookup = prior_remittances(Trace(1, "ACME01", "T1", "")).compile(
            dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        plans["remittances"] = " | ".join(
            str(r[3]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {lookup}"))
        )
    assert (
        "ix_remittances_trace (provider_id=? AND payer_id=? AND trace_number=?)"
        in plans["remittances"]
    )
    assert "SEARCH e USING INDEX ix_claim_payments_patient_control_number" in plans["claims"]
    assert "INDEX ix_provider_adjustments_resend (provider_id=? AND resend_key=?" in plans["plbs"]


def test_migration_0014_backfills_what_the_loader_computes(gw: Gateway) -> None:
    """Rows loaded before 0014 get the resend keys and twin flags the loader gives them now:
    load an ERA, its resend and a PLB, go back to 0013 (the columns go), upgrade again."""
    from alembic import command

    from gateway.db.migrate import alembic_config, upgrade

    claims = [Clp("MG1", "G1", "100.00", "80.00", CO20), Clp("MG1", "G1", "100.00", "80.00", CO20)]
    for isa13, st02 in ((901, "0001"), (902, "0002")):
        assert (
            ingest(gw, era(isa13, "TRC901", claims, st02=st02, plb=(("WO", "G1", "5.00"),))).state
            == "processed"
        )

    def rows() -> list[tuple[str, int, str, bool]]:
        out = []
        with gw.db.read() as s:
            for table in ("claim_payments", "provider_adjustments"):
                sql = f"SELECT file_id, resend_key, resend_twin FROM {table}"  # noqa: S608
                out += [(table, int(r[0]), str(r[1]), bool(r[2])) for r in s.execute(text(sql))]
        return sorted(out)

    loaded = rows()
    assert [r[3] for r in loaded] == [False, False, True, True, False, True]
    cfg = alembic_config(gw.db.engine.url.render_as_string(hide_password=False))
    with gw.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    upgrade(gw.db)
    assert rows() == loaded


def test_resent_unmatched_era_is_one_exception_amount(cli: Cli, tmp_path: Path) -> None:
    """A remittance for claims the gateway never saw (no 837, no ledger row), re-sent by the
    clearinghouse: the analyst's exception list shows 80.00 waiting, not 160.00 — the resend is
    the same money, as in every credit computation."""
    run = Run(cli, tmp_path)
    claims = [Clp("UX1", "K1", "100.00", "80.00", CO20)]
    run.ingest("orig.835", era(651, "TRC651", claims))
    run.ingest("resent.835", era(652, "TRC651", claims, st02="0002"))
    rows = [
        r for r in cli.json("exceptions", "--as-of", AS_OF) if r["patient_control_number"] == "UX1"
    ]
    assert [(r["kind"], r["amount"]) for r in rows] == [("unmatched_remittance", "80.00")]
