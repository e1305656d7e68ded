"""``gateway transfers failures|resolve|queue|retry``: what went wrong with SFTP transfers.

Failed polls and deliveries are recorded in the database with their partner, operation and
reason; ops resolve them once the cause is fixed. The outbound queue lists every file waiting
for (or done with) delivery, and failed deliveries can be put back in it. None of these read
raw files, so they open only the database.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.app import EXIT_FINDINGS, EXIT_OK, app, console, schema_database
from schemas.states import OutboundState

transfers_app = typer.Typer(
    help="SFTP transfers: failures, the outbound queue.", no_args_is_help=True
)
app.add_typer(transfers_app, name="transfers")


@transfers_app.command("failures")
def transfer_failures_cmd(
    all_: Annotated[bool, typer.Option("--all", help="Include resolved ones")] = False,
    partner: Annotated[str | None, typer.Option("--partner")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines for scripts")] = False,
) -> None:
    """List SFTP transfer failures (unresolved unless --all); exit 1 when any is unresolved."""
    from gateway.outbound.receipts import transfer_failures

    with schema_database() as (_, db):
        rows = transfer_failures(db, include_resolved=all_, partner_id=partner)
    if as_json:
        for f in rows:
            console.print_json(
                json.dumps(
                    {
                        "id": f.id,
                        "partner": f.partner_id,
                        "direction": f.direction,
                        "operation": f.operation,
                        "code": f.error_code,
                        "message": f.message,
                        "remote_path": f.remote_path,
                        "at": f.at.isoformat(),
                        "resolved": f.resolved,
                    }
                ),
                indent=None,
            )
    else:
        table = Table(
            "id",
            "at",
            "partner",
            "direction",
            "operation",
            "code",
            "message",
            "remote path",
            "resolved",
            title=f"Transfer failures ({len(rows)})",
        )
        for f in rows:
            table.add_row(
                str(f.id),
                f.at.strftime("%Y-%m-%d %H:%M:%S"),
                f.partner_id,
                f.direction,
                f.operation,
                f.error_code,
                f.message,
                f.remote_path or "",
                "yes" if f.resolved else "no",
                style="" if f.resolved else "red",
            )
        console.print(table)
    raise typer.Exit(EXIT_FINDINGS if any(not f.resolved for f in rows) else EXIT_OK)


@transfers_app.command("resolve")
def resolve_cmd(ids: Annotated[list[int], typer.Argument(help="Failure ids")]) -> None:
    """Mark transfer failures resolved (after fixing their cause)."""
    from gateway.outbound.receipts import resolve_failures

    with schema_database() as (_, db):
        n = resolve_failures(db, ids)
    console.print(f"resolved {n} failure(s)")


@transfers_app.command("queue")
def queue_cmd(
    state: Annotated[
        list[str] | None,
        typer.Option("--state", help="queued|delivering|delivered|failed (repeatable)"),
    ] = None,
    partner: Annotated[str | None, typer.Option("--partner")] = None,
) -> None:
    """Show the outbound queue."""
    from gateway.outbound.queue import queue_rows

    with schema_database() as (_, db):
        rows = queue_rows(db, states=state, partner_id=partner)
    table = Table(
        "id",
        "partner",
        "kind",
        "remote path",
        "bytes",
        "state",
        "attempts",
        "next attempt",
        "last error",
        title=f"Outbound queue ({len(rows)})",
    )
    for r in rows:
        table.add_row(
            str(r.id),
            r.partner_id,
            r.kind,
            f"{r.remote_dir}/{r.remote_name}",
            str(r.size),
            r.state,
            str(r.attempts),
            r.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") if r.state == "queued" else "",
            f"{r.last_error_code}: {r.last_error_message}" if r.last_error_code else "",
            style="red" if r.state == OutboundState.FAILED else "",
        )
    console.print(table)


@transfers_app.command("retry")
def retry_cmd(ids: Annotated[list[int], typer.Argument(help="Outbound queue ids")]) -> None:
    """Put failed deliveries back in the queue."""
    from gateway.outbound.queue import requeue_failed

    with schema_database() as (_, db):
        n = requeue_failed(db, ids)
    console.print(f"re-queued {n} file(s)")
