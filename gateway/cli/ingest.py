"""``gateway ingest|worker|run``: intake and processing (quarantine and replay:
``gateway.cli.quarantine``).

Every command ensures the schema first (auto-upgrade on the embedded SQLite default).
Exit codes: 0 all good, 1 something was quarantined or rejected, 2 usage or setup error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    Gateway,
    app,
    console,
    err_console,
    gateway_context,
)
from gateway.cli.progress import progress
from schemas.states import FileState

if TYPE_CHECKING:
    from gateway.partners import PartnerServices


@contextmanager
def _partners(c: Gateway, *, background: bool) -> Iterator[PartnerServices | None]:
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
    with gateway_context() as c, progress() as bars:
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
            error = f"{rep.error_code}: {rep.error_message}" if rep.error_code else rep.note
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

    with gateway_context() as c:
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

    with gateway_context() as c, _partners(c, background=not once) as partners:
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
