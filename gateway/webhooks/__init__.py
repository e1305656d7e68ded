"""Outbound webhooks for integrators: per-provider subscriptions, an outbox of deliveries
written in the same transaction as the event, HMAC-SHA256 signatures, retries with backoff,
a delivery log, and replay. The receiver's side is documented in docs/webhooks.md.
"""
