"""Outbound delivery to trading partners: SFTP upload as a temp name, verify, rename, receipt."""

from __future__ import annotations

from gateway.outbound.deliver import DeliveryResult, RemoteConflictError, deliver_file
from gateway.outbound.ledger import DeliveryLedger, JsonlDeliveryLedger, Receipt

__all__ = [
    "DeliveryLedger",
    "DeliveryResult",
    "JsonlDeliveryLedger",
    "Receipt",
    "RemoteConflictError",
    "deliver_file",
]
