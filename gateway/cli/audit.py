"""``gateway audit verify|list``: check the audit log's hash chain and read it.

``verify`` exits 0 when every entry links to the one before and matches its hash, 1 at the
first deleted, edited, reordered or foreign entry (named by seq and id), 2 when the database
cannot be read. It prints the chain head (seq and hash): record it outside the database and
pass it back with ``--anchor SEQ:HASH`` to also catch deletion of the newest entries.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gateway.cli.app import EXIT_FINDINGS, EXIT_UNREADABLE, app, cli_settings, console, err_console

if TYPE_CHECKING:
    from gateway.db.base import Database

audit_app = typer.Typer(
    help="The audit log: verify its hash chain, list entries.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


def _db() -> Database:
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    ensure_schema(db)
    return db


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise typer.BadParameter("expected SEQ:SHA256HEX, as printed by `gateway audit verify`")
    return int(seq), digest


@audit_app.command("verify")
def verify_cmd(
    anchor: Annotated[
        str | None, typer.Option(help="SEQ:HASH of an earlier head that must still be in the chain")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Walk the hash chain; exit 1 at the first broken entry."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.audit import verify_chain
    from gateway.errors import GatewayError

    expected = _anchor(anchor)
    try:
        db = _db()
    except GatewayError as exc:
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    try:
        with db.read() as s:
            report = verify_chain(s, expected)
    except SQLAlchemyError as exc:
        err_console.print(f"[red]cannot read the audit log: {type(exc).__name__}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        db.dispose()
    out: dict[str, Any] = {
        "ok": report.ok,
        "entries": report.entries,
        "head": f"{report.head_seq}:{report.head_hash}",
        "broken": None,
    }
    if report.broken is not None:
        b = report.broken
        out["broken"] = {"seq": b.seq, "id": b.id, "kind": b.kind, "reason": b.reason}
    if as_json:
        console.print_json(json.dumps(out))
    elif report.broken is None:
        console.print(f"audit chain intact: {report.entries} entries, head {out['head']}")
    else:
        b = report.broken
        err_console.print(
            f"[red]audit chain broken at seq {b.seq}"
            f"{f' (id {b.id})' if b.id is not None else ''}: {b.kind}: "
            f"{b.reason}[/red]"
        )
        console.print(f"last good head: {out['head']}")
    if not report.ok:
        raise typer.Exit(EXIT_FINDINGS)


@audit_app.command("list")
def list_cmd(
    limit: Annotated[int, typer.Option(min=1, help="Newest N entries")] = 50,
    file_id: Annotated[int | None, typer.Option(help="Only entries about this file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print entries as JSON")] = False,
) -> None:
    """The newest audit entries, oldest first."""
    from sqlalchemy import select

    from gateway.db.models import AuditEntry

    db = _db()
    try:
        with db.read() as s:
            q = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            if file_id is not None:
                q = q.where(AuditEntry.file_id == file_id)
            rows = list(reversed(s.execute(q).scalars().all()))
    finally:
        db.dispose()
    entries = [
        {
            "seq": e.seq,
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "file_id": e.file_id,
            "outcome": e.outcome,
            "reason": e.reason,
            "details": e.details,
            "hash": e.row_hash,
        }
        for e in rows
    ]
    if as_json:
        console.print_json(json.dumps(entries))
        return
    for e in entries:
        console.print(
            f"{e['seq']:>6}  {e['at']}  {e['actor']:<16} {e['action']:<24} "
            f"{e['outcome']:<12} file={e['file_id'] or '-'}  {e['reason']}",
            markup=False,
        )
