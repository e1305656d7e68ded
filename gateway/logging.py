"""structlog configuration: JSON lines with ids and counts, never PHI.

``redact_phi`` drops values of keys on a denylist (patient names, member ids, dates of birth,
addresses) wherever they appear, as a last line of defence behind the rule that log calls carry
ids and counts only.

structlog loads on the first log call, not on import or ``configure_logging``: a command that
never logs (``gateway credits`` and the other read-only commands) does not pay for it. A
configuration asked for before structlog is loaded is applied as the first logger is used; once
structlog is loaded (a test, the API middleware) ``configure_logging`` applies at once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

PHI_KEYS = frozenset(
    {
        "patient_name",
        "patient",
        "first_name",
        "last_name",
        "middle_name",
        "name",
        "member_id",
        "subscriber_id",
        "insured_id",
        "date_of_birth",
        "dob",
        "birth_date",
        "address",
        "address_line",
        "ssn",
        "phone",
    }
)
REDACTED = "[redacted]"


def redact_phi(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in PHI_KEYS:
            event[key] = REDACTED
    return event


class _StderrLogger:
    """Writes each line to the *current* ``sys.stderr`` (tests and daemons swap it)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def _stderr_logger_factory(*_: Any) -> _StderrLogger:
    return _StderrLogger()


#: (level, fmt) asked for while structlog was not loaded yet; applied by ``_structlog()``
_pending: tuple[str, str] | None = None


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Configure structlog once per process (now if it is loaded, else on the first log)."""
    global _pending
    if "structlog" in sys.modules:
        _pending = None
        _apply(level, fmt)
    else:
        _pending = (level, fmt)


def _apply(level: str, fmt: str) -> None:
    import structlog

    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        # plain tracebacks: rich ones print local variables, which may hold parsed PHI
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_phi,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=_stderr_logger_factory,
        cache_logger_on_first_use=False,
    )


def _structlog() -> Any:
    """structlog, loaded, with any pending configuration applied first."""
    global _pending
    import structlog

    if _pending is not None:
        level, fmt = _pending
        _pending = None
        _apply(level, fmt)
    return structlog


class _Logger:
    """What ``get_logger`` returns: structlog's logger, looked up when a method is first used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        bound = self.__dict__.get("_bound")
        if bound is None:  # structlog's own proxy: it follows later configure() calls
            bound = self.__dict__["_bound"] = _structlog().get_logger(self._name)
        return getattr(bound, attr)


def get_logger(name: str = "gateway") -> Any:
    return _Logger(name)
