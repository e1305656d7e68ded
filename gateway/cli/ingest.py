"""``gateway ingest|worker|run|failures|replay``: intake, processing, quarantine and replay.

Every command ensures the schema first (auto-upgrade on the embedded SQLite default).
Exit codes: 0 all good, 1 something was quarantined or rejected, 2 usage or setup error.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    app,
    console,
    err_console,
    schema_database,
)
from gateway.cli.progress import progress
from schemas.states import FileState

if TYPE_CHECKING:
    from gateway.db.base import Database
    from gateway.ingest.replay import FileReport
    from gateway.partners import PartnerServices
    from gateway.settings import Settings
    from gateway.store.base import RawStore


@dataclass
class Ctx:
    settings: Settings
    db: Database
    store: RawStore


@contextmanager
def _context() -> Iterator[Ctx]:
    """``schema_database`` plus the raw store, for the commands that read or write raw files."""
    from gateway.errors import GatewayError
    from gateway.store import store_from_settings

    with schema_database() as (settings, db):
        try:
            store = store_from_settings(settings)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
        yield Ctx(settings, db, store)


@contextmanager
def _partners(c: Ctx, *, background: bool) -> Iterator[PartnerServices | None]:
    """SFTP partners (polling, acknowledgments, deliveries) when enabled profiles exist."""
    from gateway.errors import GatewayError
    from gateway.ingest.queue import worker_id
    from gateway.partners import configured_partners, partner_services
    from gateway.security.secrets import check_secrets

    try:
        profiles = configured_partners(c.settings)
        check_secrets(c.settings, (profiles or {}).values())  # refuse weak or exposed secrets
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    with partner_services(
        c.settings, c.db, c.store, owner=worker_id(), background=background, profiles=profiles
    ) as services:
        yield services


def _collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and not any(part.startswith(".") for part in f.parts)
                )
            )
        elif p.is_file():
            files.append(p)
        else:
            err_console.print(f"[red]no such file or folder: {p}[/red]")
            raise typer.Exit(EXIT_UNREADABLE)
    return files


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive)")],
    queue: Annotated[
        bool, typer.Option("--queue", help="Only store and register; workers process them later")
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Who is ingesting (default $USER)")] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="auto (X12, or a ledger CSV recognised by its header) | ledger"
        ),
    ] = "auto",
    provider: Annotated[
        str | None,
        typer.Option(
            "--provider", help="Whose ledger: NPI, TIN or provider id (default: the only one)"
        ),
    ] = None,
) -> None:
    """Store, register and process X12 files and ledger CSVs; exit 1 if any ends quarantined."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.ingest.replay import process_now, report
    from gateway.intake.service import accept_path
    from gateway.reconcile import ledger_ingest

    if kind not in ("auto", "ledger"):
        err_console.print(f"[red]--kind must be auto or ledger, not {kind!r}[/red]")
        raise typer.Exit(EXIT_UNREADABLE)
    files = _collect(paths)
    ledger_provider: int | None = None
    rows: list[tuple[str, str, str, str, str, str]] = []
    bad = False
    with _context() as c, progress() as bars:
        # on a terminal: files done (several files), bytes read and claims loaded (this file)
        done_files = bars.task("files", len(files)) if len(files) > 1 else None
        read = bars.task("bytes read", unit="bytes")
        loaded = bars.task("claims loaded")
        who = current_actor(actor)
        for n, path in enumerate(files, start=1):
            read(0, 0)
            loaded(0)
            try:
                is_ledger = kind == "ledger" or _looks_like_ledger(path)
                if is_ledger and ledger_provider is None:
                    with c.db.write() as s:
                        ledger_provider = ledger_ingest.resolve_provider(s, provider)
                res = accept_path(
                    c.db,
                    c.store,
                    path,
                    source="cli",
                    original_name=path.name,
                    actor=who,
                    max_bytes=c.settings.max_file_bytes,
                    progress=read,
                )
                if is_ledger and ledger_provider is not None and not res.duplicate:
                    with c.db.write() as s:
                        ledger_ingest.declare(s, res.file_id, ledger_provider, who)
            except ledger_ingest.ProviderChoiceError as exc:
                err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
                raise typer.Exit(EXIT_UNREADABLE) from None
            except GatewayError as exc:
                rows.append((str(path), "-", "rejected", "-", "-", f"{exc.code}: {exc.message}"))
                bad = True
                if done_files:
                    done_files(n)
                continue
            except OSError as exc:
                rows.append((str(path), "-", "rejected", "-", "-", f"unreadable: {exc.strerror}"))
                bad = True
                if done_files:
                    done_files(n)
                continue
            rep = (
                report(c.db, res.file_id)
                if queue
                else process_now(c.db, c.store, c.settings, res.file_id, progress=loaded)
            )
            if rep.state == FileState.FAILED:
                bad = True
            error = f"{rep.error_code}: {rep.error_message}" if rep.error_code else _note(rep)
            rows.append(
                (
                    str(path),
                    str(rep.file_id),
                    rep.state,
                    "yes" if res.duplicate else "no",
                    str(rep.claims) if rep.state == FileState.PROCESSED else "-",
                    error,
                )
            )
            if done_files:
                done_files(n)
    table = Table("file", "id", "state", "duplicate", "claims", "error or note", title="Ingest")
    for r in rows:
        style = "red" if r[2] in ("failed", "rejected") else ""
        table.add_row(*r, style=style)
    console.print(table)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)


def _note(rep: FileReport) -> str:
    """What a processed file's row says besides its state: the files it re-sends."""
    if not rep.resend_of:
        return ""
    return "resend of file " + ", ".join(str(f) for f in rep.resend_of) + " (not counted again)"


def _looks_like_ledger(path: Path) -> bool:
    """A ledger CSV by its header (X12 files start with ISA and are never sniffed)."""
    from gateway.reconcile import ledger_ingest

    with path.open("rb") as fh:
        head = fh.read(65536)
    cut = head.rfind(b"\n")
    return ledger_ingest.sniff(head[: cut + 1] if cut > 0 else head) is not None


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    once: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False,
    max_files: Annotated[int | None, typer.Option(help="Exit after this many files")] = None,
) -> None:
    """Claim and process queued files until SIGTERM/SIGINT (or the queue drains, with --once)."""
    from gateway.worker import install_stop_handlers, run_worker, run_workers

    with _context() as c:
        if c.db.is_sqlite and concurrency > 1:
            err_console.print(
                "[red]SQLite allows one writer: use --concurrency 1, or "
                "PostgreSQL (GATEWAY_DATABASE_URL) for more workers[/red]"
            )
            raise typer.Exit(EXIT_UNREADABLE)
        with _partners(c, background=not once) as partners:
            if partners is not None and once:
                partners.poll_once()
            if concurrency == 1:
                stop = threading.Event()
                install_stop_handlers(stop)
                stats = run_worker(
                    c.db, c.store, c.settings, stop=stop, once=once, max_files=max_files
                )
                console.print(f"processed {stats.processed}, quarantined {stats.failed}")
            else:
                crashed = run_workers(concurrency, once=once, max_files=max_files)
            if partners is not None and once:
                partners.tick()
    if concurrency > 1:
        raise typer.Exit(EXIT_FINDINGS if crashed else EXIT_OK)


@app.command()
def run(
    once: Annotated[bool, typer.Option(help="Drain the inbox and the queue, then exit")] = False,
) -> None:
    """All-in-one for the embedded default: watch the inbox and run one worker."""
    from gateway.intake.inbox import scan_inbox
    from gateway.worker import install_stop_handlers, run_worker

    with _context() as c, _partners(c, background=not once) as partners:
        stop = threading.Event()
        install_stop_handlers(stop)
        inbox = c.settings.resolved_inbox
        inbox.mkdir(parents=True, exist_ok=True)
        console.print(f"watching {inbox}")
        while not stop.is_set():
            if partners is not None and once:
                partners.poll_once()
            scan = scan_inbox(
                c.db,
                c.store,
                inbox,
                c.settings.data_dir,
                settle_seconds=0.0 if once else c.settings.inbox_settle_seconds,
                max_bytes=c.settings.max_file_bytes,
            )
            stats = run_worker(c.db, c.store, c.settings, stop=stop, once=True)
            if partners is not None and once:
                partners.tick()
            if scan.accepted or stats.processed or stats.failed:
                console.print(
                    f"accepted {len(scan.accepted)}, processed {stats.processed}, "
                    f"quarantined {stats.failed}, rejected {len(scan.rejected)}"
                )
            if once:
                break
            stop.wait(c.settings.worker_poll_seconds)


@app.command()
def failures(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines for scripts")] = False,
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Received on or after this day")
    ] = None,
) -> None:
    """List quarantined files with their reasons."""
    from gateway.ingest.quarantine import failed_files
    from gateway.outbound.ledger import count_transfer_failures

    # only the database: the quarantine list reads no raw file, so the raw store (and its
    # encryption) is not opened
    with schema_database() as (_, db):
        rows = failed_files(db, since.date() if since else None)
        transfer_failed = count_transfer_failures(db)
    if as_json:
        for f in rows:
            console.print_json(
                json.dumps(
                    {
                        "id": f.id,
                        "sha256": f.sha256,
                        "source": f.source,
                        "original_name": f.original_name,
                        "kind": f.kind,
                        "received_at": f.received_at.isoformat(),
                        "attempts": f.attempts,
                        "error_code": f.error_code,
                        "error_message": f.error_message,
                        "error_location": f.error_location,
                    }
                ),
                indent=None,
            )
        return
    table = Table(
        "id",
        "received",
        "name",
        "kind",
        "code",
        "message",
        "where",
        title=f"Quarantined files ({len(rows)})",
    )
    for f in rows:
        loc = f.error_location or {}
        where = ", ".join(
            f"{k} {loc[k]}"
            for k in ("segment_number", "segment_id", "line", "byte_offset")
            if loc.get(k) not in (None, "", 0)
        )
        table.add_row(
            str(f.id),
            f.received_at.strftime("%Y-%m-%d %H:%M"),
            f.original_name,
            f.kind,
            f.error_code or "",
            f.error_message or "",
            where,
        )
    console.print(table)
    if transfer_failed:
        console.print(
            f"[red]{transfer_failed} unresolved SFTP transfer failure(s): "
            "see `gateway transfers failures`[/red]"
        )


@app.command("replay")
def replay_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="File ids")] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every quarantined file")
    ] = False,
    since: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="With --all-failed: received on or after this day"),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            help="Accept a repeated interchange (TA1 025) or a conflicting remittance this time"
        ),
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log)")] = "manual replay",
    actor: Annotated[str | None, typer.Option(help="Who (default $USER)")] = None,
) -> None:
    """Re-run parse and load from the stored raw bytes; audited. Exit 1 if any stays failed."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.ingest.quarantine import failed_files
    from gateway.ingest.replay import replay

    if bool(ids) == all_failed:
        err_console.print("[red]give file ids or --all-failed (not both)[/red]")
        raise typer.Exit(EXIT_UNREADABLE)
    who = current_actor(actor)
    table = Table("id", "was", "now", "claims", "error or note", title="Replay")
    bad = False
    with _context() as c, progress() as bars:
        targets = ids or [f.id for f in failed_files(c.db, since.date() if since else None)]
        done = bars.task("files replayed", len(targets)) if all_failed else None
        for n, file_id in enumerate(targets, start=1):
            try:
                res = replay(
                    c.db, c.store, c.settings, file_id, actor=who, reason=reason, force=force
                )
            except GatewayError as exc:
                table.add_row(
                    str(file_id), "-", "-", "-", f"{exc.code}: {exc.message}", style="red"
                )
                bad = True
                continue
            finally:
                if done:
                    done(n)
            rep = res.report
            bad = bad or rep.state != FileState.PROCESSED
            table.add_row(
                str(file_id),
                res.previous_state,
                rep.state,
                str(rep.claims),
                f"{rep.error_code}: {rep.error_message}" if rep.error_code else _note(rep),
                style="" if rep.state == FileState.PROCESSED else "red",
            )
    console.print(table)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)
