"""Append-only audit log: who did what to which file, when, why, and how it ended.

Only ``record`` writes here; nothing in the gateway updates or deletes audit rows. Entries are
written inside the caller's transaction so an audited change and its audit entry commit
together. Reasons and details must not carry PHI (ids, codes and counts only).
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.db.models import AuditEntry, tbl, utcnow


def current_actor(explicit: str | None = None) -> str:
    """The person or process acting: ``--actor``, else ``$USER``, else the OS login name."""
    if explicit:
        return explicit
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str,
    file_id: int | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry in the caller's transaction."""
    session.execute(
        insert(tbl(AuditEntry)).values(
            at=utcnow(), actor=actor[:128], action=action, file_id=file_id,
            outcome=outcome, reason=reason, details=details,
        )
    )
