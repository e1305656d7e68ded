"""Errors of the gateway application: the hierarchy lives in ``schemas.errors`` (the bottom of
the stack) so that ``mappings`` can raise the same typed errors; this module is its name in the
application."""

from schemas.errors import (
    ConfigError,
    GatewayError,
    InputError,
    NotFoundError,
    PermanentError,
    TransientError,
)

__all__ = [
    "ConfigError",
    "GatewayError",
    "InputError",
    "NotFoundError",
    "PermanentError",
    "TransientError",
]
