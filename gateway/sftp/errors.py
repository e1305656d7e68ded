"""Typed errors of the SFTP transport, and the translation of paramiko/socket failures.

Errors::

    PermanentError
    ├── HostKeyError           unknown or changed host key: refuse, never retry, alert
    ├── AuthError              the server refused our credentials: never retry
    ├── RemotePermissionError  the server denied one operation on one path
    └── RemoteMissingError     a path vanished or a folder does not exist
    TransientError
    └── SftpTransientError     refused/reset/timeout/EOF: retried with backoff, then recorded
        └── ConnectionsBusyError
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import paramiko

from gateway.errors import GatewayError, PermanentError, TransientError
from mappings.partners import PartnerProfile


class HostKeyError(PermanentError):
    """The server's host key is unknown or differs from the pinned one."""

    code = "host_key_rejected"


class AuthError(PermanentError):
    """The server refused our credentials."""

    code = "auth_failed"


class RemotePermissionError(PermanentError):
    """The server denied the operation."""

    code = "remote_permission_denied"


class RemoteMissingError(PermanentError):
    """The remote path does not exist."""

    code = "remote_missing"


class SftpTransientError(TransientError):
    """The connection failed or dropped; retrying may help."""

    code = "sftp_transient"


class ConnectionsBusyError(SftpTransientError):
    """Every connection this partner allows is in use."""

    code = "sftp_connections_busy"


class RemoteFileChangedError(GatewayError):
    """The remote file's size changed while we read it: it is still being written."""

    code = "remote_file_changed"


class PollCancelledError(GatewayError):
    """The poller is stopping; abandon the current backoff."""

    code = "cancelled"


def translate(
    exc: BaseException, profile: PartnerProfile, operation: str, remote_path: str | None = None
) -> GatewayError:
    """Map a paramiko/socket error to our tree; the caller raises it ``from exc``."""
    where: dict[str, object] = {"partner": profile.id, "operation": operation}
    if remote_path is not None:
        where["remote_path"] = remote_path
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            f"host key for {profile.host_key_name} changed: expected "
            f"{exc.expected_key.fingerprint}, got {exc.key.fingerprint}",
            location=where,
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthError(
            f"{profile.username}@{profile.host_key_name} refused our credentials ({exc})",
            location=where,
        )
    if isinstance(exc, PermissionError):
        return RemotePermissionError(
            f"permission denied: {remote_path or operation}", location=where
        )
    if isinstance(exc, FileNotFoundError):
        return RemoteMissingError(
            f"no such remote file or folder: {remote_path or operation}", location=where
        )
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(
        exc,
        socket.timeout
        | TimeoutError
        | ConnectionError
        | EOFError
        | paramiko.SSHException
        | OSError,
    ):
        return SftpTransientError(f"{operation} failed: {reason}", location=where)
    return SftpTransientError(f"{operation} failed unexpectedly: {reason}", location=where)


@contextmanager
def remote(
    profile: PartnerProfile, operation: str, remote_path: str | None = None
) -> Iterator[None]:
    """Translate errors of the remote calls in the block (and only those)."""
    try:
        yield
    except GatewayError:
        raise
    except Exception as exc:
        raise translate(exc, profile, operation, remote_path) from exc
