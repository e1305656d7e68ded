"""Who the client really is behind reverse proxies: ``GATEWAY_TRUSTED_PROXIES`` and nothing else.

``X-Forwarded-For`` is a list anyone can start: a client writes whatever it likes, and each
proxy appends the address it saw. So the header is read only when the TCP peer is a trusted
proxy, from the right: trusted hops are skipped, and the first address that is not a trusted
proxy is the client (everything left of it is the client's own claim, and ignored). Likewise
``X-Forwarded-Proto`` (the scheme the nearest proxy was reached by) counts only from a trusted
peer. Empty list (the default): no forwarded header is trusted, the peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(value: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list of IPs/CIDRs; ``ValueError`` names a bad entry."""
    out: list[Network] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            # the entry is configuration, not a secret: naming it helps the operator
            raise ValueError(
                f"GATEWAY_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR network"
            ) from None
    return tuple(out)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_trusted(address: str | None, networks: Sequence[Network]) -> bool:
    """Whether ``address`` (the TCP peer, or a hop) lies in one of ``networks``."""
    if not networks or address is None:
        return False
    parsed = _address(address)
    if parsed is None:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in net for net in networks)


def client_from_forwarded(peer: str, forwarded_for: str, networks: Sequence[Network]) -> str:
    """The client address, given a trusted ``peer`` and its ``X-Forwarded-For`` value.

    Walk right to left past trusted proxies; the first other address is the client. A hop that
    is not an address at all stops the walk at the trusted proxy that wrote it (we cannot know
    more). When every hop is trusted, the leftmost one is the client.
    """
    client = peer
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        parsed = _address(hop)
        if parsed is None:
            return client
        client = str(parsed)
        if not is_trusted(client, networks):
            return client
    return client


def forwarded_scheme(value: str) -> str | None:
    """The scheme the nearest proxy saw (rightmost ``X-Forwarded-Proto``), if it is http(s)."""
    last = value.split(",")[-1].strip().lower()
    return last if last in ("http", "https") else None


__all__ = ["client_from_forwarded", "forwarded_scheme", "is_trusted", "parse_networks"]
