"""``gateway reconcile|credits|refund-requests``: credit balances (variances and exceptions:
``gateway.cli.variances``).

JSON output (``--json``) is a single array on stdout, one object per row, with the stable field
names of the reconciliation issue. Exit codes: 0 ok, 2 usage or setup error.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_UNREADABLE,
    AsOf,
    app,
    cli_settings,
    console,
    emit_json,
    err_console,
    schema_database,
)
from gateway.cli.progress import progress

if TYPE_CHECKING:
    pass


@app.command()
def reconcile(
    as_of: AsOf = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute every claim")] = False,
    payers: Annotated[
        Path | None,
        typer.Option(help="Payer profile folder (default: the shipped mappings/payers)"),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who (default $USER)")] = None,
    backdate: Annotated[
        bool,
        typer.Option(
            "--backdate",
            help="Allow an --as-of before the last run's: credits that depend on "
            "the date (ledger lag, hold windows, replacement holds) go back to waiting",
        ),
    ] = False,
) -> None:
    """Find credit balances (incrementally: only claims touched since the last run)."""
    from gateway.audit import current_actor
    from gateway.reconcile.queries import latest_as_of
    from gateway.reconcile.service import ReconcileBusyError, run_reconcile
    from mappings.loader import MappingError
    from mappings.payers import default_directory, load_directory

    try:
        directory = load_directory(payers) if payers else default_directory()
    except MappingError as exc:
        err_console.print(f"[red]{exc.code}: {exc}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    with schema_database() as (_, db), progress() as bars:
        day = as_of.date() if as_of else dt.date.today()
        with db.read() as s:
            last = latest_as_of(s)
        if last is not None and day < last and not backdate:
            err_console.print(
                f"[red]backdated_reconcile: --as-of {day} is before the last run's date "
                f"{last}; credits that depend on the date would go back to waiting. Pass "
                "--backdate to do it anyway.[/red]"
            )
            raise typer.Exit(EXIT_UNREADABLE)
        try:
            res = run_reconcile(
                db,
                as_of=day,
                full=full,
                actor=current_actor(actor),
                payers=directory,
                batch_claims=cli_settings().reconcile_batch_claims,
                progress=bars.task("claims reconciled"),
            )
        except ReconcileBusyError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    table = Table(
        "run",
        "as of",
        "mode",
        "files",
        "candidates",
        "new",
        "resolved",
        "open",
        "pending",
        "variances",
        "seconds",
        title="Reconciliation",
    )
    table.add_row(
        str(res.run_id),
        res.as_of.isoformat(),
        res.mode + (f" ({res.reason})" if res.reason else ""),
        str(res.files),
        str(res.candidates),
        str(res.credits_new),
        str(res.credits_resolved),
        str(res.credits_open),
        str(res.credits_pending),
        str(res.variances),
        f"{res.seconds:.2f}",
    )
    console.print(table)


@app.command()
def credits(
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts")] = False,
    status: Annotated[
        str, typer.Option(help="active (pending+open) | open | pending | resolved | all")
    ] = "active",
    due_within: Annotated[
        int | None,
        typer.Option(
            "--due-within", min=0, help="Only credits due within N days (overdue included)"
        ),
    ] = None,
    as_of: AsOf = None,
) -> None:
    """List credit balances: who is owed what, why, and by when. Government credits first,
    soonest due first; then the rest, soonest due first (undated last)."""
    from gateway.errors import GatewayError
    from gateway.reconcile.queries import list_credits
    from schemas.serialize import money

    with schema_database() as (_, db), db.read() as s:
        try:
            rows = list_credits(
                s, status=status, due_within=due_within, as_of=as_of.date() if as_of else None
            )
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table(
        "account",
        "claim",
        "owed to",
        "payer",
        "amount",
        "cause",
        "gov",
        "identified",
        "due by",
        "status",
        title=f"Credit balances ({status})",
    )
    total = Decimal(0)
    for r in rows:
        total += r.amount
        table.add_row(
            r.account_id or "",
            r.patient_control_number,
            r.owed_to,
            r.payer_id or "",
            money(r.amount),
            r.cause,
            "yes" if r.government else "",
            r.identified_on.isoformat(),
            r.due_by.isoformat() if r.due_by else "",
            r.status + (f" ({r.resolution})" if r.resolution else ""),
        )
    table.add_section()
    table.add_row(
        f"{len(rows)} credit(s)", "", "", "", money(total), "", "", "", "", "", style="bold"
    )
    console.print(table)


refund_requests = typer.Typer(help="Payers' solicited refund requests.", no_args_is_help=True)
app.add_typer(refund_requests, name="refund-requests")


@refund_requests.command("validate")
def validate_requests(
    path: Annotated[Path, typer.Argument(help="Refund request file (CSV or JSON)")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts")] = False,
    provider: Annotated[
        str | None,
        typer.Option(help="Whose requests: NPI, TIN or provider id (default: the only one)"),
    ] = None,
    as_of: AsOf = None,
) -> None:
    """Check each request against our credits: valid, partially_valid or invalid (why)."""
    from gateway.errors import GatewayError
    from gateway.reconcile.refunds import validate_file
    from schemas.serialize import money

    try:
        data = path.read_bytes()
    except OSError as exc:
        err_console.print(f"[red]unreadable: {path}: {exc.strerror}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    with schema_database() as (_, db):
        try:
            results = validate_file(
                db, data, name=path.name, provider=provider, as_of=as_of.date() if as_of else None
            )
        except GatewayError as exc:
            code = getattr(exc, "code", "bad_request_file")
            err_console.print(f"[red]{code}: {exc}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        emit_json([r.to_json() for r in results])
        return
    table = Table(
        "line",
        "payer",
        "claim",
        "requested",
        "valid",
        "verdict",
        "reason",
        title=f"Refund requests in {path.name}",
    )
    for r in results:
        table.add_row(
            str(r.line),
            r.payer_id,
            r.patient_control_number,
            money(r.amount),
            money(r.valid_amount),
            r.verdict,
            r.reason or "",
        )
    console.print(table)
