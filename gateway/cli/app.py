"""The Typer application object and shared console helpers."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="gateway",
    help="Remittance Gateway: X12 835/837 intake, validation, reconciliation and refunds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

#: exit codes shared by every command
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


@app.callback()
def _root() -> None:
    """Remittance Gateway: X12 835/837 intake, validation, reconciliation and refunds."""
