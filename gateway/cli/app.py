"""The Typer application object and shared console helpers."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from gateway.cli.index import COMMANDS

if TYPE_CHECKING:
    from gateway.db.base import Database
    from gateway.settings import Settings as SettingsT
    from gateway.store.base import RawStore


class LazyGroup(TyperGroup):
    """The root group: it lists every command from ``gateway.cli.index`` without importing them.

    ``gateway --help`` then imports no command module (they pull in SQLAlchemy, paramiko,
    pydantic-settings); a command named on the command line is resolved by importing only the
    module(s) that register it. A name the index does not know loads every module, so a command
    added without regenerating the index still runs (and a test reports the stale index).
    """

    _listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def list_commands(self, _ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, _ctx: Any, cmd_name: str) -> Any:
        entry = COMMANDS.get(cmd_name)
        cmd = self.commands.get(cmd_name)
        if self._listing and cmd is None and entry is not None:
            return TyperCommand(name=cmd_name, help=entry[1])  # for the command list only
        if self._listing and cmd is not None:
            return cmd
        if entry is not None:
            # the named command's modules, then only that command (a group: with its
            # subcommands); building every command the loaded modules register would read
            # dozens of signatures this run never uses. Rebuilt when one of its modules was
            # not loaded yet: a group spans modules, and an earlier run in this process may
            # have loaded only some of them
            missing = [m for m in entry[0] if f"gateway.cli.{m}" not in sys.modules]
            if cmd is not None and not missing:
                return cmd
            for module in missing:
                import_module(f"gateway.cli.{module}")
            one = _build(cmd_name)
            if one is not None:
                self.commands[cmd_name] = one
                return one
        if cmd is not None:
            return cmd
        from gateway.cli import COMMAND_MODULES

        for module in COMMAND_MODULES:
            import_module(f"gateway.cli.{module}")
        built: Any = typer.main.get_command(app)
        self.commands.update(built.commands)
        return self.commands.get(cmd_name)


def _build(cmd_name: str) -> Any:
    """The click command (or group) registered on ``app`` as ``cmd_name``, built as
    ``typer.main.get_command(app)`` builds it; None if no registration has that name."""
    for info in app.registered_commands:
        callback: Any = info.callback
        if (info.name or typer.main.get_command_name(callback.__name__)) == cmd_name:
            return typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in app.registered_groups:
        if typer.main.solve_typer_info_defaults(group).name == cmd_name:
            return typer.main.get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    return None


app = typer.Typer(
    name="gateway",
    cls=LazyGroup,
    help="Remittance Gateway: X12 835/837 intake, validation, reconciliation and refunds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

#: ``--as-of``: the reconciliation (or report) day, today when not given
AsOf = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Reconciliation date (default today)"),
]

#: exit codes shared by every command
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


@app.callback()
def _root() -> None:
    """Remittance Gateway: X12 835/837 intake, validation, reconciliation and refunds."""


def cli_settings(**overrides: object) -> SettingsT:
    """The settings of a command that reads secrets, checked; exit 2 with the reason if not.

    The same check in every process (serve before it spawns workers, worker, run, keys, ...):
    explicit ``GATEWAY_*`` secrets or else the keys file (generated on first start), no
    placeholder or weak secret, no key file others can read. One line on stderr, no traceback.
    """
    from pydantic import ValidationError

    from gateway.errors import GatewayError
    from gateway.security.keyfile import resolve_secrets
    from gateway.security.secrets import check_secrets
    from gateway.settings import Settings

    try:
        explicit = Settings(**overrides)  # type: ignore[arg-type]
        check_secrets(explicit)  # a weak explicit secret: refused before any keys file is made
        settings = resolve_secrets(explicit)
        check_secrets(settings)
    except GatewayError as exc:
        err_console.print(
            f"[red]{exc.code}: {exc.message}[/red]", soft_wrap=True, markup=True, highlight=False
        )
        raise typer.Exit(EXIT_UNREADABLE) from None
    except ValidationError as exc:  # settings refused as they load (values never echoed)
        reasons = "; ".join(str(e.get("msg", "")) for e in exc.errors())
        err_console.print(f"[red]config_error: {reasons}[/red]", soft_wrap=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    return settings


@contextmanager
def schema_database(settings: SettingsT | None = None) -> Iterator[tuple[SettingsT, Database]]:
    """Checked settings (``settings`` when the command has read them already) and the database
    at the current schema (what a listing needs); exit 2 with the reason when the schema is not
    current."""
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging

    if settings is None:
        settings = cli_settings()
        configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    try:
        try:
            ensure_schema(db)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
        yield settings, db
    finally:
        db.dispose()


@dataclass
class Gateway:
    """What a command that reads or writes raw files works with."""

    settings: SettingsT
    db: Database
    store: RawStore


@contextmanager
def gateway_context(settings: SettingsT | None = None) -> Iterator[Gateway]:
    """``schema_database`` plus the raw store; exit 2 with the reason when it cannot open."""
    from gateway.errors import GatewayError
    from gateway.store import store_from_settings

    with schema_database(settings) as (checked, db):
        try:
            store = store_from_settings(checked)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]", soft_wrap=True)
            raise typer.Exit(EXIT_UNREADABLE) from None
        yield Gateway(checked, db, store)


def emit_json(rows: list[dict[str, Any]]) -> None:
    """A command's ``--json`` output: one array on stdout."""
    typer.echo(json.dumps(rows, indent=2))
