"""The typed errors every layer raises (parsers aside): code, message and location.

``gateway.errors`` re-exports them; ``mappings`` raises ``MappingError`` (a ``ConfigError``).

Hierarchy::

    GatewayError
    ├── PermanentError        retrying cannot help (bad input, bad config, auth, host key)
    │   ├── ConfigError
    │   ├── InputError        a file or row we cannot accept; carries what/where/why
    │   └── NotFoundError
    └── TransientError        worth retrying with backoff (network, locks, timeouts)

Parser errors (``parsers.X12Error``) stay pure; the application wraps them as ``InputError``
with ``raise ... from exc`` where it needs one root.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Something went wrong in the gateway."""

    code = "gateway_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        location: dict[str, object] | None = None,
    ) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        if code:
            self.code = code
        self.location = location or {}
        super().__init__(self.message)


class PermanentError(GatewayError):
    """Retrying this will not help."""

    code = "permanent_error"


class TransientError(GatewayError):
    """A temporary failure; retry with backoff."""

    code = "transient_error"


class ConfigError(PermanentError):
    """The gateway is misconfigured."""

    code = "config_error"


class InputError(PermanentError):
    """The input cannot be accepted."""

    code = "input_error"


class NotFoundError(PermanentError):
    """No such object."""

    code = "not_found"
