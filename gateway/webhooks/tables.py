"""Tables of gateway.webhooks (registered through gateway.db.registry; migration 0019).

``webhook_subscriptions.secret_sealed`` holds the signing secret sealed with the data-key ring
(``gateway.security.columns``): it is shown once, at creation, and never returned again.
``webhook_deliveries`` is the outbox and the delivery log at once: a row is written in the
transaction of the event it announces, so an event committed is an event that will be sent,
and ``(subscription_id, dedupe_key)`` is unique so the same event is never queued twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import utcnow


class WebhookSubscription(Base):
    """Where one provider's events of some types are posted."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(80), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: comma-separated event types, sorted (``file.quarantined,batch.delivered``)
    events: Mapped[str] = mapped_column(String(400))
    secret_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event for one subscription: queued, being sent, delivered or failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    #: the event's id, the same in every delivery of it (receivers de-duplicate on it)
    event_id: Mapped[str] = mapped_column(String(36))
    #: what makes the event unique per subscription; None for a replay
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    payload: Mapped[str] = mapped_column(Text)
    #: queued | delivering | delivered | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: the delivery this one replays
    replay_of: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id"))


__all__ = ["WebhookDelivery", "WebhookSubscription"]
