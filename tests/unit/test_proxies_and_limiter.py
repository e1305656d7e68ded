"""The trusted-proxy walk of X-Forwarded-For and the sign-in failure window, without a server
(the served behaviour is in tests/security/test_proxy_and_sign_ins.py)."""

from __future__ import annotations

import pytest

from gateway.api.signin import FailureLimiter, fingerprint, limit_key
from gateway.security.proxies import (
    client_from_forwarded,
    forwarded_scheme,
    is_trusted,
    parse_networks,
)
from gateway.settings import get_settings

NETS = parse_networks("127.0.0.1, 10.0.0.0/8, fd00::/8")


@pytest.mark.parametrize(
    ("xff", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own claim is ignored
        ("6.6.6.6, 198.51.100.7, 10.2.3.4", "198.51.100.7"),  # a second trusted hop is skipped
        ("10.9.9.9, 10.2.3.4", "10.9.9.9"),  # all trusted: the leftmost
        ("junk, 10.2.3.4", "10.2.3.4"),  # not an address: stop at the proxy
        ("198.51.100.7:4711", "198.51.100.7"),
        ("[2001:db8::5]:443, fd00::1", "2001:db8::5"),
        ("", "127.0.0.1"),
    ],
)
def test_rightmost_untrusted_address_is_the_client(xff: str, client: str) -> None:
    assert client_from_forwarded("127.0.0.1", xff, NETS) == client


def test_trust_needs_a_listed_peer() -> None:
    assert is_trusted("10.1.1.1", NETS)
    assert is_trusted("::ffff:127.0.0.1", NETS)
    assert not is_trusted("127.0.0.2", NETS)
    assert not is_trusted("10.1.1.1", ())
    assert not is_trusted(None, NETS)
    assert forwarded_scheme("http, https") == "https"
    assert forwarded_scheme("javascript") is None


def test_bad_trusted_proxy_entry_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        get_settings(trusted_proxies="10.0.0.0/8, not-an-ip")
    assert get_settings().trusted_proxies == ""  # secure default: trust no forwarded header


def test_failure_window_slides() -> None:
    now = [1000.0]
    lim = FailureLimiter(3, 60, clock=lambda: now[0])
    assert [lim.fail("a") for _ in range(3)] == [False, False, True]
    assert lim.retry_after("a") == 60
    assert lim.retry_after("b") is None
    now[0] += 30
    assert lim.retry_after("a") == 30
    now[0] += 30.5
    assert lim.retry_after("a") is None  # the failures left the window
    assert lim.fail("a") is False


def test_limiter_forgets_the_stalest_clients_beyond_its_bound() -> None:
    lim = FailureLimiter(1, 60, clock=lambda: 0.0, max_clients=2)
    for c in ("a", "b", "c"):
        lim.fail(c)
    assert lim.retry_after("a") is None
    assert lim.retry_after("c") == 60


def test_fingerprint_is_short_and_not_the_key() -> None:
    key = "gw_0123456789abcdef_" + "x" * 43
    fp = fingerprint(key)
    assert fp is not None
    assert len(fp) == 8
    assert fp not in key
    assert fingerprint("") is None


def test_ipv6_clients_are_counted_per_64() -> None:
    """One host rotating through the addresses of its /64 is still one client."""
    lim = FailureLimiter(2, 60, clock=lambda: 0.0)
    lim.fail("2001:db8:1:2::1")
    lim.fail("2001:db8:1:2:ffff::9")
    assert lim.retry_after("2001:db8:1:2::77") == 60
    assert lim.retry_after("2001:db8:1:3::1") is None
    assert limit_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert limit_key("unknown") == "unknown"
