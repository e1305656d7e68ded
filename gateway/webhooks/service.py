"""Subscriptions (create, list, disable), the outbox (``emit``), the delivery log, replay.

Every function takes a ``provider`` scope: None for a caller who sees every provider (ops,
the CLI), else the only provider the caller acts for; another provider's subscription or
delivery is answered like a missing one. The signing secret is returned by ``subscribe`` only.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import utcnow
from gateway.errors import InputError, NotFoundError
from gateway.security.columns import column_cipher
from gateway.webhooks.tables import WebhookDelivery, WebhookSubscription
from gateway.webhooks.urls import check_url

EVENTS = ("file.quarantined", "credit.identified", "credit.deadline", "batch.delivered")
SEALED_AS = "webhook_subscriptions.secret"
S, D = WebhookSubscription, WebhookDelivery


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription as shown (never its secret)."""

    id: int
    provider: str
    url: str
    events: list[str]
    created_at: str
    created_by: str
    active: bool


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    subscription_id: int
    event: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    replay_of: int | None


def sub_view(row: WebhookSubscription) -> SubscriptionView:
    return SubscriptionView(
        row.id,
        row.provider_key,
        row.url,
        row.events.split(","),
        row.created_at.isoformat(),
        row.created_by,
        row.disabled_at is None,
    )


def delivery_view(row: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        row.id,
        row.subscription_id,
        row.event,
        row.event_id,
        row.state,
        row.attempts,
        row.last_status,
        row.last_error,
        row.created_at.isoformat(),
        row.delivered_at.isoformat() if row.delivered_at else None,
        row.replay_of,
    )


def _events(events: list[str]) -> str:
    chosen = sorted({e.strip() for e in events if e.strip()})
    unknown = [e for e in chosen if e not in EVENTS]
    if not chosen or unknown:
        raise InputError(
            f"events must be one or more of {', '.join(EVENTS)}"
            + (f" (unknown: {', '.join(unknown)[:200]})" if unknown else ""),
            code="bad_events",
        )
    return ",".join(chosen)


def subscribe(
    session: Session,
    *,
    provider: str,
    url: str,
    events: list[str],
    actor: str,
    allow_private: bool,
) -> tuple[SubscriptionView, str]:
    """Create a subscription; returns it and its signing secret (the only time it is shown)."""
    from gateway.security.principal import normalise_provider  # the one provider-key syntax

    provider_key = normalise_provider(provider)
    row = S(
        provider_key=provider_key,
        url=check_url(url.strip(), allow_private=allow_private),
        events=_events(events),
        created_at=utcnow(),
        created_by=actor[:128],
    )
    secret = "whsec_" + secrets.token_urlsafe(32)
    sealed = column_cipher().seal(secret, SEALED_AS)
    assert sealed is not None
    row.secret_sealed = sealed
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook_subscribed",
        outcome="created",
        details={"subscription": row.id, "provider": provider_key, "events": row.events},
    )
    return sub_view(row), secret


def secret_of(row: WebhookSubscription) -> str:
    value = column_cipher().open(row.secret_sealed, SEALED_AS)
    assert value is not None
    return value


def _subscription(session: Session, sub_id: int, provider: str | None) -> WebhookSubscription:
    row = session.get(S, sub_id)
    if row is None or (provider is not None and row.provider_key != provider):
        raise NotFoundError(f"no webhook subscription {sub_id}")
    return row


def list_subscriptions(session: Session, provider: str | None) -> list[SubscriptionView]:
    stmt = select(S).order_by(S.id)
    if provider is not None:
        stmt = stmt.where(S.provider_key == provider)
    return [sub_view(r) for r in session.execute(stmt).scalars()]


def disable(session: Session, sub_id: int, *, provider: str | None, actor: str) -> SubscriptionView:
    """Stop a subscription: no new deliveries are queued for it (queued ones are still sent)."""
    row = _subscription(session, sub_id, provider)
    if row.disabled_at is not None:
        raise InputError(f"subscription {sub_id} is already disabled", code="already_disabled")
    row.disabled_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="webhook_disabled",
        outcome="disabled",
        details={"subscription": row.id, "provider": row.provider_key},
    )
    return sub_view(row)


def emit(
    session: Session, *, provider_key: str | None, event: str, data: dict[str, Any], dedupe: str
) -> int:
    """Queue ``event`` for every active subscription of ``provider_key`` that wants it, in the
    caller's transaction (the outbox); returns how many deliveries were queued.

    ``data`` carries ids, codes, amounts and dates only, never PHI. ``dedupe`` names the event
    (``file:12:quarantined``): the same one is never queued twice for a subscription.
    """
    if provider_key is None or event not in EVENTS:
        return 0
    subs = session.execute(
        select(S.id, S.events).where(S.provider_key == provider_key, S.disabled_at.is_(None))
    ).all()
    queued = 0
    now = utcnow()
    for sub_id, events in subs:
        if event not in events.split(","):
            continue
        already = session.execute(
            select(D.id).where(D.subscription_id == sub_id, D.dedupe_key == dedupe[:160])
        ).first()
        if already is not None:
            continue
        event_id = str(uuid.uuid4())
        body = {
            "id": event_id,
            "type": event,
            "created_at": now.isoformat(),
            "provider": provider_key,
            "data": data,
        }
        session.add(
            D(
                subscription_id=sub_id,
                event=event,
                event_id=event_id,
                dedupe_key=dedupe[:160],
                payload=json.dumps(body, sort_keys=True, separators=(",", ":")),
                state="queued",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        queued += 1
    if queued:
        session.flush()
    return queued


def list_deliveries(
    session: Session,
    provider: str | None,
    *,
    subscription_id: int | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[DeliveryView]:
    stmt = select(D).join(S, S.id == D.subscription_id).order_by(D.id.desc()).limit(limit)
    if provider is not None:
        stmt = stmt.where(S.provider_key == provider)
    if subscription_id is not None:
        stmt = stmt.where(D.subscription_id == subscription_id)
    if state is not None:
        stmt = stmt.where(D.state == state)
    return [delivery_view(r) for r in session.execute(stmt).scalars()]


def replay(session: Session, delivery_id: int, *, provider: str | None, actor: str) -> DeliveryView:
    """Queue the same event again (same event id and payload) as a new delivery."""
    row = session.get(D, delivery_id)
    if row is None:
        raise NotFoundError(f"no webhook delivery {delivery_id}")
    sub = _subscription(session, row.subscription_id, provider)  # 404 for another provider
    if sub.disabled_at is not None:
        raise InputError(f"subscription {sub.id} is disabled", code="subscription_disabled")
    now = utcnow()
    again = D(
        subscription_id=row.subscription_id,
        event=row.event,
        event_id=row.event_id,
        dedupe_key=None,
        payload=row.payload,
        state="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        replay_of=row.id,
    )
    session.add(again)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook_replayed",
        outcome="queued",
        details={"delivery": row.id, "replay": again.id, "subscription": sub.id},
    )
    return delivery_view(again)


__all__ = [
    "EVENTS",
    "DeliveryView",
    "SubscriptionView",
    "disable",
    "emit",
    "list_deliveries",
    "list_subscriptions",
    "replay",
    "secret_of",
    "subscribe",
]
