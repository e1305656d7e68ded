"""Process one claimed file: raw bytes → parser → rows, all or nothing.

Every derived row of the file, the deletion of rows from an earlier run (replay) and the state
change to ``processed`` commit in ONE transaction, and only if our lease is still valid (a
conditional UPDATE on ``lease_owner``), so a crash leaves all or nothing and a worker that lost
its lease cannot double-load. Anything that goes wrong is a quarantine with a specific code,
message and X12 location (classified in ``refusals``); our own bugs become ``internal_error``
(traceback to the log, no PHI in the stored message). The stored X12 is read through
``store_stream``, the TA1/999 rendered and stored through ``load_acks``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

import parsers
from gateway.crashpoints import crash_point
from gateway.db.base import Database
from gateway.db.faults import is_environmental
from gateway.db.models import InboundFile
from gateway.db.types import utcnow
from gateway.errors import TransientError
from gateway.ingest import acks as file_acks
from gateway.ingest import binding, load_acks, queue, refusals
from gateway.ingest.load_stats import LoadStats
from gateway.ingest.loader import Loader, delete_derived
from gateway.ingest.refusals import QuarantineError
from gateway.ingest.store_stream import open_stream
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.reconcile import ledger_ingest
from gateway.security.phi import mask_findings
from gateway.settings import Settings, x12_limits
from gateway.store.base import RawStore
from schemas.states import FileState

log = get_logger("gateway.ingest")
F = InboundFile
MAX_STORED_FINDINGS = 500
#: PostgreSQL deadlock_detected; a load that lost a deadlock is run again this many times
DEADLOCK_SQLSTATE = "40P01"
DEADLOCK_RETRIES = 3


class LeaseLostError(TransientError):
    """Another worker took over this file (our lease expired); our work was rolled back."""

    code = "lease_lost"


@dataclass
class Outcome:
    """How processing one file ended."""

    file_id: int
    state: str
    error_code: str | None = None
    error_message: str | None = None
    stats: LoadStats = field(default_factory=LoadStats)
    seconds: float = 0.0


def _findings(reader: parsers.X12Reader | None) -> list[parsers.Finding]:
    return list(reader.findings.items) if reader is not None else []


def process_file(
    db: Database,
    store: RawStore,
    file_id: int,
    *,
    owner: str,
    settings: Settings,
    retries: int = DEADLOCK_RETRIES,
    progress: Progress = no_progress,
) -> Outcome:
    """Parse and load a file leased to ``owner``; returns its final state.

    ``settings`` come from the orchestrator (worker, replay, CLI), never read mid-service.

    A PostgreSQL deadlock (two files taking the trace locks of shared 835 traces in opposite
    orders, see ``ResendCheck.prior``) rolled our transaction back: we still hold the lease, so the
    load is simply run again, up to ``retries`` times. ``progress`` hears the claims loaded.
    """
    started = time.perf_counter()
    with db.read() as s:
        row = s.execute(
            select(F.sha256, F.allow_duplicate_interchange).where(F.id == file_id)
        ).one()
        bound = binding.bound_providers(s, file_id)
    loader: Loader | None = None
    data: bytes | None = None
    #: the processing parse's outcome once it is complete (the acks are rendered from it)
    outcome: file_acks.Outcome | None = None
    limits = x12_limits(settings)
    source: file_acks.Source | None = None
    try:
        head, data = refusals.head_and_ledger(store, row.sha256)
        opened: file_acks.Source = (
            (lambda: open_stream(store, row.sha256)) if data is None else data
        )
        source = opened
        crash_point("load_begin")
        with db.write() as s:
            delete_derived(s, file_id)
            ledger = _load_ledger(s, file_id, head, data, bound)
            if ledger is not None:
                # non-X12 findings (ledger duplicate rows)
                stats, notes = ledger.stats, ledger.notes
            else:
                loader = Loader(
                    s,
                    file_id,
                    allow_duplicate_interchange=row.allow_duplicate_interchange,
                    engine_for_providers=None if db.is_sqlite else db.engine,
                    limits=limits,
                    progress=progress,
                    bound=bound,
                )
                stats = refusals.run_loader(loader, opened, bound)
                notes = loader.notes  # resends, reused traces
                if loader.reader is not None:
                    outcome = file_acks.from_reader(loader.reader)
            findings = _findings(loader.reader if loader is not None else None)
            refusals.refuse_on_errors(findings)
            now = utcnow()
            rendered = load_acks.render_acks(file_id, opened, outcome, now, limits)
            if rendered is not None:
                file_acks.save(s, rendered)
            crash_point("before_commit")
            res = s.execute(
                update(F)
                .where(
                    F.id == file_id,
                    F.lease_owner == owner,
                    F.state == FileState.PROCESSING.value,
                )
                .values(
                    state=FileState.PROCESSED.value,
                    lease_owner=None,
                    lease_expires_at=None,
                    processed_at=now,
                    kind=stats.kind,
                    claim_count=stats.claim_count,
                    provider_id=stats.provider_id,
                    error_code=None,
                    error_message=None,
                    error_location=None,
                    findings=mask_findings(  # messages quote file bytes: masked (PHI)
                        [*(f.as_dict() for f in findings[:MAX_STORED_FINDINGS]), *notes] or None
                    ),
                )
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLostError()
            queue.add_event(
                s, file_id, FileState.PROCESSING.value, FileState.PROCESSED.value, owner, "loaded"
            )
        crash_point("after_commit")
        seconds = time.perf_counter() - started
        log.info(
            "file_processed",
            file_id=file_id,
            sha256=row.sha256[:12],
            kind=stats.kind,
            seconds=round(seconds, 3),
            warnings=len(findings),
            resent=stats.resent,
            **stats.counts(),
        )
        return Outcome(file_id, FileState.PROCESSED.value, stats=stats, seconds=seconds)
    except QuarantineError as q:
        outcome = q.parse_error or outcome
        if q.parser_first:
            q = refusals.parser_verdict(store, row.sha256) or q
        return _quarantine(db, file_id, owner, q, loader, started, source, outcome, limits=limits)
    except LeaseLostError:
        log.warning("lease_lost", file_id=file_id, owner=owner)
        return Outcome(
            file_id, FileState.PROCESSING.value, "lease_lost", seconds=time.perf_counter() - started
        )
    except (IntegrityError, DataError) as exc:
        refused, whole_file = refusals.refused(exc, store, row.sha256)
        if refused is None:
            return _internal(db, file_id, owner, exc, loader, started, source, limits=limits)
        # the parser's own verdict is about the file as a whole: no loader state goes with it
        by = None if whole_file else loader
        return _quarantine(db, file_id, owner, refused, by, started, source, limits=limits)
    except OperationalError as exc:
        if retries > 0 and getattr(exc.orig, "sqlstate", None) == DEADLOCK_SQLSTATE:
            log.warning("file_load_deadlock_retried", file_id=file_id)
            return process_file(
                db,
                store,
                file_id,
                owner=owner,
                settings=settings,
                retries=retries - 1,
                progress=progress,
            )
        # database busy, unreachable or full: the worker retries (we keep the lease)
        _log_interrupted(file_id, exc)
        raise
    except Exception as exc:  # our own bug: quarantine, never swallow silently
        if is_environmental(exc):  # a full disk, a lost database: not the file's fault
            log.warning(
                "file_processing_interrupted", file_id=file_id, error_type=type(exc).__name__
            )
            raise
        return _internal(db, file_id, owner, exc, loader, started, source, limits=limits)


def _load_ledger(
    s: Session, file_id: int, head: bytes, data: bytes | None, bound: frozenset[str]
) -> ledger_ingest.LedgerLoad | None:
    """The file loaded as a ledger when a ledger layout reads it (None: it is X12)."""
    try:
        layout = ledger_ingest.layout_for(s, file_id, head if data is None else data)
        if layout is None:
            return None
        if data is None:  # uploaded as a ledger, but the bytes are X12
            raise QuarantineError(
                "ledger_is_x12",
                f"declared a ledger (layout {layout.name}), but the file is X12: upload it as "
                "an 835 or 837",
                None,
                kind=ledger_ingest.KIND,
            )
        return ledger_ingest.load(s, file_id, data, layout, bound=bound)
    except ledger_ingest.LedgerRejectedError as exc:
        raise QuarantineError(
            exc.code, exc.message, exc.location or None, kind=ledger_ingest.KIND
        ) from exc


def _log_interrupted(file_id: int, exc: OperationalError) -> None:
    if is_environmental(exc):
        log.warning(
            "file_processing_interrupted", file_id=file_id, error_type=type(exc.orig).__name__
        )
    else:
        log.exception("file_processing_interrupted", file_id=file_id)


def _quarantine(
    db: Database,
    file_id: int,
    owner: str,
    q: QuarantineError,
    loader: Loader | None,
    started: float,
    data: file_acks.Source | None = None,
    outcome: file_acks.Outcome | None = None,
    *,
    limits: parsers.Limits,
) -> Outcome:
    findings = _findings(loader.reader if loader else None)
    kind = q.kind or (loader.stats.kind if loader is not None else "unknown")
    if loader is not None and kind == "unknown" and loader.stats.kinds:
        kind = sorted(loader.stats.kinds)[0]
    ok = queue.finish_failed(
        db,
        file_id,
        owner,
        code=q.code,
        message=q.message,
        location=q.location,
        findings=[f.as_dict() for f in findings[:MAX_STORED_FINDINGS]] or None,
        kind=kind,
    )
    if not ok:
        log.warning("lease_lost", file_id=file_id, owner=owner)
        return Outcome(file_id, FileState.PROCESSING.value, "lease_lost")
    load_acks.store_failed_acks(db, file_id, data, outcome, limits)
    log.warning("file_quarantined", file_id=file_id, error_code=q.code, location=q.location or {})
    return Outcome(
        file_id, FileState.FAILED.value, q.code, q.message, seconds=time.perf_counter() - started
    )


def _internal(
    db: Database,
    file_id: int,
    owner: str,
    exc: BaseException,
    loader: Loader | None,
    started: float,
    data: file_acks.Source | None = None,
    *,
    limits: parsers.Limits,
) -> Outcome:
    # The traceback goes to the log; the stored message names only the exception type, since
    # exception text can quote input values.
    log.exception("file_internal_error", file_id=file_id, error_type=type(exc).__name__)
    q = QuarantineError(
        "internal_error",
        f"unexpected {type(exc).__name__} while processing; see the worker log",
        None,
    )
    return _quarantine(db, file_id, owner, q, loader, started, data, limits=limits)
