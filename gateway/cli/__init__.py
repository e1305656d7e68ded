"""The ``gateway`` command line. Each concern registers its commands from its own module."""

from __future__ import annotations

from gateway.cli.app import app, console

# Command modules register themselves on ``app`` when imported.
from gateway.cli import x12  # noqa: F401  isort: skip
from gateway.cli import partners  # noqa: F401  isort: skip
from gateway.cli import db  # noqa: F401  isort: skip
from gateway.cli import ingest  # noqa: F401  isort: skip
from gateway.cli import validate  # noqa: F401  isort: skip

__all__ = ["app", "console", "main"]


def main() -> None:
    app()
