"""``gateway variances|exceptions``: what reconciliation could not settle by itself.

Posting variances (the ledger's payer postings differ from the 835s: fix them in the ledger),
line variances (a billed line the ledger never charged: an analyst answers each with
``variances resolve``) and the exception reports (unmatched 835 claims, unanswered 837s,
payments on accounts with no charges). ``--json`` prints one array with the stable field names.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_UNREADABLE,
    AsOf,
    app,
    console,
    emit_json,
    err_console,
    schema_database,
)

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

    with schema_database() as (_, db), db.read() as s:
        try:
            lines = list_line_variances(s, status=status)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
        rows = list_variances(s)
    if as_json:
        emit_json(
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

    with schema_database() as (_, db):
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
    as_of: AsOf = None,
    stale_days: Annotated[
        int, typer.Option("--stale-days", min=1, help="837 claims with no 835 after this many days")
    ] = 45,
) -> None:
    """Unmatched 835 claims, unanswered 837 claims, payments on accounts with no charges."""
    from gateway.reconcile.queries import list_exceptions
    from schemas.serialize import money

    with schema_database() as (_, db), db.read() as s:
        rows = list_exceptions(s, as_of=as_of.date() if as_of else None, stale_days=stale_days)
    if as_json:
        emit_json([r.model_dump(mode="json") for r in rows])
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
