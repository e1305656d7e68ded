"""A partner's pinned known_hosts line as paramiko host keys (never the system's files)."""

from __future__ import annotations

import paramiko

from gateway.errors import ConfigError


def host_keys(line: str) -> paramiko.HostKeys:
    """A fresh ``HostKeys`` holding only the key of ``line``."""
    keys = paramiko.HostKeys()
    try:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
    except (paramiko.SSHException, paramiko.hostkeys.InvalidHostKey, ValueError, TypeError) as exc:
        raise ConfigError(
            f"host_key: not a usable known_hosts line ({exc})", code="host_key_invalid"
        ) from None
    if entry is None or entry.key is None:
        raise ConfigError("host_key: not a usable known_hosts line", code="host_key_invalid")
    for hostname in entry.hostnames:
        keys.add(hostname, entry.key.get_name(), entry.key)
    return keys
