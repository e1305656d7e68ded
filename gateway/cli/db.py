"""``gateway db upgrade|current|check``: schema migrations and the orphan check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from gateway.cli.app import app, cli_settings, console, err_console

if TYPE_CHECKING:
    from gateway.db.base import Database

db_app = typer.Typer(help="Database schema migrations and integrity checks.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _db() -> Database:
    from gateway.db.base import Database
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    return Database.from_settings(settings)


@db_app.command("upgrade")
def upgrade_cmd() -> None:
    """Upgrade the database schema to the latest revision."""
    from gateway.db.migrate import current_revision, upgrade

    db = _db()
    try:
        upgrade(db)
        console.print(f"schema at revision {current_revision(db)} ({db.dialect})")
    except Exception as exc:  # noqa: BLE001 - any failure of a migration is exit 2 with its cause
        err_console.print(f"[red]upgrade failed: {type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        db.dispose()


@db_app.command("current")
def current_cmd() -> None:
    """Print the schema revision of the database and the latest one shipped."""
    from gateway.db.migrate import current_revision, head_revision

    db = _db()
    try:
        console.print(f"database: {current_revision(db) or '(empty)'}  latest: {head_revision()}")
    finally:
        db.dispose()


@db_app.command("check")
def check_cmd() -> None:
    """Check that every claim, line and adjustment row still has its parent rows.

    Those bulk rows carry no foreign-key constraints (they would triple the load time of a
    large file), so this is how ops prove the data is whole. Exit status 1 if anything is
    orphaned.
    """
    from gateway.db.integrity import RELATIONS, find_orphans

    db = _db()
    try:
        with db.read() as s:
            orphans = find_orphans(s)
    finally:
        db.dispose()
    for o in orphans:
        err_console.print(f"[red]{o}[/red]")
    if orphans:
        raise typer.Exit(1)
    console.print(f"all {len(RELATIONS)} unconstrained references resolve")
