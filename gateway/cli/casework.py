"""``gateway cases assign|note|notes|bulk``: working cases by person, through the same service
as the API and the console (``gateway.resolve.casework``). The CLI acts gateway-wide (it is an
operator's shell on the server) with the operator's role; ``--actor`` names who did it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from gateway.cli.app import EXIT_FINDINGS, console, err_console
from gateway.cli.resolution import Actor, Payers, _db, _fail, _payers, cases_app


@cases_app.command("assign")
def cases_assign(
    credit_id: int,
    user: Annotated[
        str | None, typer.Argument(help="Username to assign (omit with --unassign)")
    ] = None,
    unassign: Annotated[bool, typer.Option("--unassign", help="Clear the assignee")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why (audited)")] = "",
    actor: Actor = None,
) -> None:
    """Assign a case to a named user (an active analyst/ops/admin of the case's provider or a
    gateway-wide one), or --unassign it; audited."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError, InputError
    from gateway.resolve import casework
    from gateway.resolve.case_sync import sync_cases

    if bool(user) == unassign:
        raise _fail(InputError("name a user or give --unassign", code="bad_assignee"))
    with _db() as (db, _):
        try:
            with db.write() as s:
                sync_cases(s)
                name = casework.assign(
                    s, credit_id, user, actor=current_actor(actor), scope=None, reason=reason
                )
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(f"credit {credit_id}: assigned to {name or 'nobody'}")


@cases_app.command("note")
def cases_note(
    credit_id: int,
    text: Annotated[str, typer.Argument(help="The note (free text; never logged)")],
    actor: Actor = None,
) -> None:
    """Add a note to a case (author: --actor or $USER; the text is sealed at rest)."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.resolve import casework

    with _db() as (db, _):
        try:
            with db.write() as s:
                note = casework.add_note(s, credit_id, text, actor=current_actor(actor), scope=None)
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(f"credit {credit_id}: note {note.id} added")


@cases_app.command("bulk")
def cases_bulk(
    action: Annotated[str, typer.Argument(help="assign | approve | investigate | batch")],
    credit_ids: Annotated[list[int], typer.Argument(help="Credit ids of the cases")],
    reason: Annotated[str, typer.Option("--reason", help="Why (audited; assign needs none)")] = "",
    assignee: Annotated[str | None, typer.Option(help="assign: the username")] = None,
    opened: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="investigate: start (default today)"),
    ] = None,
    actor: Actor = None,
    payers: Payers = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """One action on many cases, with a result per case; exits 1 when any was refused."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError, InputError
    from gateway.resolve import bulk_actions, casework
    from gateway.resolve.case_sync import sync_cases
    from gateway.resolve.documents import Sources
    from gateway.security.roles import Role
    from gateway.settings import x12_limits
    from gateway.store import store_from_settings

    if action not in casework.BulkAction.__members__.values():
        raise _fail(InputError(f"unknown action {action!r}", code="bad_action"))
    directory = _payers(payers)
    with _db() as (db, settings):
        try:
            sources = Sources(store=store_from_settings(settings), limits=x12_limits(settings))
            with db.write() as s:
                sync_cases(s)
                res = bulk_actions.bulk(
                    s,
                    action,
                    credit_ids,
                    actor=current_actor(actor),
                    role=Role.OPS,  # the server's shell operates
                    scope=None,
                    reason=reason,
                    assignee=assignee,
                    payers=directory,
                    opened_on=opened.date() if opened else None,
                    sources=sources,
                )
        except GatewayError as exc:
            raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(res.model_dump(mode="json"), indent=2))
    else:
        for item in res.items:
            if item.ok:
                extra = f" (batch {item.batch_id})" if item.batch_id else ""
                state = item.state.value if item.state else ""
                console.print(f"credit {item.credit_id}: done, {state}{extra}")
            else:
                err_console.print(
                    f"credit {item.credit_id}: refused: {item.code}: {item.message}",
                    markup=False,
                )
        console.print(f"{res.done} done, {res.refused} refused")
    if res.refused:
        raise typer.Exit(EXIT_FINDINGS)


__all__: list[str] = []
