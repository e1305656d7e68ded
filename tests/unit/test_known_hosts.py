"""A partner's pinned host key line is checked as data (no SSH library in mappings/), and
agrees with what paramiko makes of it when the transport connects."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from gateway.sftp.hostkeys import host_keys
from mappings.known_hosts import parse_known_host

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAUoj6h6CgMynho7oPi+DCyVMTb3Va3N9Fe91hlxu7uj"


def _hashed(host: str, salt: bytes = b"0123456789abcdefghij") -> str:
    mac = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(mac).decode()}"


def test_plain_and_hashed_host_names() -> None:
    plain = parse_known_host(f"a.example,[b.example]:2222 {KEY} comment")
    assert plain.names("a.example")
    assert plain.names("[b.example]:2222")
    assert not plain.names("b.example")
    hashed = parse_known_host(f"{_hashed('[c.example]:2222')} {KEY}")
    assert hashed.names("[c.example]:2222")
    assert not hashed.names("c.example")
    line = f"{_hashed('[c.example]:2222')} {KEY}"
    assert host_keys(line).lookup("[c.example]:2222") is not None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("a.example", "expected 'HOST KEYTYPE BASE64'"),
        ("a.example ssh-dss AAAAB3NzaC1kc3M=", "unknown key type"),
        ("a.example ssh-ed25519 not*base64", "not base64"),
        # the blob of an RSA key under the ed25519 name: a copy-paste mistake
        (
            "a.example ssh-ed25519 " + base64.b64encode(b"\0\0\0\7ssh-rsa\0\0\0\1\1").decode(),
            "not an ssh-ed25519 key",
        ),
        # the right type with 31 key bytes, and a blob cut inside a length prefix
        (
            "a.example ssh-ed25519 "
            + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x1f" + b"k" * 31).decode(),
            "has 32 bytes",
        ),
        (
            "a.example ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0").decode(),
            "cut short",
        ),
        (f"@revoked a.example {KEY}", "markers"),
    ],
)
def test_malformed_lines_say_what_is_wrong(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_known_host(line)
