"""Console sessions kept on the server (``console_sessions``), and their flash messages.

The cookie (``v2.<token>``: HttpOnly, SameSite=Strict, Secure over HTTPS) holds 256 random bits
and nothing else; the table holds only the token's SHA-256, who it signs in (a person,
``user_id``, or a machine's API key), its expiry and the flash message of the next page. So
sign-out deletes the row and the old cookie is dead at once (it was a signed cookie that kept
working for 8 hours after sign-out); revoking the key, disabling the user or setting the user's
password ends its sessions at the next request; and no cookie can be forged from the session
secret, which now only derives the CSRF tokens. Expired rows are removed at each sign-in.

A flash message is set by the POST that redirects and shown once by the next rendered page;
status text never comes from the URL, where anyone could write it into a link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from gateway.api.deps import AppContext
from gateway.api.keys import Principal, principal_by_id
from gateway.api.middleware import serialized_write
from gateway.api.tables import ConsoleSession
from gateway.db.types import utcnow
from gateway.users.service import principal_by_user_id

PREFIX = "v2."
S = ConsoleSession


def _hash(cookie: str | None) -> str | None:
    if not cookie or not cookie.startswith(PREFIX) or len(cookie) > 100:
        return None
    return hashlib.sha256(cookie.encode()).hexdigest()


def make_session(ctx: AppContext, principal: Principal) -> str:
    """A new session for ``principal``; returns the cookie value (shown to the browser only)."""
    cookie = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + dt.timedelta(seconds=ctx.settings.session_max_age_seconds)
    with serialized_write(ctx.db) as s:
        s.execute(delete(S).where(S.expires_at < now))
        s.add(
            S(
                token_hash=_hash(cookie),
                api_key_id=principal.id if principal.user_id is None else None,
                user_id=principal.user_id,
                created_at=now,
                expires_at=expires,
            )
        )
    return cookie


@dataclass(frozen=True, slots=True)
class LiveSession:
    principal: Principal
    flash: str | None


def lookup(ctx: AppContext, cookie: str | None) -> LiveSession | None:
    """The signed-in key of a live session (unexpired, not signed out, key not revoked)."""
    digest = _hash(cookie)
    if digest is None:
        return None
    with ctx.db.read() as s:
        row = s.execute(
            select(S.api_key_id, S.user_id, S.created_at, S.flash).where(
                S.token_hash == digest, S.expires_at > utcnow()
            )
        ).first()
        principal = None
        if row is not None and row.user_id is not None:
            principal = principal_by_user_id(s, row.user_id, row.created_at)
        elif row is not None and row.api_key_id is not None:
            principal = principal_by_id(s, row.api_key_id)
    return LiveSession(principal, row.flash) if principal is not None and row else None


def end_session(ctx: AppContext, cookie: str | None) -> None:
    """Sign out: the session row goes, so the cookie is worthless from now on."""
    digest = _hash(cookie)
    if digest is not None:
        with serialized_write(ctx.db) as s:
            s.execute(delete(S).where(S.token_hash == digest))


def set_flash(ctx: AppContext, cookie: str | None, message: str) -> None:
    """The status message the session's next page shows (once)."""
    digest = _hash(cookie)
    if digest is not None:
        with serialized_write(ctx.db) as s:
            s.execute(update(S).where(S.token_hash == digest).values(flash=message[:500]))


def clear_flash(ctx: AppContext, cookie: str | None) -> None:
    digest = _hash(cookie)
    if digest is not None:
        with serialized_write(ctx.db) as s:
            s.execute(update(S).where(S.token_hash == digest).values(flash=None))


def csrf_token(ctx: AppContext, cookie: str) -> str:
    """The CSRF token of the forms of one session (derived, so nothing more is stored)."""
    return hmac.new(ctx.session_secret, f"csrf.{cookie}".encode(), hashlib.sha256).hexdigest()[:40]


__all__ = [
    "LiveSession",
    "clear_flash",
    "csrf_token",
    "end_session",
    "lookup",
    "make_session",
    "set_flash",
]
