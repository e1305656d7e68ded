"""A rich progress bar on a terminal, nothing anywhere else.

``progress(...)`` yields a ``Bars``: ``bars.task("claims loaded")`` returns a callback for the
services (``gateway.progress.Progress``). The bar is drawn on stderr only when stderr is a
terminal and the command was not asked for JSON; on a pipe, in a log, under ``--json`` every
callback is a no-op, so output stays machine-readable. Bars are transient: the command's own
summary is what stays on the screen.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from gateway.progress import Progress, no_progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress


def wanted(*, as_json: bool = False) -> bool:
    """Bars only for a person watching: a terminal on stderr, no --json, not TERM=dumb."""
    if as_json or os.environ.get("TERM") == "dumb":
        return False
    return sys.stderr.isatty()


class Bars:
    """Hands out one progress callback per counter; no-ops when bars are off."""

    def __init__(self, rich: RichProgress | None) -> None:
        self._rich = rich

    @property
    def enabled(self) -> bool:
        return self._rich is not None

    def task(self, description: str, total: int | None = None, *, unit: str = "") -> Progress:
        """A callback that moves a bar labelled ``description`` (``unit`` "bytes": sizes)."""
        rich = self._rich
        if rich is None:
            return no_progress
        task_id = rich.add_task(description, total=total, unit=unit)

        def update(done: int, total: int | None = None) -> None:
            fields: dict[str, Any] = {"completed": done}
            if total is not None:
                fields["total"] = total
            rich.update(task_id, **fields)

        return update


@contextmanager
def progress(*, as_json: bool = False) -> Iterator[Bars]:
    """Bars on stderr for the duration of the block (see the module docstring)."""
    if not wanted(as_json=as_json):
        yield Bars(None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as RichProgress

    from gateway.cli.app import err_console

    class _Count(MofNCompleteColumn):
        """``done/total``, or ``done`` while the total is unknown; sizes for byte counters."""

        def render(self, task: Any) -> Any:
            from rich.filesize import decimal
            from rich.text import Text

            def fmt(n: float) -> str:
                return decimal(int(n)) if task.fields.get("unit") == "bytes" else str(int(n))

            if task.total is None:
                return Text(fmt(task.completed), style="progress.download")
            return Text(f"{fmt(task.completed)}/{fmt(task.total)}", style="progress.download")

    bars = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        _Count(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bars:
        yield Bars(bars)
