"""``gateway partners list|check``, ``gateway poll``, ``gateway deliver``: SFTP partners
(their failures and the outbound queue: ``gateway.cli.transfers``).

Profiles come from ``mappings/partners/`` (or ``--partners-dir`` / ``GATEWAY_PARTNERS_DIR``).
Failure records, the outbound queue and delivery receipts live in the database.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_UNREADABLE,
    app,
    cli_settings,
    console,
    err_console,
    gateway_context,
    schema_database,
)

if TYPE_CHECKING:
    from gateway.intake.pull import PollResult
    from gateway.settings import Settings
    from mappings.partners import PartnerProfile

partners_app = typer.Typer(
    help="SFTP trading partners: list profiles, check connections.", no_args_is_help=True
)
app.add_typer(partners_app, name="partners")

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--partners-dir",
        envvar="GATEWAY_PARTNERS_DIR",
        help="Folder of partner profiles (*.yaml); default mappings/partners.",
    ),
]


def _settings() -> Settings:
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _profiles(directory: Path | None, partner: str | None = None) -> list[PartnerProfile]:
    from mappings.loader import MappingError
    from mappings.partners import load_partners

    try:
        profiles = load_partners(directory)
    except MappingError as exc:
        err_console.print(f"[red]invalid partner profile[/red]\n{exc.message}", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    if partner is None:
        return list(profiles.values())
    if partner not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        err_console.print(f"[red]no partner {partner!r}[/red] (known: {known})", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE)
    return [profiles[partner]]


@partners_app.command("list")
def list_partners(partners_dir: DirOption = None) -> None:
    """Show every partner profile (validating them all)."""
    table = Table(
        "id", "enabled", "name", "role", "server", "inbox", "after pull", "outbound", "acks"
    )
    for p in _profiles(partners_dir):
        table.add_row(
            p.id,
            "yes" if p.enabled else "no",
            p.name,
            p.role,
            f"{p.username}@{p.host}:{p.port}",
            f"{p.inbox_dir or '-'} ({p.filename_pattern})" if p.inbox_dir else "-",
            (f"archive to {p.archive_dir}" if p.after_pull == "archive" else "delete")
            if p.inbox_dir
            else "-",
            p.outbound_dir or "-",
            p.ack_dir if p.send_acks and p.ack_dir else "-",
        )
    console.print(table)


def _check_one(profile: PartnerProfile) -> list[str]:
    """Problems found, in plain words (empty when all is well)."""
    from gateway.errors import GatewayError
    from gateway.sftp import open_sftp, probe

    problems: list[str] = []
    try:
        with open_sftp(profile) as sftp:
            console.print(
                f"[green]{profile.id}[/green]: connected to {profile.host}:"
                f"{profile.port}, host key matches the pinned one, logged in as "
                f"{profile.username}",
                soft_wrap=True,
            )
            for check in probe(sftp, profile):
                if check.ok:
                    console.print(
                        f"  {check.role} {check.path}: ok, {check.detail}", soft_wrap=True
                    )
                else:
                    problems.append(f"{check.role} {check.path}: {check.detail}")
    except GatewayError as exc:
        hint = {
            "host_key_rejected": "the server's host key is not the one pinned in the profile; "
            "do not connect until the partner confirms the new key",
            "auth_failed": "the server refused our username/key or password",
            "sftp_transient": "the server could not be reached or dropped the connection",
            "config_error": "the profile's credentials are not usable",
        }.get(exc.code, exc.code)
        problems.append(f"{hint} ({exc.message})")
    return problems


@partners_app.command("check")
def check(
    partner: Annotated[str | None, typer.Argument(help="Partner id; all if omitted")] = None,
    partners_dir: DirOption = None,
) -> None:
    """Connect, verify the pinned host key, list the folders and report problems."""
    _settings()
    bad = 0
    for profile in _profiles(partners_dir, partner):
        problems = _check_one(profile)
        for problem in problems:
            err_console.print(f"[red]{profile.id}: {problem}[/red]", soft_wrap=True)
        bad += bool(problems)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)


def _print_result(result: PollResult) -> None:
    dup = sum(p.duplicate for p in result.pulled)
    line = (
        f"{result.partner_id}: pulled {len(result.pulled)} file(s) ({dup} already known), "
        f"{len(result.pending)} still being written, {len(result.failures)} failure(s)"
    )
    (console if result.ok else err_console).print(
        line + (f", ended with {result.error}" if result.error else "")
    )
    for f in result.failures:
        err_console.print(
            f"  {f.operation} {f.remote_path or ''}: {f.code}: {f.reason}", soft_wrap=True
        )


@app.command()
def poll(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
    once: Annotated[bool, typer.Option("--once", help="One poll each, then exit")] = False,
    partners_dir: DirOption = None,
) -> None:
    """Pull new files from clearinghouse inboxes into the ingest pipeline (no processing:
    ``gateway worker`` or ``gateway run`` process them and send acknowledgments)."""
    from gateway.intake.poller import PartnerPoller
    from gateway.outbound.acks import AckRequests
    from gateway.outbound.receipts import DbFailureLog
    from gateway.partners import make_acceptor

    settings = _settings()
    profiles = [
        p
        for p in _profiles(partners_dir, partner)
        if p.inbox_dir is not None and (p.enabled or partner is not None)
    ]
    if not profiles:
        err_console.print("[red]no enabled partner with an inbox_dir to poll[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE)
    with gateway_context(settings) as gw:
        db, store = gw.db, gw.store
        poller = PartnerPoller(
            profiles,
            make_acceptor(db, store, settings),
            failures=DbFailureLog(db),
            on_accepted=AckRequests(db),
            on_result=None if once else _print_result,
        )
        if once:
            results = poller.poll_once()
            for result in results:
                _print_result(result)
            raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FINDINGS)

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            poller.stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        poller.start()
        poller.stop.wait()
        poller.shutdown()


@app.command()
def deliver(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Local files to queue and deliver (none: drain the queue)"),
    ] = None,
    partner: Annotated[
        str | None,
        typer.Option("--partner", help="Partner id (required when several have an outbound_dir)"),
    ] = None,
    queue_only: Annotated[
        bool, typer.Option("--queue", help="Only queue; `gateway run`/`worker` deliver them")
    ] = False,
    partners_dir: DirOption = None,
) -> None:
    """Queue files for a partner's outbound folder and deliver the queue, once each.

    Receipts in the database make a second run a no-op for files already delivered.
    """
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.outbound.enqueue import enqueue_path, outbound_store
    from gateway.outbound.queue import drain

    settings = _settings()
    every = {p.id: p for p in _profiles(partners_dir)}
    with schema_database(settings) as (_, db):  # outbound files only: no raw store
        out_store = outbound_store(settings.data_dir)
        ids: list[int] | None = None
        failed = 0
        if files:
            candidates = [p for p in _profiles(partners_dir, partner) if p.outbound_dir]
            if len(candidates) != 1:
                names = ", ".join(p.id for p in candidates) or "none"
                err_console.print(
                    f"[red]choose one partner with --partner (with an outbound_dir: {names})[/red]",
                    soft_wrap=True,
                )
                raise typer.Exit(EXIT_UNREADABLE)
            profile = candidates[0]
            ids = []
            for path in files:
                try:
                    queued = enqueue_path(db, out_store, profile, path)
                except GatewayError as exc:
                    failed += 1
                    err_console.print(
                        f"[red]{path}: not queued: {exc.code}: {exc.message}[/red]", soft_wrap=True
                    )
                    continue
                ids.append(queued.id)
                if queued.state == "delivered":
                    console.print(
                        f"{path}: already delivered to {profile.id}:{queued.remote_path}",
                        soft_wrap=True,
                    )
                elif queue_only:
                    console.print(
                        f"{path}: queued for {profile.id}:{queued.remote_path} (#{queued.id})",
                        soft_wrap=True,
                    )
        if queue_only:
            raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)
        targets = {
            pid: p
            for pid, p in every.items()
            if p.enabled or (partner is not None and pid == partner)
        }
        result = drain(db, out_store, targets, owner=f"cli:{current_actor(None)}", only_ids=ids)
    for d in result.delivered:
        r = d.receipt
        state = "already delivered" if d.already_delivered else "delivered"
        console.print(
            f"{r.remote_path}: {state} to {r.partner_id} ({r.size} bytes, sha256 "
            f"{r.sha256[:12]}…, {r.delivered_at:%Y-%m-%d %H:%M:%S}Z)",
            soft_wrap=True,
        )
    for row_id in result.retrying:
        err_console.print(f"[yellow]#{row_id}: not delivered yet; queued for a retry[/yellow]")
    for row_id, code, message in result.failed:
        err_console.print(f"[red]#{row_id}: not delivered: {code}: {message}[/red]", soft_wrap=True)
    bad = failed + len(result.failed) + len(result.retrying)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)
