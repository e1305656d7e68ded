"""Failed sign-ins (a wrong API key, a refused console login): audited, then rate limited.

Each failure is an audit entry (``api_auth_failed`` / ``console_login_failed``) naming the
client address, the route and an 8-hex-digit fingerprint of what was presented (a truncated
SHA-256: enough to tell one guessed key from another, useless to recover it); the key itself
is never written anywhere. A client address with ``GATEWAY_AUTH_FAILURE_LIMIT`` failures in
the last ``GATEWAY_AUTH_FAILURE_WINDOW_SECONDS`` gets 429 with ``Retry-After`` for every
sign-in, valid key or not (else guessing would simply go on), until the window slides past;
the moment a client trips the limit is audited once (``auth_rate_limited``), the refusals after
it only logged, so a flood cannot fill the audit log. API and console share one limiter.

IPv6 clients are counted per /64 (one host usually holds a whole /64, so counting single
addresses would let it rotate through billions of them). The limiter lives in the process:
each replica counts on its own (N replicas allow N times the limit per window). It remembers
at most ``MAX_CLIENTS`` addresses, dropping the stalest.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from gateway import audit
from gateway.db.base import Database
from gateway.logging import get_logger

log = get_logger("gateway.api.signin")
MAX_CLIENTS = 10_000
UNAUTHENTICATED = "unauthenticated"


def fingerprint(presented: str) -> str | None:
    """A short, non-reversible tag of a presented key (None when nothing was presented)."""
    if not presented:
        return None
    return hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()[:8]


def limit_key(client: str) -> str:
    """What the limiter counts under: the address, or its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class FailureLimiter:
    """Sliding-window count of sign-in failures per client address (thread-safe)."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self.limit, self.window, self.clock, self.max_clients = limit, window, clock, max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may sign in again, or None when it may now."""
        client = limit_key(client)
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            if times is None or len(times) < self.limit:
                return None
            return max(1, math.ceil(times[0] + self.window - now))

    def fail(self, client: str) -> bool:
        """Count one failure; True when it is the one that reaches the limit."""
        client = limit_key(client)
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            if times is None:
                times = self._failures[client] = deque(maxlen=self.limit)
                while len(self._failures) > self.max_clients:
                    self._failures.popitem(last=False)
            self._failures.move_to_end(client)
            times.append(now)
            return len(times) == self.limit


def record_failure(
    db: Database,
    limiter: FailureLimiter,
    *,
    action: str,
    client: str,
    method: str,
    route: str,
    code: str,
    presented: str,
    outcome: int,
) -> None:
    """Audit one failed sign-in and count it; audit the trip of the limit too (blocking I/O)."""
    from gateway.api.middleware import serialized_write  # middleware imports deps imports us

    tripped = limiter.fail(client)
    details = {
        "client": client,
        "method": method,
        "route": route,
        "code": code,
        "key_fingerprint": fingerprint(presented),
    }
    log.warning(
        "sign_in_failed",
        action=action,
        client=client,
        route=route,
        code=code,
        key_fingerprint=details["key_fingerprint"],
        tripped=tripped,
    )
    with serialized_write(db) as s:
        audit.record(
            s,
            actor=UNAUTHENTICATED,
            action=action,
            outcome=str(outcome),
            reason=code,
            details=details,
        )
        if tripped:
            audit.record(
                s,
                actor=UNAUTHENTICATED,
                action="auth_rate_limited",
                outcome="429",
                reason=f"{limiter.limit} failed sign-ins within {limiter.window:g} s",
                details={"client": client, "route": route},
            )


def refused(client: str, route: str, retry_after: int) -> None:
    """Log (only) a sign-in refused by the limiter."""
    log.warning("sign_in_rate_limited", client=client, route=route, retry_after=retry_after)


__all__ = [
    "UNAUTHENTICATED",
    "FailureLimiter",
    "fingerprint",
    "limit_key",
    "record_failure",
    "refused",
]
