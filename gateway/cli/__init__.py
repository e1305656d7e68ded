"""The ``gateway`` command line. Each concern registers its commands from its own module.

Command modules are imported on demand, because importing them all costs seconds and a hundred
MB at every start (SQLAlchemy, paramiko, pydantic-settings; the API app and fpdf behind ``keys``),
and most commands need one of them:

- ``main()`` (the console script) imports only the module(s) of the command named on the command
  line, looked up in ``gateway.cli.index`` as the root group resolves the name, and builds only
  that command; ``gateway --help`` and ``gateway`` alone import none
  (the root group lists commands from the index). A name the index does not know loads every
  module, so typer's own error and suggestions see every command.
- ``from gateway.cli import app`` (tests, embedding) imports every module first (PEP 562
  ``__getattr__``), so the app it hands out is complete.

To add a command module, add its name to ``COMMAND_MODULES``; after adding or renaming a command
run ``python -m gateway.cli.docs``, which regenerates ``docs/cli.md`` and the index.
"""

from __future__ import annotations

import atexit
import gc
import os
from importlib import import_module
from typing import TYPE_CHECKING

from gateway.cli import app as _app_module
from gateway.cli.index import COMMANDS

if TYPE_CHECKING:
    from gateway.cli.app import app, console

#: every command module; each registers its commands on ``app`` when imported
COMMAND_MODULES = (
    "x12",
    "partners",
    "transfers",
    "db",
    "ingest",
    "quarantine",
    "validate",
    "keys",
    "serve",
    "store",
    "audit",
    "reconcile",
    "variances",
    "demo",
    "cases",
    "batches",
    "reports",
    "reports_kpi",
    "casework",
    "files",
    "users",
    "webhooks",
)

# Importing the submodule ``gateway.cli.app`` bound the *module* to the name ``app`` here; drop
# it so that ``gateway.cli.app`` (the Typer app) resolves through ``__getattr__`` below.
globals().pop("app", None)

__all__ = ["COMMANDS", "COMMAND_MODULES", "app", "console", "load_commands", "main", "modules_for"]


def modules_for(argv: list[str] | None) -> tuple[str, ...]:
    """The command modules ``argv`` needs: none for help alone, the named command's, or all.

    ``None`` means all of them.
    """
    if argv is None:
        return COMMAND_MODULES
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None:
        return ()
    entry = COMMANDS.get(first)
    return entry[0] if entry is not None else COMMAND_MODULES


def load_commands(argv: list[str] | None = None) -> None:
    """Register the commands ``argv`` needs (see ``modules_for``); ``None`` loads every module."""
    for name in modules_for(argv):
        import_module(f"gateway.cli.{name}")


def __getattr__(name: str) -> object:
    if name == "app":
        load_commands()
        return _app_module.app
    if name == "console":
        return _app_module.console
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _collect_then_freeze() -> None:
    """At exit: collect the garbage once, then freeze what is still alive.

    Interpreter shutdown otherwise runs the cyclic collector again and again while it tears the
    modules down, over every object SQLAlchemy, pydantic and rich created at import: about
    0.2 s of a read-only command's 0.8 s, after its output was written. Garbage is still
    collected (finalisers of unreachable objects run, as before); objects alive at exit are
    left to the process's end, which Python never promised to finalise anyway.
    """
    gc.collect()
    gc.freeze()


def main() -> None:
    # registered before the command imports anything, so it runs after the exit handlers of
    # what the command loads (they run last-in first-out); once however often main() runs
    atexit.unregister(_collect_then_freeze)
    atexit.register(_collect_then_freeze)
    # everything the gateway writes is private whatever the caller's umask (exports, reports,
    # acks; the data dir sets its modes itself: gateway.security.fsmodes)
    os.umask(0o077)
    # the root group (``LazyGroup``) imports the named command's module(s) as click resolves
    # the name, and builds only that command: loading them here first would make typer build
    # every command they register before parsing
    _app_module.app()
