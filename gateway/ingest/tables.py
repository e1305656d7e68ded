"""Tables of gateway.ingest (registered through gateway.registry).

``file_acks`` holds the TA1/999 owed for one inbound file, rendered once by the worker from
the findings of the parse that processed it (``gateway.ingest.acks``), so that serving them
never parses the file again. ``processed_at`` is the file's own ``processed_at`` the acks were
rendered for: after a replay the stored acks no longer match it and are rendered again.
``x12`` False marks a file that is no X12 interchange (a ledger export): nothing to
acknowledge. Acknowledgments carry no PHI (IK404 copies only amounts, quantities and
non-birth dates; see parsers/ack/x999.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import utcnow


class FileAck(Base):
    """The acknowledgments of one file, in control-number order."""

    __tablename__ = "file_acks"

    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), primary_key=True)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    x12: Mapped[bool] = mapped_column(Boolean)
    #: [{kind, status, note, interchange_control_number, group_control_number,
    #:   control_number, content}]
    acknowledgments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rendered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = ["FileAck"]
