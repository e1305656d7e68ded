"""``gateway webhooks``: subscriptions, the delivery log, replay, sending and the deadline scan.

``add`` prints the signing secret on its LAST line, alone (``tail -n1``); it is shown once.
``deliver`` sends what is due (the worker does too, whenever it is idle); ``scan`` queues
``credit.deadline`` events (run it daily, e.g. from cron).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.app import EXIT_UNREADABLE, app, cli_settings, console, err_console

hooks_app = typer.Typer(
    help="Outbound webhooks: subscriptions, delivery log, replay.", no_args_is_help=True
)
app.add_typer(hooks_app, name="webhooks")
ActorOpt = Annotated[str | None, typer.Option(help="Who is doing this (default $USER)")]


def _fail(code: str, message: str) -> typer.Exit:
    err_console.print(f"[red]{code}: {message}[/red]")
    return typer.Exit(EXIT_UNREADABLE)


@hooks_app.command("add")
def add_cmd(
    url: Annotated[str, typer.Argument(help="http(s) URL the events are POSTed to")],
    provider: Annotated[str, typer.Option(help="The provider (NPI, npi:NPI or tin:TIN)")],
    event: Annotated[
        list[str],
        typer.Option(
            help="file.quarantined | credit.identified | credit.deadline | batch.delivered "
            "(repeat for several)"
        ),
    ],
    actor: ActorOpt = None,
) -> None:
    """Subscribe a URL; prints the signing secret (last line, shown once)."""
    from gateway.audit import current_actor
    from gateway.cli.keys import _db
    from gateway.errors import GatewayError
    from gateway.webhooks.service import subscribe

    settings = cli_settings()
    db = _db()[0]
    try:
        with db.write() as s:
            view, secret = subscribe(
                s,
                provider=provider,
                url=url,
                events=event,
                actor=current_actor(actor),
                allow_private=settings.webhook_allow_private_urls,
            )
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    console.print(
        f"subscription {view.id} for {view.provider}: {', '.join(view.events)}; "
        "store the signing secret now, it is not shown again:"
    )
    print(secret, flush=True)


@hooks_app.command("list")
def list_cmd() -> None:
    """Every subscription (never its secret)."""
    from gateway.cli.keys import _db
    from gateway.webhooks.service import list_subscriptions

    db = _db()[0]
    try:
        with db.read() as s:
            rows = list_subscriptions(s, None)
    finally:
        db.dispose()
    table = Table("id", "provider", "url", "events", "state", title=f"Webhooks ({len(rows)})")
    for v in rows:
        table.add_row(
            str(v.id),
            v.provider,
            v.url,
            ",".join(v.events),
            "active" if v.active else "disabled",
        )
    console.print(table)


@hooks_app.command("disable")
def disable_cmd(
    subscription: Annotated[int, typer.Argument(help="Subscription id")],
    actor: ActorOpt = None,
) -> None:
    """Disable a subscription: no new deliveries are queued for it."""
    from gateway.audit import current_actor
    from gateway.cli.keys import _db
    from gateway.errors import GatewayError
    from gateway.webhooks.service import disable

    db = _db()[0]
    try:
        with db.write() as s:
            view = disable(s, subscription, provider=None, actor=current_actor(actor))
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    console.print(f"disabled subscription {view.id}")


@hooks_app.command("deliveries")
def deliveries_cmd(
    subscription: Annotated[int | None, typer.Option(help="Only this subscription")] = None,
    state: Annotated[str | None, typer.Option(help="queued|delivering|delivered|failed")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document")] = False,
) -> None:
    """The delivery log, newest first: state, attempts, last status."""
    from gateway.cli.keys import _db
    from gateway.webhooks.service import list_deliveries

    db = _db()[0]
    try:
        with db.read() as s:
            rows = list_deliveries(s, None, subscription_id=subscription, state=state)
    finally:
        db.dispose()
    if as_json:
        print(json.dumps([_d(r) for r in rows], indent=2))
        return
    table = Table("id", "sub", "event", "state", "attempts", "status", "error", "replay of")
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.subscription_id),
            r.event,
            r.state,
            str(r.attempts),
            str(r.last_status or ""),
            r.last_error or "",
            str(r.replay_of or ""),
        )
    console.print(table)


def _d(view: object) -> dict[str, object]:
    return {name: getattr(view, name) for name in view.__slots__}  # type: ignore[attr-defined]


@hooks_app.command("replay")
def replay_cmd(
    delivery: Annotated[int, typer.Argument(help="Delivery id (from `webhooks deliveries`)")],
    actor: ActorOpt = None,
) -> None:
    """Queue a delivery's event again (same event id and payload)."""
    from gateway.audit import current_actor
    from gateway.cli.keys import _db
    from gateway.errors import GatewayError
    from gateway.webhooks.service import replay

    db = _db()[0]
    try:
        with db.write() as s:
            view = replay(s, delivery, provider=None, actor=current_actor(actor))
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    console.print(f"queued delivery {view.id} (replay of {delivery})")


@hooks_app.command("deliver")
def deliver_cmd() -> None:
    """Send every due delivery now; exit 1 when any failed."""
    from gateway.cli.keys import _db
    from gateway.ingest.queue import worker_id
    from gateway.webhooks.deliver import drain

    settings = cli_settings()
    db = _db()[0]
    try:
        result = drain(db, settings, owner=worker_id())
    finally:
        db.dispose()
    console.print(f"delivered {len(result.delivered)}, failed {len(result.failed)}")
    if result.failed:
        raise typer.Exit(1)


@hooks_app.command("scan")
def scan_cmd(
    days: Annotated[int, typer.Option(min=0, max=365, help="Due within this many days")] = 14,
) -> None:
    """Queue ``credit.deadline`` for unresolved credits due within DAYS (once per credit)."""
    from gateway.cli.keys import _db
    from gateway.webhooks.events import scan_deadlines

    db = _db()[0]
    try:
        with db.write() as s:
            queued = scan_deadlines(s, within_days=days)
    finally:
        db.dispose()
    console.print(f"queued {queued} credit.deadline deliveries")
