"""``gateway partners list|check``, ``gateway poll`` and ``gateway deliver``: SFTP partners.

Profiles come from ``mappings/partners/`` (or ``--partners-dir`` / ``GATEWAY_PARTNERS_DIR``).
Failure records and delivery receipts are JSON lines under the data folder until the database
ledger replaces them.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.app import EXIT_FINDINGS, EXIT_OK, EXIT_UNREADABLE, app, console, err_console
from gateway.errors import GatewayError
from gateway.intake.sftp import (
    Acceptor,
    JsonlFailureLog,
    PollResult,
    open_sftp,
    probe,
    report_failure,
)
from gateway.logging import configure_logging
from gateway.settings import Settings, get_settings
from mappings.partners import PartnerConfigError, PartnerProfile, load_partners

partners_app = typer.Typer(help="SFTP trading partners: list profiles, check connections.",
                           no_args_is_help=True)
app.add_typer(partners_app, name="partners")

DirOption = Annotated[
    Path | None,
    typer.Option("--partners-dir", envvar="GATEWAY_PARTNERS_DIR",
                 help="Folder of partner profiles (*.yaml); default mappings/partners."),
]


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _profiles(directory: Path | None, partner: str | None = None) -> list[PartnerProfile]:
    try:
        profiles = load_partners(directory)
    except PartnerConfigError as exc:
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
    table = Table("id", "name", "role", "server", "inbox", "after pull", "outbound", "acks")
    for p in _profiles(partners_dir):
        table.add_row(p.id, p.name, p.role, f"{p.username}@{p.host}:{p.port}",
                      f"{p.inbox_dir or '-'} ({p.filename_pattern})" if p.inbox_dir else "-",
                      (f"archive to {p.archive_dir}" if p.after_pull == "archive" else "delete")
                      if p.inbox_dir else "-",
                      p.outbound_dir or "-", p.ack_dir if p.send_acks and p.ack_dir else "-")
    console.print(table)


def _check_one(profile: PartnerProfile) -> list[str]:
    """Problems found, in plain words (empty when all is well)."""
    problems: list[str] = []
    try:
        with open_sftp(profile) as sftp:
            console.print(f"[green]{profile.id}[/green]: connected to {profile.host}:"
                          f"{profile.port}, host key matches the pinned one, logged in as "
                          f"{profile.username}", soft_wrap=True)
            for check in probe(sftp, profile):
                if check.ok:
                    console.print(f"  {check.role} {check.path}: ok, {check.detail}",
                                  soft_wrap=True)
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
def check(partner: Annotated[str | None, typer.Argument(help="Partner id; all if omitted")] = None,
          partners_dir: DirOption = None) -> None:
    """Connect, verify the pinned host key, list the folders and report problems."""
    _settings()
    bad = 0
    for profile in _profiles(partners_dir, partner):
        problems = _check_one(profile)
        for problem in problems:
            err_console.print(f"[red]{profile.id}: {problem}[/red]", soft_wrap=True)
        bad += bool(problems)
    raise typer.Exit(EXIT_FINDINGS if bad else EXIT_OK)


@contextmanager
def _ingest_acceptor(settings: Settings) -> Iterator[Acceptor]:
    """``gateway.intake.accept_path`` bound to the configured database and raw store."""
    try:
        from functools import partial

        from gateway.db.base import Database
        from gateway.db.migrate import ensure_schema
        from gateway.intake import accept_path
        from gateway.store import store_from_settings
    except ImportError as exc:
        err_console.print("[red]the ingest pipeline (gateway.intake.accept_path) is not "
                          f"available in this build: {exc}[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    db = Database.from_settings(settings)
    try:
        try:
            ensure_schema(db)
            store = store_from_settings(settings)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]", soft_wrap=True)
            raise typer.Exit(EXIT_UNREADABLE) from None
        yield partial(accept_path, db, store)
    finally:
        db.dispose()


def _print_result(result: PollResult) -> None:
    dup = sum(p.duplicate for p in result.pulled)
    line = (f"{result.partner_id}: pulled {len(result.pulled)} file(s) ({dup} already known), "
            f"{len(result.pending)} still being written, {len(result.failures)} failure(s)")
    (console if result.ok else err_console).print(line + (f", ended with {result.error}"
                                                          if result.error else ""))
    for f in result.failures:
        err_console.print(f"  {f.operation} {f.remote_path or ''}: {f.code}: {f.reason}",
                          soft_wrap=True)


@app.command()
def poll(partner: Annotated[str | None, typer.Option("--partner", help="Only this partner")] = None,
         once: Annotated[bool, typer.Option("--once", help="One poll each, then exit")] = False,
         partners_dir: DirOption = None) -> None:
    """Pull new files from clearinghouse inboxes into the ingest pipeline."""
    from gateway.intake.poller import PartnerPoller

    settings = _settings()
    profiles = [p for p in _profiles(partners_dir, partner) if p.inbox_dir is not None]
    if not profiles:
        err_console.print("[red]no partner with an inbox_dir to poll[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE)
    failures = JsonlFailureLog(settings.data_dir / "sftp-failures.jsonl")
    with _ingest_acceptor(settings) as acceptor:
        poller = PartnerPoller(profiles, acceptor, staging_dir=settings.data_dir / "sftp-staging",
                               failures=failures, on_result=None if once else _print_result)
        if once:
            results = poller.poll_once()
            for result in results:
                _print_result(result)
            raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_FINDINGS)

        def _stop(signum: int, frame: FrameType | None) -> None:
            poller.stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        poller.start()
        poller.stop.wait()
        poller.shutdown()


@app.command()
def deliver(files: Annotated[list[Path], typer.Argument(help="Local files to deliver")],
            partner: Annotated[str | None, typer.Option("--partner",
                                                        help="Partner id (required when "
                                                             "several payers exist)")] = None,
            partners_dir: DirOption = None) -> None:
    """Deliver files to a partner's outbound folder, once each (receipts prevent resends)."""
    from gateway.outbound.deliver import deliver_file
    from gateway.outbound.ledger import JsonlDeliveryLedger

    settings = _settings()
    candidates = [p for p in _profiles(partners_dir, partner) if p.outbound_dir is not None]
    if len(candidates) != 1:
        names = ", ".join(p.id for p in candidates) or "none"
        err_console.print(f"[red]choose one partner with --partner (with an outbound_dir: "
                          f"{names})[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE)
    profile = candidates[0]
    ledger = JsonlDeliveryLedger(settings.data_dir / "deliveries.jsonl")
    failures = JsonlFailureLog(settings.data_dir / "sftp-failures.jsonl")
    failed = 0
    for path in files:
        try:
            result = deliver_file(profile, path, ledger=ledger, failures=failures)
        except GatewayError as exc:
            failed += 1
            if exc.code in {"input_error", "config_error"}:
                report_failure(profile, "deliver", exc, failures=failures, remote_path=path.name)
            err_console.print(f"[red]{path}: not delivered: {exc.code}: {exc.message}[/red]",
                              soft_wrap=True)
            continue
        r = result.receipt
        state = "already delivered" if result.already_delivered else "delivered"
        console.print(f"{path}: {state} to {profile.id}:{r.remote_path} ({r.size} bytes, "
                      f"sha256 {r.sha256[:12]}…, {r.delivered_at})", soft_wrap=True)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)
