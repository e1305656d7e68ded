"""docs/cli.md is generated from the CLI and must be current: CI fails when a command changed
and nobody ran ``python -m gateway.cli.docs``."""

from __future__ import annotations

from gateway.cli import COMMAND_MODULES
from gateway.cli.docs import DOC, INDEX, render, render_index


def test_cli_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is out of date: run `.venv/bin/python -m gateway.cli.docs` and commit it"
    )


def test_command_index_is_current() -> None:
    # `gateway --help` lists commands from the index; a stale one hides or mislabels commands.
    assert INDEX.read_text(encoding="utf-8") == render_index(), (
        "gateway/cli/index.py is out of date: run `.venv/bin/python -m gateway.cli.docs`"
    )


def test_cli_reference_covers_every_command() -> None:
    text = render()
    for name in (
        "ingest",
        "run",
        "replay",
        "reconcile",
        "credits",
        "partners check",
        "poll",
        "serve",
        "keys create",
        "store migrate",
        "demo generate",
        "db upgrade",
    ):
        assert f"## `gateway {name}`" in text, name
    assert COMMAND_MODULES  # every module is loaded by render()
