"""``gateway failures`` and ``gateway replay``: the quarantine, and taking files out of it.

``failures`` lists quarantined files with their located reasons (and says when SFTP transfers
failed too); it opens only the database. ``replay`` processes quarantined files again from
their stored bytes, after a mapping or code fix, and reports where each ended up.
Exit codes: 0 all good, 1 something is (still) quarantined, 2 usage or setup error.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    app,
    console,
    err_console,
    gateway_context,
    schema_database,
)
from gateway.cli.progress import progress
from schemas.states import FileState


@app.command()
def failures(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines for scripts")] = False,
    since: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Received on or after this day")
    ] = None,
) -> None:
    """List quarantined files with their reasons."""
    from gateway.ingest.quarantine import failed_files
    from gateway.outbound.receipts import count_transfer_failures

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
    with gateway_context() as c, progress() as bars:
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
                f"{rep.error_code}: {rep.error_message}" if rep.error_code else rep.note,
                style="" if rep.state == FileState.PROCESSED else "red",
            )
    console.print(table)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)
