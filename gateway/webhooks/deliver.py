"""Sending queued deliveries: claim under a lease, POST signed, retry with backoff, log.

A worker claims the oldest due row (``queued``, or ``delivering`` whose lease expired: its
sender died), posts it, and records the outcome on the row: ``delivered`` on a 2xx,
``failed`` on any other 4xx (the receiver refused it; retrying would not help), and on a 5xx,
a timeout or a refused connection it tries again with exponential backoff (tenacity) up to
``GATEWAY_WEBHOOK_MAX_ATTEMPTS`` tries in all, then ``failed`` (``gateway webhooks replay``
queues it again). Delivery is at least once: a sender that dies after the receiver answered
but before the row is updated sends again; the ``Gateway-Delivery``/event id header is stable,
so receivers de-duplicate on it. Redirects are not followed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import httpx
import tenacity
from sqlalchemy import and_, or_, select, update

from gateway.db.base import Database
from gateway.db.types import utcnow
from gateway.errors import InputError
from gateway.logging import get_logger
from gateway.settings import Settings
from gateway.webhooks import signing
from gateway.webhooks.service import secret_of
from gateway.webhooks.tables import WebhookDelivery, WebhookSubscription
from gateway.webhooks.urls import check_url

log = get_logger("gateway.webhooks")
D = WebhookDelivery
LEASE_SECONDS = 120
USER_AGENT = "remittance-gateway-webhooks/1"


class RetryableError(Exception):
    """A 5xx, a timeout or a connection failure: worth another try."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class SendResult:
    delivered: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def _due(at: dt.datetime) -> object:
    return or_(
        and_(D.state == "queued", D.next_attempt_at <= at),
        and_(D.state == "delivering", D.lease_expires_at < at),
    )


def claim_next(db: Database, owner: str, *, only: list[int] | None = None) -> int | None:
    """Lease the oldest due delivery; None when nothing is due."""
    at = utcnow()
    due = _due(at)
    pick = select(D.id).where(due)  # type: ignore[arg-type]
    if only is not None:
        pick = pick.where(D.id.in_(only))
    with db.read() as s:
        if s.execute(pick.limit(1)).first() is None:
            return None
    with db.write() as s:
        row_id = s.execute(
            pick.order_by(D.id).limit(1).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if row_id is None:
            return None
        done = s.execute(
            update(D)
            .where(D.id == row_id, due)  # type: ignore[arg-type]
            .values(
                state="delivering",
                lease_owner=owner[:128],
                lease_expires_at=at + dt.timedelta(seconds=LEASE_SECONDS),
            )
        )
        return row_id if done.rowcount == 1 else None  # type: ignore[attr-defined]


def _post(client: httpx.Client, url: str, secret: str, row: WebhookDelivery) -> int:
    body = row.payload.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Gateway-Event": row.event,
        "Gateway-Delivery": row.event_id,
        signing.HEADER: signing.sign(secret, body),
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise RetryableError(None, "timed out") from None
    except httpx.TransportError as exc:
        raise RetryableError(None, f"connection failed ({type(exc).__name__})") from None
    if response.status_code >= 500:
        raise RetryableError(response.status_code, f"receiver answered {response.status_code}")
    return response.status_code


def send_one(db: Database, settings: Settings, delivery_id: int, result: SendResult) -> None:
    """Send one claimed delivery, retrying transient failures; record the outcome on it."""
    with db.read() as s:
        row = s.get(D, delivery_id)
        assert row is not None
        sub = s.get(WebhookSubscription, row.subscription_id)
        assert sub is not None
        url, secret = sub.url, secret_of(sub)
        s.expunge(row)
    attempts = 0
    status: int | None = None
    error: str | None = None
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.webhook_max_attempts),
        wait=tenacity.wait_exponential(
            multiplier=settings.webhook_retry_base_seconds,
            max=settings.webhook_retry_max_seconds,
        ),
        retry=tenacity.retry_if_exception_type(RetryableError),
        reraise=True,
    )
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    check_url(url, allow_private=settings.webhook_allow_private_urls)
                    status = _post(client, url, secret, row)
    except RetryableError as exc:
        status, error = exc.status, exc.message
    except InputError as exc:  # the host now resolves to a refused address
        error = f"{exc.code}: {exc.message}"[:500]
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok and error is None:
        error = f"receiver answered {status}"
    with db.write() as s:
        s.execute(
            update(D)
            .where(D.id == delivery_id)
            .values(
                state="delivered" if ok else "failed",
                attempts=D.attempts + attempts,
                last_status=status,
                last_error=None if ok else error,
                lease_owner=None,
                lease_expires_at=None,
                delivered_at=utcnow() if ok else None,
            )
        )
    (result.delivered if ok else result.failed).append(delivery_id)
    log.info(
        "webhook_sent" if ok else "webhook_failed",
        delivery=delivery_id,
        subscription=row.subscription_id,
        webhook_event=row.event,
        status=status,
        attempts=attempts,
    )


def drain(
    db: Database,
    settings: Settings,
    *,
    owner: str,
    only: list[int] | None = None,
    max_deliveries: int | None = None,
) -> SendResult:
    """Send every due delivery (one at a time) and return what happened."""
    result = SendResult()
    handled = 0
    while max_deliveries is None or handled < max_deliveries:
        delivery_id = claim_next(db, owner, only=only)
        if delivery_id is None:
            break
        send_one(db, settings, delivery_id, result)
        handled += 1
    return result


__all__ = ["RetryableError", "SendResult", "claim_next", "drain", "send_one"]
