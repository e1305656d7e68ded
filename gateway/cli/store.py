"""``gateway store migrate|prune|verify|sweep``: the raw store as a whole.

Exit codes: 0 all good, 1 some files had problems (listed), 2 usage or setup error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    app,
    cli_settings,
    console,
    err_console,
)
from gateway.cli.progress import progress

if TYPE_CHECKING:
    from gateway.db.base import Database
    from gateway.settings import Settings
    from gateway.store.admin import Problem

store_app = typer.Typer(
    name="store", help="Raw store: migrate between backends, prune, verify.", no_args_is_help=True
)
app.add_typer(store_app)


@contextmanager
def _db() -> Iterator[tuple[Settings, Database]]:
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    try:
        ensure_schema(db)
        yield settings, db
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        db.dispose()


def _problems(title: str, problems: list[Problem]) -> None:
    table = Table("file id", "sha256", "code", "message", title=title)
    for p in problems:
        table.add_row(str(p.file_id), p.sha256[:16], p.code, p.message, style="red")
    console.print(table)


@store_app.command("migrate")
def migrate_cmd(
    to: Annotated[str, typer.Option("--to", help="Target backend: file|postgres|s3")],
) -> None:
    """Copy every raw file from the configured backend to another, verifying sha256.

    Resumable (progress is recorded per file) and idempotent. Switch GATEWAY_RAW_STORE to the
    target once it reports no problems.
    """
    from gateway.store import BACKENDS, store_from_settings
    from gateway.store.admin import migrate

    if to not in BACKENDS:
        err_console.print(f"[red]--to must be one of {', '.join(BACKENDS)}[/red]")
        raise typer.Exit(EXIT_UNREADABLE)
    with _db() as (settings, db), progress() as bars:
        source = store_from_settings(settings)
        target = store_from_settings(settings, to)
        try:
            report = migrate(db, source, target, progress=bars.task("files migrated"))
        finally:
            source.dispose()
            target.dispose()
    console.print(
        f"{source.location} → {report.target}: copied {report.copied} "
        f"({report.bytes} bytes), already there {report.already_there}, "
        f"done earlier {report.skipped}, problems {len(report.problems)}"
    )
    if report.problems:
        _problems("Not migrated", report.problems)
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)


@store_app.command("prune")
def prune_cmd(
    older_than: Annotated[
        int,
        typer.Option("--older-than", help="Days since a processed file was received and processed"),
    ],
    force: Annotated[
        bool, typer.Option(help="Allow a period shorter than GATEWAY_RAW_RETENTION_DAYS")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="List what would be pruned")] = False,
    actor: Annotated[str | None, typer.Option(help="Who (default $USER)")] = None,
) -> None:
    """Remove raw bytes of processed files past retention; hashes and audit trail stay.

    Failed and not yet processed files are never pruned. Each pruned file gets an audit entry.
    """
    from gateway.audit import current_actor
    from gateway.store import store_from_settings
    from gateway.store.admin import prune

    with _db() as (settings, db), progress() as bars:
        store = store_from_settings(settings)
        try:
            report = prune(
                db,
                store,
                older_than_days=older_than,
                retention_days=settings.raw_retention_days,
                actor=current_actor(actor),
                force=force,
                dry_run=dry_run,
                progress=bars.task("files checked"),
            )
        finally:
            store.dispose()
    verb = "would prune" if dry_run else "pruned"
    console.print(
        f"{verb} {report.pruned} files ({report.bytes} bytes) received before "
        f"{report.cutoff:%Y-%m-%d}"
    )


@store_app.command("verify")
def verify_cmd() -> None:
    """Re-hash every raw file that should be present; exit 1 if any is missing or corrupt."""
    from gateway.store import store_from_settings
    from gateway.store.admin import verify

    with _db() as (settings, db), progress() as bars:
        store = store_from_settings(settings)
        try:
            report = verify(db, store, progress=bars.task("files verified"))
        finally:
            store.dispose()
    console.print(
        f"{store.location}: verified {report.checked} files ({report.bytes} bytes), "
        f"problems {len(report.problems)}"
    )
    if report.problems:
        _problems("Problems", report.problems)
        raise typer.Exit(EXIT_FINDINGS)


@store_app.command("sweep")
def sweep_cmd(
    older_than_hours: Annotated[
        float, typer.Option("--older-than-hours", help="Leftovers at least this old")
    ] = 24.0,
) -> None:
    """Remove leftovers of killed uploads (temp files, staging objects, multipart uploads)."""
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging
    from gateway.store import store_from_settings
    from gateway.store.file import FileRawStore

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        store = store_from_settings(settings)
        if isinstance(store, FileRawStore):
            n = store.sweep_temp(older_than_hours * 3600)
        elif hasattr(store, "sweep_staging"):
            n = store.sweep_staging(older_than_hours * 3600)
        else:  # postgres: an unfinished upload is an uncommitted transaction; nothing remains
            n = 0
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    console.print(f"removed {n} leftovers from {store.location}")
