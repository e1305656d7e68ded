"""The ``gateway`` command line. Each concern registers its commands from its own module.

Command modules are imported on demand, because importing them all costs most of a second and
tens of MB at every start (paramiko, SQLAlchemy, Alembic, pydantic-settings), and ``gateway
parse`` of a large file needs none of them:

- ``main()`` (the console script) imports only the module of the command named on the command
  line when that command is in ``LIGHT_COMMANDS``; anything else (``--help``, no command, other
  commands) imports every module, so help always lists every command.
- ``from gateway.cli import app`` (tests, embedding) imports every module first (PEP 562
  ``__getattr__``), so the app it hands out is complete.

To add a command module, add its name to ``COMMAND_MODULES``.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING

from gateway.cli import app as _app_module

if TYPE_CHECKING:
    from gateway.cli.app import app, console

#: every command module; each registers its commands on ``app`` when imported
COMMAND_MODULES = ("x12", "partners", "db", "ingest", "validate", "keys", "serve", "store",
                   "audit", "reconcile", "demo", "resolve")
#: commands whose module is light and may be loaded alone (command -> module)
LIGHT_COMMANDS = {"parse": "x12", "samples": "x12", "validate": "validate", "demo": "demo"}

# Importing the submodule ``gateway.cli.app`` bound the *module* to the name ``app`` here; drop
# it so that ``gateway.cli.app`` (the Typer app) resolves through ``__getattr__`` below.
globals().pop("app", None)

__all__ = ["COMMAND_MODULES", "LIGHT_COMMANDS", "app", "console", "load_commands", "main"]


def load_commands(argv: list[str] | None = None) -> None:
    """Register the commands ``argv`` needs: one light module, or every module.

    ``None`` means all of them.
    """
    first = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    light = LIGHT_COMMANDS.get(first or "")
    for name in (light,) if light else COMMAND_MODULES:
        import_module(f"gateway.cli.{name}")


def __getattr__(name: str) -> object:
    if name == "app":
        load_commands()
        return _app_module.app
    if name == "console":
        return _app_module.console
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # everything the gateway writes is private whatever the caller's umask (exports, reports,
    # acks; the data dir sets its modes itself: gateway.security.fsmodes)
    os.umask(0o077)
    load_commands(sys.argv[1:])
    _app_module.app()
