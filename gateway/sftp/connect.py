"""Opening SFTP sessions: pinned host keys only, a per-partner connection budget, and a
transport tuned for bulk transfer (AES-GCM first, TCP_NODELAY, quick ACKs, a wide window)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import paramiko

from gateway.logging import get_logger
from gateway.sftp.errors import ConnectionsBusyError, HostKeyError, remote
from gateway.sftp.hostkeys import host_keys
from mappings.partners import PartnerProfile

log = get_logger("gateway.sftp")

PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")  # then paramiko's
WINDOW_SIZE = 4 << 20  # SSH channel window: what the server may send before we take it


class _RejectUnpinned(paramiko.RejectPolicy):  # type: ignore[misc]
    """Refuse any host whose key is not the pinned one (paramiko calls this for unknown hosts)."""

    def missing_host_key(
        self, _client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyError(
            f"host key for {hostname} is not the pinned one (server offered {key.get_name()} "
            f"{key.fingerprint})",
            location={"host": hostname},
        )


_slots: dict[tuple[str, str, int, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _slot(profile: PartnerProfile) -> threading.BoundedSemaphore:
    """The process-wide connection budget of one partner (poller, deliveries, CLI share it)."""
    key = (profile.id, profile.host, profile.port, profile.max_connections)
    with _slots_lock:
        sem = _slots.get(key)
        if sem is None:
            sem = _slots[key] = threading.BoundedSemaphore(profile.max_connections)
        return sem


@contextmanager
def open_sftp(
    profile: PartnerProfile,
    *,
    environ: Mapping[str, str] | None = None,
    slot_timeout: float | None = None,
) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session that trusts only the profile's pinned host key.

    At most ``max_connections`` sessions per partner are open in this process; waiting for a
    free one takes up to ``slot_timeout`` (default: the operation timeout; 0: do not wait).
    """
    slot = _slot(profile)
    wait = profile.timeouts.operation_seconds if slot_timeout is None else slot_timeout
    got = slot.acquire(timeout=wait) if wait > 0 else slot.acquire(blocking=False)
    if not got:
        raise ConnectionsBusyError(
            f"all {profile.max_connections} connections to {profile.id} are busy",
            location={"partner": profile.id},
        )
    client = paramiko.SSHClient()
    try:
        # The client's own HostKeys, filled only from the profile: never ~/.ssh/known_hosts.
        pinned = client.get_host_keys()
        for name, keys in host_keys(profile.host_key).items():
            for keytype, key in keys.items():
                pinned.add(name, keytype, key)
        client.set_missing_host_key_policy(_RejectUnpinned())
        pkey: paramiko.PKey | None = None
        with remote(profile, "load_private_key", str(profile.auth.private_key_path)):
            if profile.auth.private_key_path is not None:
                pkey = paramiko.PKey.from_path(profile.auth.private_key_path)
        password = profile.auth.password(environ)
        t = profile.timeouts
        with remote(profile, "connect"):
            client.connect(
                profile.host,
                port=profile.port,
                username=profile.username,
                pkey=pkey,
                password=password,
                timeout=t.connect_seconds,
                banner_timeout=t.banner_seconds,
                auth_timeout=t.auth_seconds,
                channel_timeout=t.operation_seconds,
                look_for_keys=False,
                allow_agent=False,
                transport_factory=_transport,
            )
            sftp = paramiko.SFTPClient.from_transport(
                client.get_transport(), window_size=WINDOW_SIZE
            )
            sftp.get_channel().settimeout(t.operation_seconds)
        try:
            yield sftp
        finally:
            close_quietly(sftp)
    finally:
        close_quietly(client)
        slot.release()


def _transport(sock: socket.socket | paramiko.Channel, **kwargs: object) -> paramiko.Transport:
    """A transport tuned for bulk transfer.

    AES-GCM first: one authenticated-encryption pass per packet instead of AES-CTR plus a
    separate HMAC (a 200 MB pull here: 53 % → 79 % of OpenSSH's own client in one A/B).
    ``TCP_NODELAY``: our read requests are small packets sent while answers stream in; with
    Nagle's algorithm they wait for ACKs and a 200 MB pull ran at half the speed. The
    channel window is twice the bytes we keep asked for, so the server never waits on it.
    """
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if hasattr(socket, "TCP_QUICKACK"):  # Linux
            sock = _QuickAckSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    t = paramiko.Transport(sock, default_window_size=WINDOW_SIZE, **kwargs)
    options = t.get_security_options()
    options.ciphers = PREFERRED_CIPHERS + tuple(
        c for c in options.ciphers if c not in PREFERRED_CIPHERS
    )
    return t


class _QuickAckSocket(socket.socket):
    """A TCP socket that acknowledges what it receives at once instead of up to 40 ms later.

    After authentication OpenSSH sends small messages back to back (host keys, key-option
    notes); Nagle's algorithm on its side then holds the channel-open confirmation until we
    acknowledge them, and Linux delays that ACK by 40 ms: 45 of the 65 ms of every connection
    here. ``TCP_QUICKACK`` is not sticky, so it is set again after every read.
    """

    __slots__ = ()

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        data = super().recv(bufsize, flags)
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return data


def close_quietly(conn: paramiko.SFTPClient | paramiko.SSHClient) -> None:
    """Closing a dropped connection raises (EOFError, socket errors); that must never mask the
    error that ended the session, nor turn a retryable failure into an unhandled one."""
    try:
        conn.close()
    except Exception as exc:  # noqa: BLE001 - see the docstring: closing must not mask
        log.debug("sftp_close_failed", error=type(exc).__name__)
