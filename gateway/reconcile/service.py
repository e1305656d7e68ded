"""Reconciliation runs: set-based SQL finds the claims that may hold a credit, the pure model
(``credit.attribute``) decides, and the credits table keeps their history.

A run commits in bounded batches (``batch_claims`` candidates a transaction: the linking, then
the candidates chunk by chunk, then the variances and the watermark), so an upload waits
seconds for the SQLite write lock, not the length of the run. Its ``reconcile_runs`` row says
where it is: ``finished_at`` NULL while it runs (``duration_ms`` is its heartbeat, refreshed at
every commit; -1 once it aborted). Readers of a run's results take the last *finished* run
(``latest_run``) as final and ``running_run`` tells them another is under way; two runs never
interleave (``ReconcileBusyError``); a run that aborted or crashed leaves committed batches
that are each correct for their claims but not the watermark, so the next run is a full one
(``reason`` says why) and ends in the same state as an uninterrupted run.

The steps:

1. Which files are new since the last run (the watermark is ``reconciled_files``: a processed
   file not yet recorded, or re-processed since). No previous run, ``full=True``, or a
   recorded file that is no longer processed (replayed into quarantine) → a full run.
2. Link new claim payments and PLB recoupments to claim keys (``linking``).
3. Scope: the claim keys the new files touched (their 835 claims, 837 claims, ledger rows and
   matched PLBs, plus keys whose link changed) and every claim with a pending credit (the hold
   window may have passed). A full run's scope is every claim.
4. Candidates: scope claims whose balance bound is negative (``sql.screen``), plus scope
   claims that hold a credit now (so a vanished credit gets resolved). Only candidates are
   loaded, in chunks of ``CHUNK`` claims, with their adjudications, CAS, ledger sums and
   recoupments, and given to ``attribute``; the plain ones with payments and no posted charge
   are decided from grouped sums instead (``nocharge``), with the same results.
5. Credits are diffed by identity (provider, pcn, owed_to, payer, cause): new → inserted with
   ``identified_on`` = as-of; persisting → amount/status updated, ``identified_on`` kept;
   gone → ``resolved`` with how (recouped_by_plb, refund_posted, reversal_arrived,
   balance_changed), inferred from what changed since it was last seen (``basis``).
   New credits (and claim waits) go in through the ingest loader's ``BulkWriter`` (same bind
   processors as a Core insert, without its per-row cost).
6. Posting variances of the scope are recomputed; the files are recorded; the run and an
   audit entry are written.
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    and_,
    bindparam,
    column,
    delete,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.base import Database
from gateway.db.models import InboundFile, tbl, utcnow
from gateway.errors import TransientError
from gateway.ingest.loader import BulkWriter
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.reconcile import linking, medicare_load, nocharge
from gateway.reconcile import sql as q
from gateway.reconcile.credit import classify_rows, due_by, reconcile_claim
from gateway.reconcile.model import (
    Adjudication,
    ClaimFacts,
    CreditRow,
    LedgerCharge,
    LineVariance,
    ServiceLine,
)
from gateway.reconcile.tables import (
    ClaimWait,
    Credit,
    PayerAlias,
    PostingVariance,
    ReconciledFile,
    ReconcileRun,
)
from gateway.reconcile.tables import LineVariance as LineVarianceRow
from gateway.webhooks import events as webhook_events
from mappings.payers import PayerDirectory, default_directory
from schemas.states import FileState

log = get_logger("gateway.reconcile")
CHUNK = 5000
CENT = Decimal("0.01")
Key = tuple[int, str]
Identity = tuple[str, str, str]  # owed_to, payer ('' for none), cause


def money(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) * CENT).quantize(CENT)


@dataclass
class RunSummary:
    """What a run did (also stored in ``reconcile_runs``)."""

    run_id: int
    as_of: dt.date
    mode: str
    files: int = 0
    scope_claims: int = 0
    candidates: int = 0
    credits_new: int = 0
    credits_resolved: int = 0
    credits_open: int = 0
    credits_pending: int = 0
    variances: int = 0
    seconds: float = 0.0
    reason: str = ""
    links: dict[str, int] = field(default_factory=dict)


class ReconcileBusyError(TransientError):
    """Another reconciliation run is under way; retry once it has finished."""

    code = "reconcile_busy"


#: a run whose heartbeat is older than this is taken for crashed (a batch never takes as long)
STALE_AFTER = dt.timedelta(minutes=15)
#: candidates a transaction, by default (``GATEWAY_RECONCILE_BATCH_CLAIMS``)
BATCH_CLAIMS = 20_000


class _Batches:
    """Commits the run's session every ``size`` candidate claims, refreshing its heartbeat."""

    def __init__(self, s: Session, run_id: int, size: int, started: float) -> None:
        self.s, self.run_id, self.size, self.started = s, run_id, max(size, 1), started
        self.pending = 0

    def commit(self) -> None:
        runs = tbl(ReconcileRun)
        self.s.execute(
            update(runs)
            .where(runs.c.id == self.run_id)
            .values(duration_ms=int((time.perf_counter() - self.started) * 1000))
        )
        self.s.commit()
        self.pending = 0

    def done(self, claims: int) -> None:
        self.pending += claims
        if self.pending >= self.size:
            self.commit()


def run_reconcile(
    db: Database,
    *,
    as_of: dt.date | None = None,
    full: bool = False,
    actor: str | None = None,
    payers: PayerDirectory | None = None,
    batch_claims: int | None = None,
    progress: Progress = no_progress,
) -> RunSummary:
    """Reconcile (incrementally unless ``full``) as of ``as_of`` (default: today), committing
    every ``batch_claims`` candidate claims (default ``BATCH_CLAIMS``).

    ``progress`` hears the candidate claims reconciled so far, once per chunk."""
    started = time.perf_counter()
    day = as_of or dt.date.today()
    directory = payers or default_directory()
    who = audit.current_actor(actor)
    # one connection for the whole run: its temporary tables outlive each batch's commit
    with db.engine.connect() as conn, Session(bind=conn, expire_on_commit=False) as s:
        run_id = _start(s, day, full, who)
        batches = _Batches(s, run_id, batch_claims or BATCH_CLAIMS, started)
        try:
            summary = _run(s, run_id, day, full, who, directory, batches, progress)
            summary.seconds = time.perf_counter() - started
            runs = tbl(ReconcileRun)
            s.execute(
                update(runs)
                .where(runs.c.id == summary.run_id)
                .values(
                    finished_at=utcnow(),
                    mode=summary.mode,
                    files=summary.files,
                    scope_claims=summary.scope_claims,
                    candidates=summary.candidates,
                    credits_new=summary.credits_new,
                    credits_resolved=summary.credits_resolved,
                    credits_open=summary.credits_open,
                    credits_pending=summary.credits_pending,
                    variances=summary.variances,
                    duration_ms=int(summary.seconds * 1000),
                )
            )
            webhook_events.credits_identified(s, summary.run_id)  # outbox: the run's commit
            audit.record(
                s,
                actor=who,
                action="reconcile",
                outcome="completed",
                reason=summary.reason,
                details={
                    "run_id": summary.run_id,
                    "as_of": day.isoformat(),
                    "mode": summary.mode,
                    "files": summary.files,
                    "candidates": summary.candidates,
                    "credits_new": summary.credits_new,
                    "credits_resolved": summary.credits_resolved,
                    "credits_open": summary.credits_open,
                    "credits_pending": summary.credits_pending,
                    "variances": summary.variances,
                },
            )
            s.commit()
        except BaseException:
            s.rollback()
            _abandon(s, run_id)
            raise
    log.info(
        "reconcile_finished",
        run_id=summary.run_id,
        mode=summary.mode,
        files=summary.files,
        scope_claims=summary.scope_claims,
        candidates=summary.candidates,
        credits_new=summary.credits_new,
        credits_resolved=summary.credits_resolved,
        seconds=round(summary.seconds, 3),
    )
    return summary


def _start(s: Session, day: dt.date, full: bool, who: str) -> int:
    """The run's row, committed at once, unless another run is alive (its heartbeat fresh)."""
    runs = tbl(ReconcileRun)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    other = running_run(s)
    if other is not None:
        s.rollback()
        raise ReconcileBusyError(f"reconciliation run {other} is under way")
    run_id = int(
        s.execute(
            insert(runs)
            .values(
                as_of=day,
                mode="full" if full else "incremental",
                actor=who[:128],
                started_at=utcnow(),
                files=0,
                scope_claims=0,
                candidates=0,
                credits_new=0,
                credits_resolved=0,
                credits_open=0,
                credits_pending=0,
                variances=0,
                duration_ms=0,
            )
            .returning(runs.c.id)
        ).scalar_one()
    )
    s.commit()
    return run_id


#: PostgreSQL advisory lock that orders runs' starts (SQLite: BEGIN IMMEDIATE does)
_LOCK_KEY = 0x7265636F  # "reco"


def _abandon(s: Session, run_id: int) -> None:
    """Mark an aborted run (its heartbeat -1), best effort: a crash leaves it to go stale."""
    runs = tbl(ReconcileRun)
    try:
        s.execute(update(runs).where(runs.c.id == run_id).values(duration_ms=-1))
        s.commit()
    except Exception:  # the original error is what the caller must see
        s.rollback()
        log.warning("reconcile_abort_unrecorded", run_id=run_id)


def _unfinished(s: Session) -> list[Any]:
    """Runs started after the last finished one that never finished (running or not)."""
    return list(
        s.execute(
            text(
                "SELECT id, started_at, duration_ms FROM reconcile_runs WHERE finished_at IS NULL "
                "AND id > (SELECT COALESCE(MAX(id), 0) FROM reconcile_runs "
                "WHERE finished_at IS NOT NULL) ORDER BY id"
            )
        ).all()
    )


def _alive(row: Any) -> bool:
    if row.duration_ms is None or row.duration_ms < 0:
        return False
    began = row.started_at
    if isinstance(began, str):
        began = dt.datetime.fromisoformat(began)
    if began.tzinfo is None:
        began = began.replace(tzinfo=dt.UTC)
    beat: dt.datetime = began + dt.timedelta(milliseconds=int(row.duration_ms))
    return bool(utcnow() - beat < STALE_AFTER)


def running_run(s: Session) -> int | None:
    """The id of a run under way (its results are not final yet), if any."""
    for row in reversed(_unfinished(s)):
        if _alive(row):
            return int(row.id)
    return None


def _run(
    s: Session,
    run_id: int,
    day: dt.date,
    full: bool,
    who: str,
    payers: PayerDirectory,
    batches: _Batches,
    progress: Progress = no_progress,
) -> RunSummary:
    runs = tbl(ReconcileRun)
    broken = [r.id for r in _unfinished(s) if r.id != run_id]
    _sync_aliases(s, payers)
    ft, rft = tbl(InboundFile), tbl(ReconciledFile)
    files = list(
        s.execute(
            select(
                ft.c.id,
                ft.c.processed_at,
                rft.c.file_id.label("seen_id"),
                rft.c.processed_at.label("seen_at"),
            )
            .select_from(ft.outerjoin(rft, rft.c.file_id == ft.c.id))
            .where(ft.c.state == FileState.PROCESSED)
        ).all()
    )
    new_files = [r for r in files if r.seen_id is None or r.seen_at != r.processed_at]
    reason = "requested" if full else ""
    if not full:
        previous = s.execute(
            text("SELECT COUNT(*) FROM reconcile_runs WHERE id <> :r AND finished_at IS NOT NULL"),
            {"r": run_id},
        ).scalar_one()
        gone = s.execute(
            text(
                "SELECT COUNT(*) FROM reconciled_files rf "
                "JOIN inbound_files f ON f.id = rf.file_id "
                "WHERE f.state <> 'processed'"
            )
        ).scalar_one()
        if not previous:
            full, reason = True, "first run"
        elif broken:
            full, reason = True, f"run {broken[-1]} did not finish"
        elif gone:
            full, reason = True, f"{gone} reconciled file(s) left the processed state"
    summary = RunSummary(
        run_id, day, "full" if full else "incremental", files=len(new_files), reason=reason
    )
    files_table: str | None = None
    if not full:
        s.execute(text("DROP TABLE IF EXISTS rc_files"))
        s.execute(text("CREATE TEMPORARY TABLE rc_files (file_id INTEGER PRIMARY KEY)"))
        if new_files:
            s.execute(
                text("INSERT INTO rc_files (file_id) VALUES (:f)"), [{"f": r.id} for r in new_files]
            )
        q.analyze(s, "rc_files")
        files_table = "rc_files"
    changes = linking.link_claim_payments(s, payers, files_table=files_table)
    linking.match_recoupments(s, payers, changes, files_table=files_table)
    summary.links = {
        "linked": changes.linked,
        "unmatched": changes.unmatched,
        "plb_matched": changes.plb_matched,
        "plb_unmatched": changes.plb_unmatched,
    }
    batches.commit()

    scope: str | None = None
    q.create_temp(s, "rc_cand", numbered=True)
    if full:
        s.execute(update(runs).where(runs.c.id == run_id).values(mode="full"))
        s.execute(
            text(
                f"INSERT INTO rc_cand (pid, pcn) {q.screen(None)} UNION "
                "SELECT provider_id, patient_control_number FROM credits "
                "WHERE status <> 'resolved' UNION "
                "SELECT provider_id, patient_control_number FROM line_variances "
                "WHERE status <> 'cleared'"
            )
        )
        summary.scope_claims = -1  # every claim
    else:
        scope = "rc_scope"
        _fill_scope(s, changes.keys, day)
        summary.scope_claims = int(s.execute(text("SELECT COUNT(*) FROM rc_scope")).scalar_one())
        s.execute(
            text(
                f"INSERT INTO rc_cand (pid, pcn) {q.screen(scope)} UNION "
                "SELECT c.provider_id, c.patient_control_number FROM credits c "
                "JOIN rc_scope s ON s.pid = c.provider_id AND "
                "s.pcn = c.patient_control_number WHERE c.status <> 'resolved' UNION "
                "SELECT v.provider_id, v.patient_control_number FROM line_variances v "
                "JOIN rc_scope s ON s.pid = v.provider_id AND "
                "s.pcn = v.patient_control_number WHERE v.status <> 'cleared'"
            )
        )
    q.analyze(s, "rc_cand")
    q.create_temp(s, "rc_plain")
    q.create_no_charge_temps(s)
    # waits are recomputed for every claim the run looks at (candidates insert theirs again)
    if scope is None:
        s.execute(delete(tbl(ClaimWait)))
    else:
        s.execute(
            text(
                "DELETE FROM claim_waits WHERE EXISTS (SELECT 1 FROM rc_scope s "
                "WHERE s.pid = claim_waits.provider_id "
                "AND s.pcn = claim_waits.patient_control_number)"
            )
        )
    summary.candidates = int(s.execute(text("SELECT COUNT(*) FROM rc_cand")).scalar_one())
    top = int(s.execute(text("SELECT COALESCE(MAX(n), 0) FROM rc_cand")).scalar_one())
    step = min(CHUNK, batches.size)
    progress(0, top)
    for lo in range(1, top + 1, step):
        _reconcile_chunk(s, lo, lo + step - 1, day, run_id, payers, summary)
        batches.done(step)
        progress(min(lo + step - 1, top), top)

    _variances(s, scope, day, run_id, summary)
    _record_files(s, files, new_files, full, run_id)
    for status, count in s.execute(
        text("SELECT status, COUNT(*) FROM credits WHERE status <> 'resolved' GROUP BY status")
    ):
        if status == "open":
            summary.credits_open = int(count)
        elif status == "pending":
            summary.credits_pending = int(count)
    q.drop_temp(s, "rc_cand", "rc_plain", "rc_scope", "rc_files", *q.NO_CHARGE_TEMPS)
    return summary


def _sync_aliases(s: Session, payers: PayerDirectory) -> None:
    t = tbl(PayerAlias)
    s.execute(delete(t))
    aliases = payers.aliases()
    if aliases:
        s.execute(insert(t), [{"alias": a, "payer_id": p} for a, p in sorted(aliases.items())])


def _fill_scope(s: Session, extra: set[Key], day: dt.date) -> None:
    """Claim keys touched by the new files, relinked keys, claims with pending credits, and
    claims whose wait for a ledger ends by ``day``."""
    q.create_temp(s, "rc_scope_raw")
    s.execute(
        text(
            "INSERT INTO rc_scope_raw (pid, pcn) "
            "SELECT cp.provider_id, COALESCE(l.patient_control_number, cp.patient_control_number) "
            "FROM rc_files f JOIN claim_payments cp ON cp.file_id = f.file_id "
            "LEFT JOIN claim_links l ON l.claim_payment_id = cp.id "
            "WHERE cp.provider_id IS NOT NULL "
            "UNION ALL SELECT le.provider_id, le.patient_control_number FROM rc_files f "
            "JOIN ledger_entries le ON le.file_id = f.file_id "
            "UNION ALL SELECT c.provider_id, c.patient_control_number FROM rc_files f "
            "JOIN claims c ON c.file_id = f.file_id WHERE c.provider_id IS NOT NULL "
            "UNION ALL SELECT m.provider_id, m.patient_control_number FROM rc_files f "
            "JOIN provider_adjustments pa ON pa.file_id = f.file_id "
            "JOIN plb_matches m ON m.provider_adjustment_id = pa.id "
            "WHERE m.patient_control_number IS NOT NULL "
            "UNION ALL SELECT provider_id, patient_control_number FROM credits "
            "WHERE status = 'pending' "
            "UNION ALL SELECT provider_id, patient_control_number FROM claim_waits "
            "WHERE until <= :day"
        ),
        {"day": day},
    )
    if extra:
        s.execute(
            text("INSERT INTO rc_scope_raw (pid, pcn) VALUES (:p, :n)"),
            [{"p": p, "n": n} for p, n in sorted(extra)],
        )
    q.create_temp(s, "rc_scope")
    s.execute(text("INSERT INTO rc_scope (pid, pcn) SELECT DISTINCT pid, pcn FROM rc_scope_raw"))
    q.drop_temp(s, "rc_scope_raw")
    q.analyze(s, "rc_scope")


# ---------------------------------------------------------------- loading one chunk of claims


def _load_facts(
    s: Session, where: str, p: dict[str, Any], payers: PayerDirectory
) -> dict[Key, ClaimFacts]:
    """Everything about the chunk's candidates (``where`` on ``rc_cand s``) that the
    per-claim model needs."""
    facts: dict[Key, ClaimFacts] = {}

    def claim(pid: int, pcn: str) -> ClaimFacts:
        f = facts.get((pid, pcn))
        if f is None:
            f = facts[(pid, pcn)] = ClaimFacts(
                provider_id=pid, account_id="", patient_control_number=pcn
            )
        return f

    for r in s.execute(text(f"SELECT pid, pcn FROM rc_cand s WHERE {where}"), p):
        claim(int(r.pid), str(r.pcn))
    charge_rows: dict[Key, int] = {}
    for r in s.execute(
        text(
            f"SELECT le.provider_id AS pid, le.patient_control_number AS pcn, "
            f"MIN(le.account_id) AS account, le.type, le.party, le.payer_id, "
            f"SUM({q.cents('le.amount')}) AS c, COUNT(*) AS n FROM {q.ledger('rc_cand', where)} "
            "GROUP BY le.provider_id, le.patient_control_number, le.type, le.party, "
            "le.payer_id"
        ),
        p,
    ):
        f = claim(int(r.pid), str(r.pcn))
        _ledger_fact(f, r.account, r.type, r.party, payers.canonical(r.payer_id), money(r.c))
        if r.type == "charge":
            key = (f.provider_id, f.patient_control_number)
            charge_rows[key] = charge_rows.get(key, 0) + int(r.n)
    # only charges with line detail one by one (a partial index); the rest as one sum
    for r in s.execute(
        text(
            "SELECT le.provider_id AS pid, le.patient_control_number AS pcn, "
            f"{q.cents('le.amount')} AS c, le.line_ref, le.procedure_code, le.revenue_code, "
            f"le.service_date FROM {q.ledger('rc_cand', where)} WHERE {q.LINE_DETAIL} "
            "ORDER BY le.id"
        ).columns(service_date=Date),
        p,
    ):
        claim(int(r.pid), str(r.pcn)).ledger_charges.append(
            LedgerCharge(
                money(r.c),
                r.line_ref or "",
                r.procedure_code or "",
                r.revenue_code or "",
                r.service_date,
            )
        )
    for key, f in facts.items():
        rows = charge_rows.get(key, 0)
        f.has_charge_rows = rows > 0
        if rows > len(f.ledger_charges):
            rest = f.charges - sum((c.amount for c in f.ledger_charges), Decimal(0))
            f.ledger_charges.append(LedgerCharge(rest))
    adjudications: dict[int, Adjudication] = {}
    for r in s.execute(
        text(
            f"SELECT k.id, k.pid, k.pcn, k.payer_id, k.status_code, {q.cents('k.paid')} AS c, "
            f"{q.cents('COALESCE(k.interest, 0)')} AS i, {q.cents('k.charge')} AS billed, "
            "k.icn, k.filing, k.drg_code, k.inpatient, k.split, k.statement_from, "
            "k.statement_to, r.payment_date, r.production_date FROM "
            f"({q.claim_payments('rc_cand', where, q.LOAD_COLS)}) k "
            "JOIN remittances r ON r.id = k.remittance_id ORDER BY k.id"
        ).columns(payment_date=Date, production_date=Date, statement_from=Date, statement_to=Date),
        p,
    ):
        a = Adjudication(
            key=int(r.id),
            payer_id=payers.canonical(r.payer_id),
            status_code=r.status_code,
            paid=money(int(r.c) - int(r.i)),
            payer_claim_control_number=r.icn or "",
            remittance_date=r.payment_date or r.production_date or dt.date.min,
            filing_indicator=r.filing or "",
            charge=money(r.billed),
            drg_code=r.drg_code or "",
            inpatient=bool(r.inpatient),
            split=bool(r.split),
            statement_from=r.statement_from,
            statement_to=r.statement_to,
        )
        adjudications[a.key] = a
        claim(int(r.pid), str(r.pcn)).adjudications.append(a)
    _load_lines(s, adjudications)
    _load_decisions_and_replacements(s, where, p, claim)
    for r in s.execute(
        text(
            f"SELECT m.provider_id AS pid, m.patient_control_number AS pcn, m.payer_id, "
            f"SUM({q.cents('pa.amount')}) AS c FROM {q.recoupments('rc_cand', where)} "
            "GROUP BY m.provider_id, m.patient_control_number, m.payer_id"
        ),
        p,
    ):
        f = claim(int(r.pid), str(r.pcn))
        payer = payers.canonical(r.payer_id)
        f.recoupments[payer] = f.recoupments.get(payer, Decimal(0)) + money(r.c)
    for r in s.execute(
        text(
            "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, "
            "MAX(c.filing_indicator) AS filing FROM rc_cand s JOIN claims c "
            "ON c.provider_id = s.pid AND c.patient_control_number = s.pcn "
            f"WHERE {where} GROUP BY c.provider_id, c.patient_control_number"
        ),
        p,
    ):
        claim(int(r.pid), str(r.pcn)).claim_filing_indicator = r.filing or ""
    medicare_load.load(s, where, p, facts, payers)
    return facts


def _load_lines(s: Session, adjudications: dict[int, Adjudication]) -> None:
    """CAS (claim and line level) and SVC loops of the loaded adjudications."""
    ids = sorted(adjudications)
    lines: dict[int, ServiceLine] = {}
    owner: dict[int, int] = {}
    line_cas: dict[int, list[tuple[str, str, Decimal]]] = {}
    for i in range(0, len(ids), 900):
        part = {"ids": ids[i : i + 900]}
        for r in s.execute(
            text(
                "SELECT id, claim_payment_id, procedure, code, revenue_code, "
                f"{q.cents('charge')} AS c, {q.cents('paid')} AS p, service_date, "
                "line_control_number FROM service_payments WHERE claim_payment_id IN :ids "
                "ORDER BY claim_payment_id, seq"
            )
            .bindparams(bindparam("ids", expanding=True))
            .columns(service_date=Date),
            part,
        ):
            lines[int(r.id)] = ServiceLine(
                r.line_control_number or "",
                r.code or "",
                r.revenue_code or "",
                r.service_date,
                money(r.c),
                money(r.p),
                (),
                r.procedure or "",
            )
            owner[int(r.id)] = int(r.claim_payment_id)
        for r in s.execute(
            text(
                "SELECT claim_payment_id, service_payment_id, group_code, reason, "
                f"SUM({q.cents('amount')}) AS c FROM adjustments "
                "WHERE claim_payment_id IN :ids "
                "GROUP BY claim_payment_id, service_payment_id, group_code, reason "
                "ORDER BY claim_payment_id, service_payment_id, group_code, reason"
            ).bindparams(bindparam("ids", expanding=True)),
            part,
        ):
            cas = (r.group_code, r.reason, money(r.c))
            a = adjudications[int(r.claim_payment_id)]
            a.adjustments.append(cas)
            if r.service_payment_id is None:
                a.claim_adjustments.append(cas)
            else:
                line_cas.setdefault(int(r.service_payment_id), []).append(cas)
    for sid, line in lines.items():
        adjudications[owner[sid]].lines.append(
            replace(line, adjustments=tuple(line_cas.get(sid, ())))
        )


def _load_decisions_and_replacements(
    s: Session, where: str, p: dict[str, Any], claim: Callable[[int, str], ClaimFacts]
) -> None:
    """Analysts' answers to uncharged lines, and replacement/void 837s with their send date."""
    for r in s.execute(
        text(
            "SELECT v.provider_id AS pid, v.patient_control_number AS pcn, v.group_key, "
            "v.resolution FROM rc_cand s JOIN line_variances v ON v.provider_id = s.pid "
            f"AND v.patient_control_number = s.pcn WHERE {where} "
            "AND v.resolution IS NOT NULL"
        ),
        p,
    ):
        claim(int(r.pid), str(r.pcn)).line_decisions[r.group_key] = r.resolution
    for r in s.execute(
        text(
            "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, "
            "c.original_claim_number AS icn, g.date AS sent FROM rc_cand s JOIN claims c "
            "ON c.provider_id = s.pid AND c.patient_control_number = s.pcn "
            "JOIN transactions t ON t.id = c.transaction_id "
            "JOIN functional_groups g ON g.id = t.group_id "
            f"WHERE {where} AND c.frequency_code IN ('7', '8') "
            "AND c.original_claim_number <> ''"
        ).columns(sent=Date),
        p,
    ):
        if r.sent is not None:
            claim(int(r.pid), str(r.pcn)).replacements.append((r.icn, r.sent))


def _ledger_fact(
    f: ClaimFacts, account: str, kind: str, party: str, payer: str, amount: Decimal
) -> None:
    """Apply one ledger sum to the facts (same classification as ``sql.LEDGER_BALANCE_EFFECT``).

    Payer payments and payer adjustments are the provider's postings of remittances: not
    counted (the 835 is the truth), compared as posting variances instead.
    """
    if account and (not f.account_id or account < f.account_id):
        f.account_id = account
    if kind == "charge":
        f.charges += amount
    elif kind == "payment" and party == "patient":
        f.patient_payments += amount
    elif kind == "refund" and party == "patient":
        f.patient_refunds += amount
    elif kind == "adjustment" and party != "payer":
        f.provider_adjustments += amount
    elif kind == "refund" and party == "payer":
        f.payer_refunds[payer] = f.payer_refunds.get(payer, Decimal(0)) + amount


def _basis(f: ClaimFacts, owed_to: str, payer: str) -> dict[str, Any]:
    """What could make this credit disappear, as it stands now."""
    if owed_to == "payer":
        return {
            "recouped": str(f.recoupments.get(payer, Decimal(0))),
            "refunded": str(f.payer_refunds.get(payer, Decimal(0))),
            "reversals": sum(1 for a in f.adjudications if a.payer_id == payer and a.is_reversal),
        }
    if owed_to == "patient":
        return {"recouped": "0", "refunded": str(f.patient_refunds), "reversals": 0}
    return {
        "recouped": str(sum(f.recoupments.values(), Decimal(0))),
        "refunded": str(sum(f.payer_refunds.values(), Decimal(0)) + f.patient_refunds),
        "reversals": sum(1 for a in f.adjudications if a.is_reversal),
    }


def _resolution(before: dict[str, Any] | None, now: dict[str, Any]) -> str:
    before = before or {}
    if Decimal(now["recouped"]) > Decimal(before.get("recouped", "0")):
        return "recouped_by_plb"
    if Decimal(now["refunded"]) > Decimal(before.get("refunded", "0")):
        return "refund_posted"
    if int(now["reversals"]) > int(before.get("reversals", 0)):
        return "reversal_arrived"
    return "balance_changed"


def _merge(rows: Iterable[CreditRow]) -> dict[Identity, CreditRow]:
    out: dict[Identity, CreditRow] = {}
    for r in rows:
        ident = (r.owed_to, r.payer_id or "", r.cause)
        prev = out.get(ident)
        if prev is not None:
            r = replace(r, amount=prev.amount + r.amount)
        out[ident] = r
    return out


def _reconcile_chunk(
    s: Session,
    lo: int,
    hi: int,
    day: dt.date,
    run_id: int,
    payers: PayerDirectory,
    summary: RunSummary,
) -> None:
    where, p = "s.n BETWEEN :lo AND :hi", {"lo": lo, "hi": hi}
    ct = tbl(Credit)
    existing: dict[Key, dict[Identity, Any]] = {}
    cand = table("rc_cand", column("n"), column("pid"), column("pcn"))
    for r in s.execute(
        select(ct)
        .select_from(
            cand.join(
                ct, and_(ct.c.provider_id == cand.c.pid, ct.c.patient_control_number == cand.c.pcn)
            )
        )
        .where(cand.c.n.between(lo, hi), ct.c.status != "resolved")
    ).mappings():
        existing.setdefault((r["provider_id"], r["patient_control_number"]), {})[
            (r["owed_to"], r["payer_id"], r["cause"])
        ] = r
    # the plain no-charge claims the ledger knows nothing of: credits by INSERT ... SELECT
    summary.credits_new += nocharge.insert_plain(s, where, p, day, payers, run_id)
    where = f"{where} AND {q.NOT_FAST}"
    left = int(s.execute(text(f"SELECT COUNT(*) FROM rc_cand s WHERE {where}"), p).scalar_one())
    plain = nocharge.load(s, where, p, day, payers) if left else {}
    rest = _rest(s, where, p, plain, left)
    facts = {} if rest is None else _load_facts(s, rest, p, payers)
    outcomes = {key: outcome for key, (_, outcome) in plain.items()}
    facts.update((key, f) for key, (f, _) in plain.items())
    rule: Callable[[str], Any] = payers.rule
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    resolves: list[dict[str, Any]] = []
    found: dict[Key, list[LineVariance]] = {}
    waits: list[dict[str, Any]] = []
    for key in sorted(facts):
        f = facts[key]
        decided = outcomes.get(key)
        outcome = reconcile_claim(f, as_of=day, rules=rule) if decided is None else decided
        found[key] = outcome.variances
        if outcome.no_charges_until is not None and outcome.waiting is not None:
            payer, amount, since = outcome.waiting
            waits.append(
                {
                    "provider_id": key[0],
                    "patient_control_number": key[1],
                    "until": outcome.no_charges_until,
                    "payer_id": payer,
                    "amount": amount,
                    "since": since,
                }
            )
        rows = _merge(
            outcome.credits
            if decided is not None
            else classify_rows(f, outcome.credits, rules=rule)
        )
        old = existing.get(key, {})
        account = f.account_id or None
        for ident, row in rows.items():
            basis = _basis(f, row.owed_to, ident[1])
            prev = old.get(ident)
            if prev is None:
                inserts.append(
                    {
                        "provider_id": key[0],
                        "account_id": account,
                        "patient_control_number": key[1],
                        "owed_to": row.owed_to,
                        "payer_id": ident[1],
                        "cause": row.cause,
                        "amount": row.amount,
                        "government": row.government,
                        "deadline_days": row.deadline_days,
                        "identified_on": day,
                        "due_by": due_by(day, row.deadline_days),
                        "status": row.status,
                        "pending_until": row.pending_until,
                        "pending_reason": row.pending_reason,
                        "basis": basis,
                        "first_run_id": run_id,
                        "last_run_id": run_id,
                        "updated_at": utcnow(),
                        **_medicare_columns(row),
                    }
                )
                continue
            updates.append(
                {
                    "b_id": prev["id"],
                    "account_id": account,
                    "amount": row.amount,
                    "government": row.government,
                    "deadline_days": row.deadline_days,
                    "due_by": due_by(
                        prev["identified_on"], row.deadline_days, _suspension(prev, day)
                    ),
                    "status": row.status,
                    "pending_until": row.pending_until,
                    "pending_reason": row.pending_reason,
                    "basis": basis,
                    "last_run_id": run_id,
                    "updated_at": utcnow(),
                    **_medicare_columns(row),
                }
            )
        for ident, prev in old.items():
            if ident in rows:
                continue
            now = _basis(f, ident[0], ident[1])
            resolves.append(
                {
                    "b_id": prev["id"],
                    "status": "resolved",
                    "resolved_on": day,
                    "resolution": _resolution(prev["basis"], now),
                    "pending_reason": None,
                    "last_run_id": run_id,
                    "updated_at": utcnow(),
                }
            )
    if inserts or waits:
        bulk = BulkWriter(s)
        bulk.bind()
        try:
            # the driver's bulk path with the Core insert's own bind processors: SQLAlchemy's
            # per-row parameter building was a fifth of a no-charge run (issue 17 item 5)
            bulk.insert_dicts(Credit, inserts)
            bulk.insert_dicts(ClaimWait, waits)
        finally:
            bulk.release()
    if updates:
        s.execute(
            update(ct)
            .where(ct.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in updates[0] if k != "b_id"}),
            updates,
        )
    if resolves:
        s.execute(
            update(ct)
            .where(ct.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in resolves[0] if k != "b_id"}),
            resolves,
        )
    summary.credits_new += len(inserts)
    summary.credits_resolved += len(resolves)
    _line_variances(s, lo, hi, day, run_id, facts, found)


def _rest(
    s: Session, where: str, p: dict[str, Any], plain: dict[Key, Any], left: int
) -> str | None:
    """``where`` (``left`` candidates) narrowed to the chunk's candidates ``nocharge`` did
    not decide (None when it decided them all, or there are none)."""
    if left <= len(plain):
        return None
    if not plain:
        return where
    s.execute(text("DELETE FROM rc_plain"))
    s.execute(
        text("INSERT INTO rc_plain (pid, pcn) VALUES (:p, :n)"),
        [{"p": k[0], "n": k[1]} for k in sorted(plain)],
    )
    return f"{where} AND {q.NOT_PLAIN}"


def _line_variances(
    s: Session,
    lo: int,
    hi: int,
    day: dt.date,
    run_id: int,
    facts: dict[Key, ClaimFacts],
    found: dict[Key, list[LineVariance]],
) -> None:
    """Keep ``line_variances`` of the chunk's claims in step: new findings inserted, persisting
    ones refreshed (the analyst's answer kept), vanished ones marked ``cleared``."""
    vt = tbl(LineVarianceRow)
    cand = table("rc_cand", column("n"), column("pid"), column("pcn"))
    stored: dict[tuple[int, str, str, str, str], Any] = {}
    for r in s.execute(
        select(
            vt.c.id,
            vt.c.provider_id,
            vt.c.patient_control_number,
            vt.c.payer_id,
            vt.c.kind,
            vt.c.group_key,
            vt.c.status,
            vt.c.resolution,
        )
        .select_from(
            cand.join(
                vt, and_(vt.c.provider_id == cand.c.pid, vt.c.patient_control_number == cand.c.pcn)
            )
        )
        .where(cand.c.n.between(lo, hi))
    ):
        stored[(r.provider_id, r.patient_control_number, r.payer_id, r.kind, r.group_key)] = r
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[int] = set()
    for key, variances in found.items():
        account = facts[key].account_id or None
        for v in variances:
            values = {
                "account_id": account,
                "reason": v.reason[:2000],
                "charge": v.charge,
                "paid": v.paid,
                "lines": [dict(x) for x in v.lines],
                "run_id": run_id,
            }
            prev = stored.get((key[0], key[1], v.payer_id, v.kind, v.group_key))
            if prev is None:
                inserts.append(
                    {
                        **values,
                        "provider_id": key[0],
                        "patient_control_number": key[1],
                        "payer_id": v.payer_id,
                        "kind": v.kind,
                        "group_key": v.group_key,
                        "status": "open",
                        "detected_on": day,
                    }
                )
                continue
            seen.add(prev.id)
            status = "resolved" if prev.resolution else "open"
            updates.append({**values, "b_id": prev.id, "status": status})
    for prev in stored.values():
        if prev.id not in seen and prev.status != "cleared":
            updates.append({"b_id": prev.id, "status": "cleared", "run_id": run_id})
    if inserts:
        s.execute(insert(vt), inserts)
    for group in _by_columns(updates):
        s.execute(
            update(vt)
            .where(vt.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in group[0] if k != "b_id"}),
            group,
        )


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their set of keys (one executemany per shape)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        shapes.setdefault(tuple(sorted(r)), []).append(r)
    return list(shapes.values())


def _suspension(row: Any, day: dt.date) -> int:
    """Days of an open (or closed) investigation that suspend the deadline: at most what the
    investigation was recorded with (``investigation_days``: 180 for Medicare A/B, a payer
    profile's days, 0 when the deadline does not move; NULL, recorded before that: 180)."""
    opened: dt.date | None = row["investigation_opened_on"]
    if opened is None:
        return 0
    closed: dt.date = row["investigation_closed_on"] or day
    cap = row["investigation_days"]
    return min(max((closed - opened).days, 0), 180 if cap is None else cap)


def _medicare_columns(row: CreditRow) -> dict[str, Any]:
    """The credit columns of ``medicare.annotate`` (claim kind, Part, return method)."""
    return {
        "claim_kind": row.claim_kind,
        "medicare_part": row.medicare_part,
        "medicare_verified": row.medicare_verified,
        "return_method": row.return_method,
    }


# ---------------------------------------------------------------- variances and watermark


def classify_variance(posted: int, npost: int, remit: int) -> str:
    """Kind of a posting variance, from cents posted, number of postings and cents remitted."""
    if npost == 0:
        return "unposted_payment"
    if remit == 0:
        return "posted_without_remittance"
    if npost >= 2 and posted == npost * remit:
        return "posted_twice"
    return "wrong_amount"


def _variances(
    s: Session, scope: str | None, day: dt.date, run_id: int, summary: RunSummary
) -> None:
    vt = tbl(PostingVariance)
    if scope is None:
        s.execute(delete(vt))
    else:
        s.execute(
            text(
                "DELETE FROM posting_variances WHERE EXISTS (SELECT 1 FROM rc_scope s "
                "WHERE s.pid = posting_variances.provider_id "
                "AND s.pcn = posting_variances.patient_control_number)"
            )
        )
    rows = s.execute(text(q.variances(scope))).all()
    accounts: dict[Key, str | None] = {}
    keys = sorted({(int(r.pid), str(r.pcn)) for r in rows})
    if keys:
        q.create_temp(s, "rc_vkeys")
        s.execute(
            text("INSERT INTO rc_vkeys (pid, pcn) VALUES (:p, :n)"),
            [{"p": p, "n": n} for p, n in keys],
        )
        q.analyze(s, "rc_vkeys")
        for r in s.execute(
            text(
                f"SELECT le.provider_id, le.patient_control_number, MIN(le.account_id) "
                f"FROM {q.ledger('rc_vkeys')} "
                "GROUP BY le.provider_id, le.patient_control_number"
            )
        ):
            accounts[(int(r[0]), str(r[1]))] = r[2]
        q.drop_temp(s, "rc_vkeys")
    values = [
        {
            "provider_id": int(r.pid),
            "account_id": accounts.get((int(r.pid), str(r.pcn))),
            "patient_control_number": r.pcn,
            "payer_id": r.payer,
            "kind": classify_variance(int(r.posted), int(r.npost), int(r.remit)),
            "posted": money(r.posted),
            "remitted": money(r.remit),
            "difference": money(int(r.posted) - int(r.remit)),
            "postings": int(r.npost),
            "detected_on": day,
            "run_id": run_id,
        }
        for r in sorted(rows, key=lambda r: (r.pid, r.pcn, r.payer))
    ]
    if values:
        s.execute(insert(vt), values)
    summary.variances = int(s.execute(text("SELECT COUNT(*) FROM posting_variances")).scalar_one())


def _record_files(
    s: Session, files: list[Any], new_files: list[Any], full: bool, run_id: int
) -> None:
    rt = tbl(ReconciledFile)
    if full:
        s.execute(delete(rt))
        todo = files
    else:
        todo = new_files
        if todo:
            s.execute(
                delete(rt).where(rt.c.file_id == bindparam("fid")), [{"fid": r.id} for r in todo]
            )
    for i in range(0, len(todo), 5000):
        s.execute(
            insert(rt),
            [
                {"file_id": r.id, "processed_at": r.processed_at, "run_id": run_id}
                for r in todo[i : i + 5000]
            ],
        )


def latest_run(s: Session) -> ReconcileRun | None:
    return s.execute(
        select(ReconcileRun)
        .where(ReconcileRun.finished_at.is_not(None))
        .order_by(ReconcileRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
