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
   New credits (and claim waits) go in through ``gateway.ingest.bulk.BulkWriter`` (same bind
   processors as a Core insert, without its per-row cost).
6. Posting variances of the scope are recomputed; the files are recorded; the run and an
   audit entry are written.

Where things are: this module orchestrates (steps 1–4 and 6); ``runs`` keeps the run's row,
heartbeat and batches; ``chunk`` decides and writes one chunk of candidates (step 5), with
``facts`` loading them, ``nocharge`` deciding the no-charge ones and ``diff`` holding the pure
rules of the diff; ``sql`` and ``nocharge_sql`` hold the set-based SQL.
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.types import tbl, utcnow
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.reconcile import linking
from gateway.reconcile import nocharge_sql as ncq
from gateway.reconcile import sql as q
from gateway.reconcile.chunk import reconcile_chunk
from gateway.reconcile.diff import classify_variance, money
from gateway.reconcile.runs import (
    BATCH_CLAIMS,
    STALE_AFTER,
    Batches,
    ReconcileBusyError,
    RunSummary,
    abandon,
    latest_run,
    running_run,
    start,
    unfinished,
)
from gateway.reconcile.steps import fill_scope, record_files, sync_aliases, variances
from gateway.reconcile.tables import ClaimWait, ReconciledFile, ReconcileRun
from gateway.webhooks import events as webhook_events
from mappings.payers import PayerDirectory, default_directory
from schemas.states import FileState

log = get_logger("gateway.reconcile")
CHUNK = 5000


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
        run_id = start(s, day, full, who)
        batches = Batches(s, run_id, batch_claims or BATCH_CLAIMS, started)
        try:
            summary = _run(s, run_id, day, full, directory, batches, progress)
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
            abandon(s, run_id)
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


def _run(
    s: Session,
    run_id: int,
    day: dt.date,
    full: bool,
    payers: PayerDirectory,
    batches: Batches,
    progress: Progress = no_progress,
) -> RunSummary:
    runs = tbl(ReconcileRun)
    broken = [r.id for r in unfinished(s) if r.id != run_id]
    sync_aliases(s, payers)
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
        fill_scope(s, changes.keys, day)
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
    ncq.create_no_charge_temps(s)
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
        reconcile_chunk(s, lo, lo + step - 1, day, run_id, payers, summary)
        batches.done(step)
        progress(min(lo + step - 1, top), top)

    variances(s, scope, day, run_id, summary)
    record_files(s, files, new_files, full, run_id)
    for status, count in s.execute(
        text("SELECT status, COUNT(*) FROM credits WHERE status <> 'resolved' GROUP BY status")
    ):
        if status == "open":
            summary.credits_open = int(count)
        elif status == "pending":
            summary.credits_pending = int(count)
    q.drop_temp(s, "rc_cand", "rc_plain", "rc_scope", "rc_files", *ncq.NO_CHARGE_TEMPS)
    return summary


__all__ = [
    "BATCH_CLAIMS",
    "CHUNK",
    "STALE_AFTER",
    "ReconcileBusyError",
    "RunSummary",
    "classify_variance",
    "latest_run",
    "money",
    "run_reconcile",
    "running_run",
]
