"""Users: add, list, disable, set a password, and sign in (to a ``Principal``).

A user's role is one of ``USER_ROLES``; an uploader must name its provider, any other role may
(a provider-scoped analyst works one client's accounts). Every change is an audit entry naming
who made it; the password and its hash never reach the audit log, a log line or a response.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import utcnow
from gateway.errors import InputError, NotFoundError
from gateway.security.principal import Principal, normalise_provider
from gateway.security.roles import USER_ROLES, Role
from gateway.users import passwords
from gateway.users.tables import User

_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


@dataclass(frozen=True, slots=True)
class UserView:
    """What may be shown of a user (no hash, ever)."""

    id: int
    username: str
    role: str
    provider_key: str | None
    created_at: str
    last_login_at: str | None
    disabled: bool


def _view(row: User) -> UserView:
    return UserView(
        row.id,
        row.username,
        row.role,
        row.provider_key,
        row.created_at.isoformat(),
        row.last_login_at.isoformat() if row.last_login_at else None,
        row.disabled_at is not None,
    )


def principal_of(row: User) -> Principal:
    """The console principal of a user (``id`` 0: no API key; the actor is ``user:<name>``)."""
    return Principal(0, "", row.username, Role(row.role), row.provider_key, user_id=row.id)


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not _NAME.match(name):
        raise InputError(
            "a username is 2-64 lower-case letters, digits, '.', '_', '@' or '-'",
            code="bad_username",
        )
    return name


def _get(session: Session, username: str, scope: str | None = None) -> User:
    """The user; ``scope`` (a provider key): only that provider's users exist for the caller
    (another provider's user, or a gateway-wide one, is "not found" like an unknown name)."""
    row = session.execute(
        select(User).where(User.username == normalise_username(username))
    ).scalar_one_or_none()
    if row is None or (scope is not None and row.provider_key != scope):
        raise NotFoundError(f"no user named {username.strip().lower()!r}", code="user_not_found")
    return row


def _scoped_provider(provider: str | None, scope: str | None) -> str | None:
    provider_key = normalise_provider(provider) if provider else None
    if scope is None:
        return provider_key
    if provider_key not in (None, scope):
        raise InputError(
            "a provider-scoped admin manages only its own provider's users",
            code="provider_forbidden",
        )
    return scope


def add_user(
    session: Session,
    *,
    username: str,
    role: Role,
    provider: str | None,
    password: str,
    actor: str,
    scope: str | None = None,
) -> UserView:
    """Create a user with an argon2id-hashed password (``scope``: the creating admin's
    provider; its users are that provider's)."""
    name = normalise_username(username)
    if role not in USER_ROLES:
        raise InputError(f"{role.value!r} is not a user role", code="bad_role")
    provider_key = _scoped_provider(provider, scope)
    if role is Role.UPLOADER and provider_key is None:
        raise InputError("an uploader user needs --provider", code="provider_required")
    if session.execute(select(User.id).where(User.username == name)).first() is not None:
        raise InputError(f"a user named {name!r} already exists", code="user_exists")
    now = utcnow()
    row = User(
        username=name,
        role=role.value,
        provider_key=provider_key,
        password_hash=passwords.hash_password(password),
        created_at=now,
        password_changed_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user_created",
        outcome="created",
        details={"user": name, "role": role.value, "provider": provider_key},
    )
    return _view(row)


def list_users(session: Session, *, scope: str | None = None) -> list[UserView]:
    """Every user (``scope``: only that provider's)."""
    stmt = select(User).order_by(User.id)
    if scope is not None:
        stmt = stmt.where(User.provider_key == scope)
    return [_view(r) for r in session.execute(stmt).scalars()]


def disable_user(
    session: Session, username: str, *, actor: str, scope: str | None = None
) -> UserView:
    """Disable a user: no more sign-ins, and its open sessions end at the next request."""
    row = _get(session, username, scope)
    if actor == f"user:{row.username}":
        raise InputError("you cannot disable yourself; ask another admin", code="self_change")
    if row.disabled_at is not None:
        raise InputError(f"user {row.username!r} is already disabled", code="already_disabled")
    row.disabled_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="user_disabled",
        outcome="disabled",
        details={"user": row.username},
    )
    return _view(row)


def set_role(
    session: Session,
    username: str,
    role: Role,
    *,
    actor: str,
    provider: str | None = None,
    scope: str | None = None,
) -> UserView:
    """Change a user's role (and, gateway-wide, its provider); audited. A console session
    re-reads its user at every request, so the new role applies at the user's next page."""
    row = _get(session, username, scope)
    if role not in USER_ROLES:
        raise InputError(f"{role.value!r} is not a user role", code="bad_role")
    if actor == f"user:{row.username}":
        raise InputError("you cannot change your own role; ask another admin", code="self_change")
    provider_key = _scoped_provider(provider, scope) if provider or scope else row.provider_key
    if role is Role.UPLOADER and provider_key is None:
        raise InputError("an uploader user needs a provider", code="provider_required")
    before = (row.role, row.provider_key)
    row.role, row.provider_key = role.value, provider_key
    audit.record(
        session,
        actor=actor,
        action="user_role_set",
        outcome=role.value,
        details={
            "user": row.username,
            "role": role.value,
            "provider": provider_key,
            "previous_role": before[0],
            "previous_provider": before[1],
        },
    )
    return _view(row)


def set_password(session: Session, username: str, password: str, *, actor: str) -> UserView:
    """Replace a user's password (its open sessions end: they predate the change)."""
    row = _get(session, username)
    row.password_hash = passwords.hash_password(password)
    row.password_changed_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="user_password_set",
        outcome="changed",
        details={"user": row.username},
    )
    return _view(row)


def authenticate_user(session: Session, username: str, password: str) -> Principal | None:
    """The principal of an enabled user whose password matches, else None (same cost)."""
    try:
        name = normalise_username(username)
    except InputError:
        passwords.verify(None, password)
        return None
    row = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if row is None or row.disabled_at is not None:
        passwords.verify(None, password)
        return None
    if not passwords.verify(row.password_hash, password):
        return None
    return principal_of(row)


def record_login(session: Session, user_id: int, password: str, *, client: str) -> None:
    """Remember the sign-in (audited, naming the person), and rehash a password stored with
    weaker parameters than today's (the only moment the password is at hand)."""
    row = session.get(User, user_id)
    if row is None:
        return
    row.last_login_at = utcnow()
    if passwords.needs_rehash(row.password_hash):
        row.password_hash = passwords.hash_password(password)
    audit.record(
        session,
        actor=f"user:{row.username}",
        action="console_login",
        outcome="signed_in",
        details={"user": row.username, "client": client},
    )


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)  # SQLite: naive UTC


def principal_by_user_id(
    session: Session, user_id: int, signed_in_at: dt.datetime
) -> Principal | None:
    """The principal of a console session's user: None when the user is disabled or its
    password changed after ``signed_in_at`` (a reset ends every older session)."""
    row = session.get(User, user_id)
    if row is None or row.disabled_at is not None:
        return None
    if _aware(row.password_changed_at) > _aware(signed_in_at):
        return None
    return principal_of(row)


__all__ = [
    "UserView",
    "add_user",
    "authenticate_user",
    "disable_user",
    "list_users",
    "normalise_username",
    "principal_by_user_id",
    "principal_of",
    "record_login",
    "set_password",
    "set_role",
]
