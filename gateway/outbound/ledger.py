"""Delivery receipts: the record that a file reached a partner, and the guard against resending.

``DeliveryLedger`` is the port; ``JsonlDeliveryLedger`` keeps receipts as fsynced JSON lines (one
per delivery) until the database-backed ledger replaces it. Several processes may share the file:
appends take an exclusive ``flock`` and readers pick up lines appended by others.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gateway.logging import get_logger

log = get_logger("gateway.outbound")


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one delivery: which partner, where, how many bytes, which content, when."""

    partner_id: str
    remote_path: str
    size: int
    sha256: str
    delivered_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class DeliveryLedger(Protocol):
    def already_delivered(self, partner_id: str, sha256: str, remote_name: str) -> Receipt | None:
        """The receipt for this content at this remote path (``remote_name``), if any."""

    def record(self, receipt: Receipt) -> None:
        """Persist a receipt durably before returning."""


class JsonlDeliveryLedger:
    """Receipts as JSON lines, fsynced; a torn last line from a crash is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._index: dict[tuple[str, str, str], Receipt] = {}
        self._offset = 0

    def _refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # a line still being written, or torn by a crash: not a receipt
                self._offset += len(raw)
                try:
                    r = Receipt(**json.loads(raw))
                except (ValueError, TypeError):
                    log.warning("delivery_ledger_bad_line", path=str(self.path),
                                offset=self._offset - len(raw))
                    continue
                self._index[(r.partner_id, r.sha256, r.remote_path)] = r

    def already_delivered(self, partner_id: str, sha256: str, remote_name: str) -> Receipt | None:
        with self._lock:
            self._refresh()
            return self._index.get((partner_id, sha256, remote_name))

    def record(self, receipt: Receipt) -> None:
        line = (json.dumps(asdict(receipt), sort_keys=True) + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    os.write(fd, b"\n")  # seal a torn line so ours stands alone
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._index[(receipt.partner_id, receipt.sha256, receipt.remote_path)] = receipt

    def receipts(self) -> list[Receipt]:
        with self._lock:
            self._refresh()
            return list(self._index.values())


__all__ = ["DeliveryLedger", "JsonlDeliveryLedger", "Receipt"]
