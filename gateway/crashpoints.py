"""Fault injection for the crash-safety tests: ``GATEWAY_TEST_CRASH_AT=<label>:<n>``.

When set, the process SIGKILLs itself the n-th time it reaches ``crash_point(label)``. Unset
(always, outside tests) it costs one dict lookup per call. It sits at the bottom of the stack
(standard library only) so store, ingest and every other layer may mark a kill point.
"""

from __future__ import annotations

import os
import signal

_ENV = "GATEWAY_TEST_CRASH_AT"
_counts: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(_ENV, "")
    label, _, n = spec.partition(":")
    if not label or not n.isdigit():
        return None
    return label, int(n)


def crash_point(label: str) -> None:
    """Die here (SIGKILL, no cleanup) if the test asked for it."""
    target = _target()
    if target is None or target[0] != label:
        return
    _counts[label] = _counts.get(label, 0) + 1
    if _counts[label] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
