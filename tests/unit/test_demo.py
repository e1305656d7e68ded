"""The demo half-year: deterministic, valid X12, a readable ledger, and answers that hold.

The last tests re-derive every claim's balance from the generated *files* (parsed back with our
parsers) with the pure accounting rules of ``gateway.reconcile.credit``, used here only as an
independent oracle: the generator plants its answers by construction and never calls them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import parsers
from gateway.demo import generate
from gateway.demo.calendar import AS_OF, CHECKPOINT, MONTHS, schedule, shift
from gateway.demo.generate import MAX_MONTHS, MIN_CLAIMS, DemoError
from gateway.demo.payers import PAYERS
from gateway.ingest.rows import billed_codes, included_interest, is_split_part
from gateway.reconcile.credit import attribute, claim_balance
from gateway.reconcile.model import (
    RECOUPMENT_REASONS,
    Adjudication,
    ClaimFacts,
    LedgerCharge,
    ServiceLine,
)
from gateway.validation import validate_ig
from mappings.ledger_layouts import load_layouts
from mappings.payers import default_directory
from parsers.ledger import parse_ledger, sniff_layout

CLAIMS = 150
SEED = 7
#: the reconciliations of the half-year: each month's checkpoint, then the final run
RUNS = schedule(MONTHS)
CONTRACT = (
    "account_id",
    "patient_control_number",
    "owed_to",
    "payer_id",
    "amount",
    "cause",
    "government",
    "identified_on",
    "due_by",
    "status",
)
#: Σ of one month's planted credits per cause (decided with the scenarios in
#: gateway/demo/planted.py and planted_lines.py); the half-year has six times each
# overpayment: 45.00 and 12.00 (payments on uncharged lines) + 20.00 (Medicare's on the lab
# line) + 95.00 (a payment on a claim the ledger never posted); patient_overpayment: 25 + 25 +
# 5.00 (the lab line's coinsurance the patient paid)
PLANTED_TOTALS = {
    "duplicate_payment": "659.00",
    "coordination_of_benefits": "104.40",
    "overpayment": "172.00",
    "patient_overpayment": "55.00",
    "unexplained": "105.00",
}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, claims=CLAIMS, seed=SEED)
    return out


def _read(out: Path, name: str) -> Any:
    return json.loads((out / name).read_text(encoding="utf-8"))


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_month(month: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", claims=CLAIMS, seed=SEED)
    generate(tmp_path / "other", claims=CLAIMS, seed=SEED + 1)
    first, again = _files(month), _files(tmp_path / "again")
    assert first == again
    assert first != _files(tmp_path / "other")
    # the answers do not depend on the seed: they are planted
    assert _read(month, "answers.json") == _read(tmp_path / "other", "answers.json")


def test_size_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(DemoError):
        generate(tmp_path, claims=MIN_CLAIMS - 1)
    with pytest.raises(DemoError):
        generate(tmp_path, claims=MIN_CLAIMS, months=MAX_MONTHS + 1)
    with pytest.raises(DemoError):
        generate(tmp_path, claims=MIN_CLAIMS, months=0)


def test_the_schedule_a_month_alone_and_the_half_year() -> None:
    assert schedule(1) == (CHECKPOINT, AS_OF)
    assert schedule(MONTHS) == (
        dt.date(2025, 4, 30),
        dt.date(2025, 6, 4),
        dt.date(2025, 7, 2),
        dt.date(2025, 7, 30),
        dt.date(2025, 9, 3),
        dt.date(2025, 10, 1),
        dt.date(2025, 11, 17),  # three days after the sixth month's 14 November
    )
    # whole weeks: every weekday of a scenario is kept (Friday batches, payer run days)
    assert {shift(k).days % 7 for k in range(MONTHS)} == {0}
    assert [(dt.date(2025, 3, 3) + shift(k)).month for k in range(MONTHS)] == [3, 4, 5, 6, 7, 8]
    assert [(dt.date(2025, 3, 26) + shift(k)).month for k in range(MONTHS)] == [3, 4, 5, 6, 7, 8]


def test_one_month_alone_is_the_month_as_designed(tmp_path: Path) -> None:
    """With one month the answers are the first month's: found at CHECKPOINT or AS_OF."""
    generate(tmp_path, claims=MIN_CLAIMS, seed=SEED, months=1)
    rows = _read(tmp_path, "answers.json")["credits"]
    assert {r["identified_on"] for r in rows} == {CHECKPOINT.isoformat(), AS_OF.isoformat()}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        totals[r["cause"]] += Decimal(r["amount"])
    assert {k: f"{v:.2f}" for k, v in totals.items()} == PLANTED_TOTALS
    assert [r["status"] for r in rows].count("pending") == 6  # the correction is still held


def test_manifest_lists_every_file_once_in_checkpoints(month: Path) -> None:
    manifest = _read(month, "manifest.json")
    files = _files(month)
    listed = [f["path"] for f in manifest["files"]]
    assert sorted(listed) == sorted(k for k in files if k not in ("manifest.json", "answers.json"))
    in_steps = [p for cp in manifest["checkpoints"] for p in cp["files"]]
    assert in_steps == listed
    assert [cp["as_of"] for cp in manifest["checkpoints"]] == [r.isoformat() for r in RUNS]
    # a checkpoint ingests the files dated after the one before, up to its own day
    previous = dt.date.min
    for cp in manifest["checkpoints"]:
        day = dt.date.fromisoformat(cp["as_of"])
        dated = {f["path"]: dt.date.fromisoformat(f["date"]) for f in manifest["files"]}
        assert all(previous < dated[p] <= day for p in cp["files"])
        previous = day
    assert manifest["as_of"] == RUNS[-1].isoformat()
    kinds = {f["kind"] for f in manifest["files"]}
    assert kinds == {"837", "835", "ledger"}
    assert manifest["claims"] == CLAIMS * MONTHS
    assert manifest["months"] == MONTHS


def test_every_x12_file_parses_without_any_finding(month: Path) -> None:
    kinds: set[str] = set()
    for path in sorted(month.rglob("*.x12")):
        res = parsers.parse(path.read_bytes())
        assert res.findings == [], (path.name, res.findings[:3])
        kinds |= {t.header.kind for t in res.transactions}
    assert kinds == {"835", "837P", "837I"}


def _smallest_with(month: Path, pattern: str) -> Path:
    hits = [p for p in month.rglob("*.x12") if re.search(pattern.encode(), p.read_bytes())]
    assert hits, pattern
    return min(hits, key=lambda p: (p.stat().st_size, p.name))


@pytest.mark.parametrize(
    "feature",
    [
        r"CL1\*",  # 837I
        r"OI\*\*\*Y",  # 837P secondary claim with its 2320/2330 loops
        r"CLP\*[^*]+\*22\*",  # 835 with a reversal
        r"PLB\*[^~]*WO:",  # 835 with a recoupment
        r"PLB\*[^~]*72:",  # MAC acknowledging a refund check
        r"NM1\*TT\*",  # Medicare crossover to Medicaid
    ],
)
def test_pyx12_accepts_a_sample(month: Path, feature: str) -> None:
    path = _smallest_with(month, feature)
    assert validate_ig(path.read_bytes()) == [], path.name


def test_ledger_export_reads_with_its_mapped_layout(month: Path) -> None:
    layouts = load_layouts()
    total = 0
    for path in sorted((month / "ledger").iterdir()):
        data = path.read_bytes()
        layout = sniff_layout(data, layouts)
        assert layout is not None
        assert layout.name == "practice_management_export"
        res = parse_ledger(data, layout)
        assert res.ok, res.errors[:3]
        total += len(res.rows)
    assert total > CLAIMS * MONTHS


def test_payer_table_agrees_with_the_shipped_profiles() -> None:
    directory = default_directory()
    for p in PAYERS:
        profile = directory.get(p.payer_id)
        assert profile is not None, p.payer_id
        rule = profile.rule()
        assert (profile.programme, profile.is_government, rule.deadline_days, rule.hold_days) == (
            p.programme,
            p.government,
            p.deadline_days,
            p.hold_days,
        )


def test_answers_cover_every_cause_government_and_not(month: Path) -> None:
    answers = _read(month, "answers.json")
    rows = answers["credits"]
    assert all(tuple(r) == CONTRACT for r in rows)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        totals[r["cause"]] += Decimal(r["amount"])
        assert re.fullmatch(r"\d+\.\d\d", r["amount"])
        assert Decimal(r["amount"]) > 0
    six = {k: f"{Decimal(v) * MONTHS:.2f}" for k, v in PLANTED_TOTALS.items()}
    assert {k: f"{v:.2f}" for k, v in totals.items()} == six
    assert answers["counts"]["amount_by_cause"] == six
    assert answers["counts"]["credits"] == len(rows) == 16 * MONTHS
    # nothing collides: every credit is its own claim's, every claim is one month's
    assert len({(r["patient_control_number"], r["owed_to"], r["cause"]) for r in rows}) == len(rows)
    assert {r["status"] for r in rows} == {"open", "pending", "resolved"}
    for cause in ("duplicate_payment", "coordination_of_benefits", "overpayment", "unexplained"):
        assert {r["government"] for r in rows if r["cause"] == cause} == {True, False}, cause
    assert {r["owed_to"] for r in rows} == {"payer", "patient", "unknown"}
    programmes = {p.payer_id: p for p in PAYERS}
    for r in rows:
        identified = dt.date.fromisoformat(r["identified_on"])
        assert identified in RUNS
        if r["owed_to"] == "payer":
            payer = programmes[r["payer_id"]]
            assert r["government"] is payer.government
            days = payer.deadline_days
        elif r["owed_to"] == "patient":
            assert r["payer_id"] is None
            assert r["government"] is False
            days = None
        else:
            assert r["payer_id"] is None
            days = 60 if r["government"] else None
        due = None if days is None else (identified + dt.timedelta(days=days)).isoformat()
        assert r["due_by"] == due
    # identified in every month of the trend (each month's checkpoint finds some)
    assert {r["identified_on"][:7] for r in rows} >= {
        "2025-04",
        "2025-06",
        "2025-07",
        "2025-09",
        "2025-10",
        "2025-11",
    }
    assert sorted(v["kind"] for v in answers["variances"]) == sorted(
        ["charge_mismatch", "posted_twice", "unposted_line", "unposted_line", "unposted_line"]
        * MONTHS
    )


# --------------------------------------------------------------------------- the oracle


def _facts(month: Path, up_to: dt.date) -> dict[str, ClaimFacts]:
    """ClaimFacts per claim from the files dated up to ``up_to`` (manifest order)."""
    manifest = _read(month, "manifest.json")
    directory = default_directory()
    facts: dict[str, ClaimFacts] = {}
    icn_to_pcn: dict[str, str] = {}
    plbs: list[tuple[str, str, str, Decimal]] = []
    seen: set[tuple[object, ...]] = set()
    layouts = load_layouts()
    key = 0

    def fact(pcn: str, account: str = "") -> ClaimFacts:
        f = facts.setdefault(pcn, ClaimFacts(1, account, pcn))
        if account and not f.account_id:
            f.account_id = account
        return f

    for entry in manifest["files"]:
        if dt.date.fromisoformat(entry["date"]) > up_to:
            continue
        data = (month / entry["path"]).read_bytes()
        if entry["kind"] == "ledger":
            layout = sniff_layout(data, layouts)
            assert layout is not None
            for row in parse_ledger(data, layout).rows:
                f = fact(row.patient_control_number, row.account_id)
                if row.type == "charge":
                    f.charges += row.amount
                    f.ledger_charges.append(
                        LedgerCharge(
                            row.amount,
                            row.line_ref,
                            row.procedure_code,
                            row.revenue_code,
                            row.service_date,
                        )
                    )
                elif row.party == "patient" and row.type == "payment":
                    f.patient_payments += row.amount
                elif row.party == "patient" and row.type == "refund":
                    f.patient_refunds += row.amount
                elif row.party == "provider" and row.type == "adjustment":
                    f.provider_adjustments += row.amount
                elif row.party == "payer" and row.type == "refund":
                    f.payer_refunds[row.payer_id] = (
                        f.payer_refunds.get(row.payer_id, Decimal(0)) + row.amount
                    )
            continue
        res = parsers.parse(data)
        for sub in res.claim_submissions:
            for c in sub.claims:
                fact(c.patient_control_number).claim_filing_indicator = c.filing_indicator
        for r in res.remittances:
            payer = directory.canonical(r.payer_id)
            assert r.payment_date is not None
            for cp in r.claims:
                # an ERA sent again (same payer, trace and claim payment) is not a payment
                identity = (
                    payer,
                    r.trace_number,
                    cp.patient_control_number,
                    cp.payer_claim_control_number,
                    cp.status_code,
                    cp.paid,
                )
                if identity in seen:
                    continue
                seen.add(identity)
                key += 1
                icn_to_pcn[cp.payer_claim_control_number] = cp.patient_control_number
                claim_level = [(a.group, a.reason, a.amount) for a in cp.adjustments]
                adjs = claim_level + [
                    (a.group, a.reason, a.amount) for s in cp.services for a in s.adjustments
                ]
                lines = []
                for s in cp.services:
                    code, revenue = billed_codes(s)
                    lines.append(
                        ServiceLine(
                            s.line_control_number,
                            code,
                            revenue,
                            s.service_date,
                            s.charge,
                            s.paid,
                            tuple((a.group, a.reason, a.amount) for a in s.adjustments),
                            s.procedure,
                        )
                    )
                fact(cp.patient_control_number).adjudications.append(
                    Adjudication(
                        key,
                        payer,
                        cp.status_code,
                        cp.paid - included_interest(cp),
                        cp.payer_claim_control_number,
                        r.payment_date,
                        cp.filing_indicator,
                        adjs,
                        charge=cp.charge,
                        lines=lines,
                        claim_adjustments=claim_level,
                        drg_code=cp.drg_code,
                        inpatient=bool(cp.inpatient_adjudication),
                        split=is_split_part(cp),
                        statement_from=cp.statement_from,
                        statement_to=cp.statement_to,
                    )
                )
            for pa in r.provider_adjustments:
                if pa.reason in RECOUPMENT_REASONS:
                    plbs.append((payer, pa.reference, pa.reason, pa.amount))
    for payer, ref, _, amount in plbs:
        pcn = icn_to_pcn.get(ref, ref)
        f = facts[pcn]
        f.recoupments[payer] = f.recoupments.get(payer, Decimal(0)) + amount
    return facts


def _oracle_rows(month: Path, day: dt.date) -> tuple[list[tuple[Any, ...]], int]:
    directory = default_directory()
    rows: list[tuple[Any, ...]] = []
    nonzero = 0
    for f in _facts(month, day).values():
        f.has_charge_rows = bool(f.ledger_charges)
        balance = claim_balance(f).balance
        credits = attribute(f, as_of=day, rules=directory.rule)
        for r in credits:
            rows.append(
                (
                    r.patient_control_number,
                    r.owed_to,
                    r.payer_id,
                    f"{r.amount:.2f}",
                    r.cause,
                    r.government,
                    r.status,
                )
            )
        if balance > 0 and not credits:
            nonzero += 1
    return sorted(rows, key=str), nonzero


def _answer_rows(
    answers: list[dict[str, Any]], statuses: set[str], status: str | None = None
) -> list[tuple[Any, ...]]:
    return sorted(
        (
            (
                r["patient_control_number"],
                r["owed_to"],
                r["payer_id"],
                r["amount"],
                r["cause"],
                r["government"],
                status or r["status"],
            )
            for r in answers
            if r["status"] in statuses
        ),
        key=str,
    )


def test_oracle_final_run_every_other_claim_balances_to_zero(month: Path) -> None:
    answers = _read(month, "answers.json")["credits"]
    rows, receivables = _oracle_rows(month, RUNS[-1])
    assert rows == _answer_rows(answers, {"open", "pending"})
    assert receivables == 0  # charges = payments + write-offs + patient payments elsewhere


def test_oracle_each_credit_first_appears_at_its_identification_run(month: Path) -> None:
    """Run by run, the oracle finds each planted credit first at the run answers.json names,
    and never a credit that is not planted (nothing found early that a later run takes back
    as "resolved", other than the two planted resolutions per month)."""
    answers = _read(month, "answers.json")["credits"]
    planted = {
        (r["patient_control_number"], r["owed_to"], r["payer_id"], r["cause"]): r for r in answers
    }
    first_seen: dict[tuple[Any, ...], str] = {}
    for run in RUNS:
        rows, _ = _oracle_rows(month, run)
        for pcn, owed_to, payer, _amount, cause, _gov, _status in rows:
            ident = (pcn, owed_to, payer, cause)
            assert ident in planted, (run, ident)
            first_seen.setdefault(ident, run.isoformat())
    assert first_seen == {k: r["identified_on"] for k, r in planted.items()}


def test_a_planted_credit_worked_by_hand_from_the_raw_lines(month: Path) -> None:
    """Month 3 (May 2025), scenario 2: the Medicare Part B duplicate payment, read from the
    generated 837, 835s and ledger and worked by hand; the answer file must say the same.

    837 (batch of Friday 16 May): CLM 165.00 = 99213 150.00 + 36415 15.00, DOS 12 May.
    835 of 3 June: CLP paid 76.00, PR 19.00; SVC 99213 150/73.60 CO-45 58 PR-2 18.40, SVC 36415
    15/2.40 CO-45 12 PR-2 0.60. 835 of 8 July: the same claim paid again under a new ICN.
    Ledger: charges 150 + 15; Medicare 76.00 on 5 June and 76.00 on 10 July; the patient's
    19.00 on 22 June. Balance 165 − 70 (contractual) − 19 (patient) − 152 (Medicare twice)
    = −76.00: Medicare's 76.00, a government credit. The runs of the half-year are 2 July
    (before the second 835) and 30 July: identified 30 July, due 60 days later, 28 September.
    """
    pcn = f"DRMC25{2 * CLAIMS + 3:06d}"  # month 3's claims start after 2 × 150; scenario 2
    seen: list[tuple[str, str, str]] = []
    for path in sorted((month / "835").glob("*.x12")):
        segments = path.read_text(encoding="ascii").replace("\n", "").split("~")
        bpr = next(s for s in segments if s.startswith("BPR*"))
        for i, seg in enumerate(segments):
            if seg.startswith(f"CLP*{pcn}*"):
                clp = seg.split("*")
                services = []
                for s in segments[i + 1 :]:
                    if s.startswith(("CLP*", "SE*", "PLB*")):
                        break
                    if s.startswith(("SVC*", "CAS*")):
                        services.append(s)
                assert services == [
                    "SVC*HC:99213*150*73.6**1",
                    "CAS*CO*45*58",
                    "CAS*PR*2*18.4",
                    "SVC*HC:36415*15*2.4**1",
                    "CAS*CO*45*12",
                    "CAS*PR*2*0.6",
                ]
                seen.append((bpr.split("*")[-1], "*".join(clp[2:6]), clp[7]))
    assert [(day, amounts) for day, amounts, _ in seen] == [
        ("20250603", "1*165*76*19"),
        ("20250708", "1*165*76*19"),
    ]
    assert seen[0][2] != seen[1][2]  # two payer claim control numbers: a second payment
    ledger = [
        line.split("|")[2:6]
        for path in sorted((month / "ledger").iterdir())
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("|")[1:2] == [pcn]
    ]
    assert sorted(ledger) == sorted(
        [
            ["12-May-2025", "C", "", "150.00"],
            ["12-May-2025", "C", "", "15.00"],
            ["05-Jun-2025", "IP", "MCRB01", "76.00"],
            ["22-Jun-2025", "PP", "", "19.00"],
            ["10-Jul-2025", "IP", "MCRB01", "76.00"],
        ]
    )
    claims_837 = [
        p.name for p in sorted((month / "837").glob("*.x12")) if f"CLM*{pcn}*165*" in p.read_text()
    ]
    assert claims_837 == ["DRMC_837_20250516.x12"]
    balance = Decimal("165") - Decimal("70") - Decimal("19") - 2 * Decimal("76")
    assert balance == Decimal("-76")
    [row] = [
        r for r in _read(month, "answers.json")["credits"] if r["patient_control_number"] == pcn
    ]
    assert row == {
        "account_id": row["account_id"],
        "patient_control_number": pcn,
        "owed_to": "payer",
        "payer_id": "MCRB01",
        "amount": "76.00",
        "cause": "duplicate_payment",
        "government": True,
        "identified_on": "2025-07-30",
        "due_by": "2025-09-28",
        "status": "open",
    }
