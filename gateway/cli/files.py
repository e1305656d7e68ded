"""``gateway files show``: one inbound file's detail, as the API and the console show it."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from gateway.cli.app import EXIT_FINDINGS, app, console, err_console, gateway_context

files_app = typer.Typer(
    help="Inbound files: detail, findings, history and 835 resend links.", no_args_is_help=True
)
app.add_typer(files_app, name="files")


@files_app.command("show")
def show(
    file_id: Annotated[int, typer.Argument(help="File id")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """State, error, findings and history of a file; for an 835, the files it re-sends."""
    from sqlalchemy import select

    from gateway.db.models import FileEvent, InboundFile
    from gateway.ingest.replay import resend_links

    with gateway_context() as c, c.db.read() as s:
        f = s.get(InboundFile, file_id)
        if f is None:
            err_console.print(f"[red]file_not_found: no file with id {file_id}[/red]")
            raise typer.Exit(EXIT_FINDINGS)
        links = resend_links(s, file_id)
        events = (
            s.execute(select(FileEvent).where(FileEvent.file_id == file_id).order_by(FileEvent.id))
            .scalars()
            .all()
        )
        states = {
            int(r.id): str(r.state)
            for r in s.execute(
                select(InboundFile.id, InboundFile.state).where(
                    InboundFile.id.in_(links.resend_of + links.resent_by)
                )
            )
        }
    detail: dict[str, Any] = {
        "id": f.id,
        "original_name": f.original_name,
        "kind": f.kind,
        "state": f.state,
        "sha256": f.sha256,
        "size": f.size,
        "source": f.source,
        "received_at": f.received_at.isoformat(),
        "processed_at": f.processed_at.isoformat() if f.processed_at else None,
        "claim_count": f.claim_count,
        "error_code": f.error_code,
        "error_message": f.error_message,
        "error_location": f.error_location,
        "findings": f.findings or [],
        "resend_of": links.resend_of,
        "resent_by": links.resent_by,
        "history": [
            {
                "at": e.at.isoformat(),
                "from_state": e.from_state,
                "to_state": e.to_state,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in events
        ],
    }
    if as_json:
        console.print_json(json.dumps(detail), indent=None)
        return
    console.print(
        f"file {f.id} {escape(f.original_name)} ({f.kind}, {f.size} bytes): "
        f"[bold]{f.state}[/bold], {f.claim_count} claims, from {escape(f.source)}"
    )
    if f.error_code:
        console.print(f"[red]{f.error_code}: {escape(f.error_message or '')}[/red]")
    for label, ids in (("resend of", links.resend_of), ("re-sent by", links.resent_by)):
        if ids:
            console.print(f"{label} file " + ", ".join(f"{i} ({states.get(i, '?')})" for i in ids))
    if f.findings:
        table = Table("severity", "code", "message", title="Findings")
        for x in f.findings:
            table.add_row(
                str(x.get("severity", "")),
                str(x.get("code", "")),
                escape(str(x.get("message", ""))),
            )
        console.print(table)
    table = Table("at", "from", "to", "actor", "reason", title="History")
    for e in events:
        table.add_row(
            e.at.isoformat(timespec="seconds"),
            e.from_state or "",
            e.to_state,
            escape(e.actor),
            escape(e.reason),
        )
    console.print(table)
