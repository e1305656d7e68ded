"""``gateway reconcile|credits|variances|exceptions|refund-requests``: credit balances.

JSON output (``--json``) is a single array on stdout, one object per row, with the stable field
names of the reconciliation issue. Exit codes: 0 ok, 2 usage or setup error.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from gateway.cli.app import EXIT_UNREADABLE, app, cli_settings, console, err_console
from gateway.cli.progress import progress

if TYPE_CHECKING:
    from gateway.db.base import Database

Day = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Reconciliation date (default today)"),
]


@contextmanager
def _db() -> Iterator[Database]:
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    try:
        try:
            ensure_schema(db)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
        yield db
    finally:
        db.dispose()


def _emit_json(rows: list[dict[str, Any]]) -> None:
    typer.echo(json.dumps(rows, indent=2))


@app.command()
def reconcile(
    as_of: Day = None,
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
    with _db() as db, progress() as bars:
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
    as_of: Day = None,
) -> None:
    """List credit balances: who is owed what, why, and by when. Government credits first,
    soonest due first; then the rest, soonest due first (undated last)."""
    from gateway.errors import GatewayError
    from gateway.reconcile.queries import list_credits
    from schemas.serialize import money

    with _db() as db, db.read() as s:
        try:
            rows = list_credits(
                s, status=status, due_within=due_within, as_of=as_of.date() if as_of else None
            )
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        _emit_json([r.model_dump(mode="json") for r in rows])
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


variances_app = typer.Typer(
    help="Variances: ledger postings that differ from the 835s, and "
    "billed lines the ledger does not carry."
)
app.add_typer(variances_app, name="variances")


@variances_app.callback(invoke_without_command=True)
def variances(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts")] = False,
    status: Annotated[
        str,
        typer.Option(help="Line variances: active (open + resolved), open, resolved, cleared, all"),
    ] = "active",
) -> None:
    """Posting variances (fix internally) and line variances: ``unposted_line`` (a billed line
    the ledger never charged; its credit waits for your answer) and ``charge_mismatch``."""
    if ctx.invoked_subcommand is not None:  # ``variances resolve``: nothing to load here
        return
    from gateway.errors import GatewayError
    from gateway.reconcile.line_variances import list_line_variances
    from gateway.reconcile.queries import list_variances
    from schemas.serialize import money

    with _db() as db, db.read() as s:
        try:
            lines = list_line_variances(s, status=status)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
        rows = list_variances(s)
    if as_json:
        _emit_json(
            [
                *(r.model_dump(mode="json") for r in rows),
                *(v.model_dump(mode="json") for v in lines),
            ]
        )
        return
    table = Table(
        "account",
        "claim",
        "payer",
        "kind",
        "posted",
        "remitted",
        "difference",
        title="Posting variances",
    )
    total = Decimal(0)
    for r in rows:
        total += r.difference
        table.add_row(
            r.account_id or "",
            r.patient_control_number,
            r.payer_id,
            r.kind,
            money(r.posted),
            money(r.remitted),
            money(r.difference),
        )
    table.add_section()
    table.add_row(f"{len(rows)} variance(s)", "", "", "", "", "", money(total), style="bold")
    console.print(table)
    if not lines:
        return
    table = Table(
        "id",
        "account",
        "claim",
        "payer",
        "kind",
        "lines",
        "charge",
        "paid",
        "status",
        title="Line variances (answer with `gateway variances resolve ID "
        "--as missed|transfer|billed_in_error`)",
    )
    for v in lines:
        what = (
            ", ".join(
                f"{x.procedure or x.revenue_code or '?'} {x.service_date or ''}".strip()
                for x in v.lines
            )
            or v.reason
        )
        table.add_row(
            str(v.id),
            v.account_id or "",
            v.patient_control_number,
            v.payer_id,
            v.kind,
            what,
            money(v.charge),
            money(v.paid),
            v.status + (f" ({v.resolution})" if v.resolution else ""),
        )
    console.print(table)


@variances_app.command("resolve")
def resolve_variance(
    variance_id: Annotated[int, typer.Argument(help="Line variance id (`gateway variances`)")],
    decision: Annotated[
        str,
        typer.Option(
            "--as",
            help="missed (post the charge; the credit goes away), transfer (the charge "
            "sits on another account), billed_in_error (the credit is released for approval)",
        ),
    ],
    note: Annotated[str, typer.Option(help="Why, for the audit trail")] = "",
    actor: Annotated[str | None, typer.Option(help="Who (default: the OS user)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts")] = False,
) -> None:
    """Answer an uncharged line; the next `gateway reconcile` applies it."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.reconcile.line_variances import resolve_line_variance

    with _db() as db:
        try:
            with db.write() as s:
                view = resolve_line_variance(
                    s, variance_id, decision, actor=current_actor(actor), note=note
                )
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        typer.echo(json.dumps(view.model_dump(mode="json"), indent=2))
        return
    console.print(
        f"line variance {view.id} resolved as {view.resolution}; run "
        "`gateway reconcile` to apply it"
    )


@app.command()
def exceptions(
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts")] = False,
    as_of: Day = None,
    stale_days: Annotated[
        int, typer.Option("--stale-days", min=1, help="837 claims with no 835 after this many days")
    ] = 45,
) -> None:
    """Unmatched 835 claims, unanswered 837 claims, payments on accounts with no charges."""
    from gateway.reconcile.queries import list_exceptions
    from schemas.serialize import money

    with _db() as db, db.read() as s:
        rows = list_exceptions(s, as_of=as_of.date() if as_of else None, stale_days=stale_days)
    if as_json:
        _emit_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table(
        "kind", "claim", "account", "payer", "amount", "since", title="Reconciliation exceptions"
    )
    for r in rows:
        table.add_row(
            r.kind,
            r.patient_control_number,
            r.account_id or "",
            r.payer_id or "",
            money(r.amount),
            r.since.isoformat() if r.since else "",
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
    as_of: Day = None,
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
    with _db() as db:
        try:
            results = validate_file(
                db, data, name=path.name, provider=provider, as_of=as_of.date() if as_of else None
            )
        except GatewayError as exc:
            code = getattr(exc, "code", "bad_request_file")
            err_console.print(f"[red]{code}: {exc}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
    if as_json:
        _emit_json([r.to_json() for r in results])
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
