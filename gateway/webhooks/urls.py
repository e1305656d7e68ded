"""Which subscription URLs are allowed: http(s) only, and (by default) public addresses only.

A webhook makes the gateway send requests where a subscriber says, so a URL naming the
gateway's own network (loopback, RFC 1918, link-local cloud metadata at 169.254.169.254, ...)
would let a subscriber probe it (SSRF). Every address the host name resolves to must be global
unless ``GATEWAY_WEBHOOK_ALLOW_PRIVATE_URLS`` is set (a private integration network, tests on
loopback). The check runs at subscription and again before each send (DNS can change).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from gateway.errors import InputError


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` when allowed, else a typed ``InputError`` saying why."""
    if len(url) > 2000 or any(c.isspace() or ord(c) < 32 for c in url):
        raise InputError("a webhook URL is at most 2000 characters, without spaces", code="bad_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InputError("a webhook URL must be http:// or https://", code="bad_url_scheme")
    if not parts.hostname or parts.username or parts.password:
        raise InputError("a webhook URL needs a host and no user:password@", code="bad_url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError("the webhook URL's port is not a number", code="bad_url") from None
    if not allow_private:
        for address in _addresses(parts.hostname, port):
            if not address.is_global or address.is_multicast:
                raise InputError(
                    "the webhook URL's host is a private, loopback or reserved address "
                    "(set GATEWAY_WEBHOOK_ALLOW_PRIVATE_URLS for a private integration network)",
                    code="private_url",
                )
    return url


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise InputError(f"the webhook host {host!r} does not resolve", code="bad_url") from None
    out: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        out.append(ip)
    return out


__all__ = ["check_url"]
