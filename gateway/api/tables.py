"""Tables of gateway.api (registered through gateway.registry).

``api_keys`` holds only a hash of each key's secret (HMAC-SHA256 with the configured pepper,
else plain SHA-256): the key itself is shown once, at creation. ``api_uploads`` remembers which
key uploaded which file, so an uploader sees the files its provider sent before a worker has
parsed them (the registry learns a file's provider only once it is processed).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import utcnow
from gateway.reconcile.tables import Credit


class ApiKey(Base):
    """One API key: who (name), what it may do (role), and for an uploader, whose files."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: public lookup id, the first part of the key (``gw_<key_id>_<secret>``)
    key_id: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    #: uploader keys only: ``providers.key`` of the provider they act for (``npi:…``/``tin:…``)
    provider_key: Mapped[str | None] = mapped_column(String(80), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: "hmac" (peppered) or "sha256"; a key hashed without a pepper keeps working after one is set
    hash_scheme: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiUpload(Base):
    """A file uploaded over HTTP, and the key that uploaded it (one row per key and file)."""

    __tablename__ = "api_uploads"

    file_id: Mapped[int] = mapped_column(ForeignKey("inbound_files.id"), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True, index=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    """A signed-in console browser. The cookie holds a random token; only its SHA-256 is kept,
    so a database dump holds no usable session. Sign-out deletes the row: the old cookie is
    dead at once, whatever its age. ``flash`` is the one-shot status message of the next page
    (server-side, so no link can put text on a page)."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the API key signed in (machines' keys; one of api_key_id and user_id is set)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    #: the person signed in (``gateway.users``, migration 0018)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    flash: Mapped[str | None] = mapped_column(String(500))


#: the API's worklist indexes on reconciliation's ``credits`` (migrations 0009, 0014; see
#: gateway/api/routes/credits.py for the queries they serve)
_ACTIVE = "status <> 'resolved'"
WORKLIST_INDEXES = (
    Index(
        "ix_credits_active_due",
        Credit.due_by,
        Credit.id,
        Credit.amount,
        sqlite_where=text(_ACTIVE),
        postgresql_where=text(_ACTIVE),
    ),
    Index(
        "ix_credits_active_payer",
        Credit.payer_id,
        Credit.cause,
        Credit.government,
        Credit.due_by,
        Credit.amount,
        sqlite_where=text(_ACTIVE),
        postgresql_where=text(_ACTIVE),
    ),
    Index("ix_credits_status_due", Credit.status, Credit.due_by, Credit.id, Credit.amount),
    # government first, each soonest due first (migration 0014)
    Index(
        "ix_credits_active_gov_due",
        Credit.government,
        Credit.due_by,
        Credit.id,
        Credit.amount,
        sqlite_where=text(_ACTIVE),
        postgresql_where=text(_ACTIVE),
    ),
)

__all__ = ["WORKLIST_INDEXES", "ApiKey", "ApiUpload", "ConsoleSession"]
