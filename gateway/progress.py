"""Progress callbacks for long work; the services call them, the CLI decides how to show them.

A service that walks many items takes ``progress: Progress = no_progress`` and calls
``progress(done, total)`` as it goes (``total`` None while unknown). It never imports rich: the
CLI passes a callback that draws a bar on a terminal (``gateway.cli.progress``), everything
else gets the no-op.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """``done`` units so far (absolute, not a delta) out of ``total`` (None: unknown)."""

    def __call__(self, done: int, total: int | None = None) -> None: ...


def no_progress(done: int, total: int | None = None) -> None:
    """The default: report nothing."""
