"""The signature of a webhook body: ``Gateway-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256, keyed with the subscription's secret, of ``"<t>.<raw body>"``. A receiver
recomputes it over the bytes it received, compares in constant time, and refuses a timestamp
older than its tolerance (replayed captures); docs/webhooks.md shows how.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Gateway-Signature"
#: a receiver should refuse signatures older than this (seconds)
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def sign(secret: str, body: bytes, *, now: float | None = None) -> str:
    """The header value for ``body`` signed now."""
    t = int(now if now is not None else time.time())
    return f"t={t},v1={signature(secret, t, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` and is fresh."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts.get("t", ""))
    except ValueError:
        return False
    current = now if now is not None else time.time()
    if abs(current - t) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), signature(secret, t, body))


__all__ = ["HEADER", "TOLERANCE_SECONDS", "sign", "signature", "verify"]
