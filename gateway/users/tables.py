"""The ``users`` table (registered through gateway.db.registry; migration 0018).

Only an argon2id hash of each password is stored (``gateway.users.passwords``); a disabled user
keeps its row (the audit log names it) but can no longer sign in, and its sessions end at the
next request.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import utcnow


class User(Base):
    """One person: a login name, a role, and (optionally) the one provider they act for."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: ``providers.key`` (``npi:…``/``tin:…``) of the only provider this user may see; None: all
    provider_key: Mapped[str | None] = mapped_column(String(80), index=True)
    #: argon2id PHC string (``$argon2id$v=19$m=…``); never returned by any command or page
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow
    )
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = ["User"]
