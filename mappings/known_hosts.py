"""One pinned known_hosts line, checked without an SSH library (mappings are data).

``HOST[,HOST...] KEYTYPE BASE64 [comment]``, hosts plain or hashed (``|1|salt|hmac``, as
``ssh-keygen -H`` writes them). The key blob is checked to be a well-formed SSH public key of
that type (RFC 4253 §6.6: length-prefixed fields, the first one the key type); the transport
(gateway.sftp.hostkeys) turns the line into paramiko's host keys when it connects.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


@dataclass(frozen=True)
class KnownHost:
    hosts: tuple[str, ...]
    key_type: str
    key_base64: str

    def names(self, hostname: str) -> bool:
        """Whether this line is for ``hostname`` (plain or hashed entries)."""
        return any(_host_matches(h, hostname) for h in self.hosts)


def _host_matches(entry: str, hostname: str) -> bool:
    if not entry.startswith("|1|"):
        return entry == hostname
    try:
        salt_b64, digest_b64 = entry[3:].split("|", 1)
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except (ValueError, binascii.Error):
        return False
    mac = hmac.new(salt, hostname.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(mac, digest)


def _fields(blob: bytes) -> list[bytes]:
    out: list[bytes] = []
    at = 0
    while at < len(blob):
        if at + 4 > len(blob):
            raise ValueError("the key data is cut short")
        (n,) = struct.unpack(">I", blob[at : at + 4])
        at += 4
        if at + n > len(blob):
            raise ValueError("the key data is cut short")
        out.append(blob[at : at + n])
        at += n
    return out


def parse_known_host(line: str) -> KnownHost:
    """The line's parts; ``ValueError`` saying what is wrong otherwise."""
    parts = line.split()
    if parts and parts[0].startswith("@"):
        raise ValueError("markers (@cert-authority, @revoked) are not supported")
    if len(parts) < 3:
        raise ValueError("expected 'HOST KEYTYPE BASE64'")
    hosts, key_type, data = parts[0], parts[1], parts[2]
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type!r}")
    try:
        blob = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("the key is not base64") from None
    fields = _fields(blob)
    if len(fields) < 2 or fields[0] != key_type.encode():
        raise ValueError(f"the key data is not an {key_type} key")
    if key_type == "ssh-ed25519" and len(fields[1]) != 32:
        raise ValueError("an ssh-ed25519 key has 32 bytes")
    return KnownHost(tuple(h for h in hosts.split(",") if h), key_type, data)
