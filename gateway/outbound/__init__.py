"""Outbound delivery to trading partners: a database-backed queue, SFTP upload under a temp name,
verify, rename, receipt; and the acknowledgments owed for pulled files.

The names below load on first use (PEP 562), so reading the failure ledger
(``gateway.outbound.receipts``, ``gateway failures``) does not import paramiko through ``deliver``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.outbound.deliver import DeliveryResult, RemoteConflictError, deliver_file
    from gateway.outbound.receipts import DbDeliveryLedger, DbFailureLog, DeliveryLedger, Receipt

_HOME = {
    **dict.fromkeys(
        ("DeliveryResult", "RemoteConflictError", "deliver_file"), "gateway.outbound.deliver"
    ),
    **dict.fromkeys(
        ("DbDeliveryLedger", "DbFailureLog", "DeliveryLedger", "Receipt"),
        "gateway.outbound.receipts",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:  # not ours: lets ``from gateway.outbound import queue`` find the submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "DbDeliveryLedger",
    "DbFailureLog",
    "DeliveryLedger",
    "DeliveryResult",
    "Receipt",
    "RemoteConflictError",
    "deliver_file",
]
