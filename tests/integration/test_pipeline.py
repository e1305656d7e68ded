"""Ingest, idempotence, quarantine and replay against real SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from structlog.testing import capture_logs

import parsers
from gateway.db.integrity import find_orphans
from gateway.db.models import AuditEntry, FileEvent, InboundFile
from gateway.db.remittance_rows import ClaimPaymentRow
from gateway.db.types import tbl
from gateway.ingest import rows
from gateway.ingest.replay import replay
from gateway.ingest.resend import interchange_identity
from gateway.intake import accept_bytes, accept_path
from parsers.x12 import guides as x12_guides
from schemas import Remittance
from tests.conftest import CORPUS
from tests.integration.helpers import Gateway, counts, ingest, interchange_keys, snapshot
from tests.integration.x12gen import make_835, make_837

#: corpus files whose transactions reuse one TRN02 for the same claims with other money (within
#: the file or against an earlier corpus file): the gateway quarantines them as remittance
#: conflicts (docs/accounting.md, "Resends"); the resend check may come before a parser error
REMITTANCE_CONFLICTS = frozenset(
    {"ExampleFromNth.txt", "835_WithMultipleInterchanges.txt", "835_DeIdent_02.dat"}
)


def _expected_corpus(files: list[Path]) -> tuple[set[str], Counter[str], dict[str, set[str]]]:
    """What the parser says: which files load, how many rows, which codes the others get."""
    processed: set[str] = set()
    expected: Counter[str] = Counter()
    codes: dict[str, set[str]] = {}
    seen_sha: set[str] = set()
    seen_ic: set[tuple[str, str, str, str, str]] = set()
    for path in files:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha in seen_sha:
            continue
        seen_sha.add(sha)
        try:
            result = parsers.parse(data)
        except parsers.X12Error as exc:
            codes[sha] = {exc.code}
            continue
        keys = [interchange_identity(ic.interchange) for ic in result.interchanges]
        dup = any(k in seen_ic for k in keys) or len(set(keys)) < len(keys)
        errors = [f.code for f in result.findings if f.severity == parsers.ERROR]
        conflict = path.name in REMITTANCE_CONFLICTS
        if errors or dup or conflict:
            codes[sha] = (
                ({errors[0]} if errors else set())
                | ({"duplicate_interchange"} if dup else set())
                | ({"remittance_conflict"} if conflict else set())
            )
            continue
        seen_ic.update(keys)
        processed.add(sha)
        expected["interchanges"] += len(result.interchanges)
        expected["functional_groups"] += sum(len(ic.groups) for ic in result.interchanges)
        expected["transactions"] += len(result.transactions)
        for tx in result.transactions:
            if isinstance(tx, Remittance):
                expected["remittances"] += 1
                expected["claim_payments"] += len(tx.claims)
                expected["provider_adjustments"] += len(tx.provider_adjustments)
                for c in tx.claims:
                    expected["service_payments"] += len(c.services)
                    expected["adjustments"] += len(c.adjustments) + sum(
                        len(s.adjustments) for s in c.services
                    )
            else:
                expected["claims"] += len(tx.claims)
                for cl in tx.claims:
                    expected["claim_lines"] += len(cl.lines)
                    expected["other_payer_payments"] += len(cl.other_payers)
    return processed, expected, codes


def test_corpus_ingest_matches_parser(gw: Gateway) -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert len(files) > 50
    for path in files:
        res = accept_path(gw.db, gw.store, path, source="test", original_name=path.name)
        if not res.duplicate:
            from gateway.ingest.replay import process_now

            process_now(gw.db, gw.store, gw.settings, res.file_id)
    processed, expected, codes = _expected_corpus(files)
    with gw.db.read() as s:
        registry = {r.sha256: r for r in s.execute(select(InboundFile)).scalars()}
    assert {sha for sha, r in registry.items() if r.state == "processed"} == processed
    assert len(registry) == len(processed) + len(codes)
    for sha, allowed in codes.items():
        row = registry[sha]
        assert row.state == "failed"
        assert row.error_code in allowed, (row.original_name, row.error_code, allowed)
        assert row.error_message
    got = counts(gw.db)
    for table, n in expected.items():
        assert got[table] == n, table
    assert expected["claim_payments"] > 0
    assert expected["claims"] > 0


def test_duplicate_bytes_are_reported_not_reprocessed(gw: Gateway) -> None:
    data = make_835(101)
    first = ingest(gw, data)
    assert first.state == "processed"
    assert first.claims == 3
    before = counts(gw.db)
    again = accept_bytes(gw.db, gw.store, data, source="test", original_name="copy.835")
    assert again.duplicate
    assert again.file_id == first.file_id
    assert again.state == "processed"
    assert counts(gw.db) == before
    with gw.db.read() as s:
        assert s.execute(select(InboundFile)).scalars().all()[0].id == first.file_id
        outcomes = [a.outcome for a in s.execute(select(AuditEntry)).scalars()]
    assert outcomes.count("duplicate") == 1


def test_duplicate_interchange_is_rejected_unless_forced(gw: Gateway) -> None:
    original = ingest(gw, make_835(202, claims=2))
    assert original.state == "processed"
    # same sender and ISA13, different bytes (another payment run re-sent under the same ICN)
    repeat = ingest(gw, make_835(202, claims=5), name="resent.835")
    assert repeat.state == "failed"
    assert repeat.error_code == "duplicate_interchange"
    assert "025" in (repeat.error_message or "")
    assert counts(gw.db)["claim_payments"] == 2
    # replaying the original itself must not trip over its own interchange
    res = replay(gw.db, gw.store, gw.settings, original.file_id, actor="ops", reason="check")
    assert res.report.state == "processed"
    # an unforced replay of the repeat still fails; a forced one loads it
    res = replay(gw.db, gw.store, gw.settings, repeat.file_id, actor="ops", reason="retry")
    assert res.report.error_code == "duplicate_interchange"
    res = replay(
        gw.db,
        gw.store,
        gw.settings,
        repeat.file_id,
        actor="ops",
        reason="payer confirmed a new payment",
        force=True,
    )
    assert res.report.state == "processed"
    assert res.report.claims == 5
    assert counts(gw.db)["claim_payments"] == 7
    assert interchange_keys(gw.db) == [("PAYERSENDER", "000000202")] * 2


def test_replay_after_fix_and_idempotent_replay(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A guide revision we do not know yet: quarantined as unsupported_version.
    data = make_835(303).replace(b"005010X221A1", b"005010X221A9")
    failed = ingest(gw, data, name="new-guide.835")
    assert failed.state == "failed"
    assert failed.error_code == "unsupported_version"
    assert counts(gw.db)["claim_payments"] == 0
    monkeypatch.setitem(x12_guides.GUIDES, "005010X221A9", "835")  # the mapping fix
    res = replay(
        gw.db, gw.store, gw.settings, failed.file_id, actor="alice", reason="guide A9 added"
    )
    assert res.previous_state == "failed"
    assert res.report.state == "processed"
    other = ingest(gw, make_837(304))
    assert other.state == "processed"
    before = snapshot(gw.db)
    for _ in range(2):
        res = replay(
            gw.db, gw.store, gw.settings, failed.file_id, actor="bob", reason="idempotence check"
        )
        assert res.previous_state == "processed"
        assert res.report.state == "processed"
    assert snapshot(gw.db) == before
    with gw.db.read() as s:
        audits = (
            s.execute(
                select(AuditEntry).where(AuditEntry.action == "replay").order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
        history = [
            (e.from_state, e.to_state)
            for e in s.execute(
                select(FileEvent.from_state, FileEvent.to_state)
                .where(FileEvent.file_id == failed.file_id)
                .order_by(FileEvent.id)
            )
        ]
    assert [(a.actor, a.outcome, a.reason) for a in audits] == [
        ("alice", "processed", "guide A9 added"),
        ("bob", "processed", "idempotence check"),
        ("bob", "processed", "idempotence check"),
    ]
    assert all(a.file_id == failed.file_id and a.at is not None for a in audits)
    assert history[:4] == [
        (None, "received"),
        ("received", "processing"),
        ("processing", "failed"),
        ("failed", "received"),
    ]
    assert history[-1] == ("processing", "processed")


def _bad_inputs() -> dict[str, tuple[bytes, str]]:
    good = make_835(404)
    return {
        "truncated": (good[: len(good) // 2], "truncated"),
        "wrong-counts": (good.replace(b"SE*", b"SE*9", 1), "segment_count_mismatch"),
        "garbage": (random.Random(7).randbytes(4096), "not_x12"),
        "blank": (b"  \r\n  \n", "empty_file"),
        "zero-bytes": (b"", "empty_file"),
        "huge-segment": (
            good.replace(b"LX*1~", b"LX*1~NTE*" + b"A" * 70_000 + b"~", 1),
            "limit_exceeded",
        ),
    }


def test_bad_input_is_quarantined_with_a_reason(gw: Gateway) -> None:
    neighbour = ingest(gw, make_835(400), name="good.835")
    before = snapshot(gw.db)
    for name, (data, code) in _bad_inputs().items():
        rep = ingest(gw, data, name=name)
        assert rep.state == "failed", name
        assert rep.error_code == code, name
        assert rep.error_message, name
    assert snapshot(gw.db)["claim_payments"] == before["claim_payments"]
    assert counts(gw.db)["interchanges"] == 1
    with gw.db.read() as s:
        failed = {
            f.original_name: f
            for f in s.execute(select(InboundFile).where(InboundFile.state == "failed")).scalars()
        }
    assert failed["wrong-counts"].error_location is not None
    assert failed["wrong-counts"].error_location["segment_id"] == "SE"
    assert failed["huge-segment"].error_location is not None
    good_after = ingest(gw, make_835(401), name="good2.835")
    assert neighbour.state == good_after.state == "processed"


def test_internal_error_quarantines_without_phi(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> rows.Row:
        raise RuntimeError("DOE JANE W123")  # an exception text quoting input

    monkeypatch.setattr(rows, "claim_payment_row", broken)
    with capture_logs() as logs:
        rep = ingest(gw, make_835(500))
    assert rep.state == "failed"
    assert rep.error_code == "internal_error"
    assert "DOE" not in (rep.error_message or "")
    assert "RuntimeError" in (rep.error_message or "")
    assert any(e["event"] == "file_internal_error" and e.get("exc_info") for e in logs)
    assert counts(gw.db)["remittances"] == 0


def test_bulk_rows_keep_their_parents_through_loads_and_replays(gw: Gateway) -> None:
    """The per-claim rows carry no foreign-key constraints; the orphan check stands in."""
    first = ingest(gw, make_835(810, claims=5), name="a.835")
    ingest(gw, make_835(811, claims=4), name="b.835")
    ingest(gw, make_837(812, claims=3), name="c.837")
    for _ in range(2):
        assert (
            replay(
                gw.db, gw.store, gw.settings, first.file_id, actor="ops", reason="orphan check"
            ).report.state
            == "processed"
        )
    rows_now = counts(gw.db)
    assert rows_now["adjustments"] > 0
    assert rows_now["claim_lines"] > 0  # the relations checked below are not empty
    with gw.db.read() as s:
        assert find_orphans(s) == []
    # the check can fail: remove one file's claim payments behind the loader's back
    with gw.db.write() as s:
        s.execute(
            delete(tbl(ClaimPaymentRow)).where(tbl(ClaimPaymentRow).c.file_id == first.file_id)
        )
    with gw.db.read() as s:
        found = {(o.table, o.column): o.count for o in find_orphans(s)}
    assert set(found) == {
        ("service_payments", "claim_payment_id"),
        ("adjustments", "claim_payment_id"),
    }
    assert found[("service_payments", "claim_payment_id")] == 10  # 5 claims × 2 lines
