"""Outbound delivery to trading partners: a database-backed queue, SFTP upload under a temp name,
verify, rename, receipt; and the acknowledgments owed for pulled files."""

from __future__ import annotations

from gateway.outbound.deliver import DeliveryResult, RemoteConflictError, deliver_file
from gateway.outbound.ledger import DbDeliveryLedger, DbFailureLog, DeliveryLedger, Receipt

__all__ = [
    "DbDeliveryLedger",
    "DbFailureLog",
    "DeliveryLedger",
    "DeliveryResult",
    "Receipt",
    "RemoteConflictError",
    "deliver_file",
]
