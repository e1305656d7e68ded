"""What ``gateway cases|batches|report`` share: the three groups and their options, the database
they open and how they fail.

The commands live in ``cases``, ``batches`` and ``reports`` (the KPI reports: ``reports_kpi``).
Cases are named by the credit's id (the ``id`` of ``gateway credits --json``). Every change
takes ``--reason`` and is audited under ``--actor`` (default $USER). Exit codes: 0 ok,
1 a warning that needs attention (overdue government credits, groups that could not be
issued, undelivered files), 2 usage, setup or refused action.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.app import EXIT_UNREADABLE, app, err_console, schema_database

if TYPE_CHECKING:
    from gateway.db.base import Database
    from gateway.settings import Settings
    from mappings.payers import PayerDirectory

cases_app = typer.Typer(
    help="Credit-balance cases: approve, dispute, resolve, investigate.", no_args_is_help=True
)
batches_app = typer.Typer(
    help="Refund, offset, patient-refund and dispute batches.", no_args_is_help=True
)
report_app = typer.Typer(
    help="CMS-838, root-cause/aging and escheat reports.", no_args_is_help=True
)
app.add_typer(cases_app, name="cases")
app.add_typer(batches_app, name="batches")
app.add_typer(report_app, name="report")

Day = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Working date (default today)"),
]
Reason = Annotated[str, typer.Option("--reason", help="Why (required; audited)")]
Actor = Annotated[str | None, typer.Option(help="Who (default $USER)")]
Payers = Annotated[
    Path | None, typer.Option(help="Payer profile folder (default: the shipped mappings/payers)")
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON for scripts")]


def _fail(exc: Exception) -> typer.Exit:
    code = getattr(exc, "code", type(exc).__name__)
    message = getattr(exc, "message", str(exc))
    err_console.print(f"[red]{code}: {message}[/red]")
    return typer.Exit(EXIT_UNREADABLE)


@contextmanager
def _db() -> Iterator[tuple[Database, Settings]]:
    """``schema_database`` in the (database, settings) order these commands unpack."""
    with schema_database() as (settings, db):
        yield db, settings


def _payers(folder: Path | None) -> PayerDirectory:
    from mappings.loader import MappingError
    from mappings.payers import default_directory, load_directory

    try:
        return load_directory(folder) if folder else default_directory()
    except MappingError as exc:
        raise _fail(exc) from None


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))
