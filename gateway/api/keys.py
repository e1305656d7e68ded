"""API keys: creation (shown once), hashing, constant-time verification, revocation.

A key reads ``gw_<key_id>_<secret>``. ``key_id`` is a public lookup handle; only a hash of the
secret is stored: HMAC-SHA256 keyed with ``GATEWAY_API_KEY_PEPPER`` when it is set (a stolen
database alone then cannot be used to test guesses), else SHA-256. Secrets carry 256 random
bits, so a fast hash is enough; comparison uses ``hmac.compare_digest``.

``last_used_at`` is bookkeeping, not part of authentication: it is written at most once per
``TOUCH_EVERY`` per key and process, by a background thread (``Toucher``) that coalesces the
refreshes due, and a failed write (the database locked or full) is logged and dropped. So an
authenticated read never waits on, or fails for, a write.

Verification is cached per process (``KeyCache``) for ``CACHE_SECONDS``: a key revoked by
another process (``gateway keys revoke``, another replica) is refused at most that long after
the revocation commits; one revoked in this process is refused at once (``revoke_key`` empties
every cache of the process). The secret is still checked against the stored hash on every
request; only the database read is saved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.api.tables import ApiKey
from gateway.db.base import Database
from gateway.db.types import utcnow
from gateway.errors import InputError, NotFoundError
from gateway.logging import get_logger
from gateway.security.principal import TOUCH_EVERY as TOUCH_EVERY
from gateway.security.principal import Principal as Principal
from gateway.security.principal import normalise_provider as normalise_provider
from gateway.security.roles import KEY_ROLES
from gateway.security.roles import Role as Role

log = get_logger("gateway.api.keys")

PREFIX = "gw"
_KEY = re.compile(r"^gw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
#: how long a verified key is trusted without re-reading it (the revocation delay across
#: processes; revocations in the same process take effect immediately)
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CreatedKey:
    principal: Principal
    #: the full key; shown once and never stored
    key: str


def hash_secret(secret: str, pepper: str | None) -> tuple[str, str]:
    """(scheme, hex digest) of a secret."""
    if pepper:
        return "hmac", hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()
    return "sha256", hashlib.sha256(secret.encode()).hexdigest()


def _matches(secret: str, scheme: str, stored: str, pepper: str | None) -> bool:
    if scheme == "hmac":
        if not pepper:
            return False
        digest = hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()
    else:
        digest = hashlib.sha256(secret.encode()).hexdigest()
    return hmac.compare_digest(digest, stored)


def _principal(row: ApiKey) -> Principal:
    return Principal(
        row.id, row.key_id, row.name, Role(row.role), row.provider_key, row.last_used_at
    )


def create_key(
    session: Session, *, name: str, role: Role, provider: str | None, pepper: str | None, actor: str
) -> CreatedKey:
    """Create a key; the returned ``key`` string is the only copy of the secret."""
    if not _NAME.match(name):
        raise InputError(
            "a key name is 1-100 letters, digits, '.', '_', '@' or '-'", code="bad_key_name"
        )
    if role not in KEY_ROLES:
        raise InputError(
            f"an API key cannot be {role.value}: people sign in as users (gateway users add)",
            code="bad_role",
        )
    provider_key = normalise_provider(provider) if provider else None
    if role is Role.UPLOADER and provider_key is None:
        raise InputError(
            "an uploader key needs --provider (the NPI it uploads for)", code="provider_required"
        )
    if role is not Role.UPLOADER and provider_key is not None:
        raise InputError("only uploader keys are tied to a provider", code="bad_provider")
    if session.execute(select(ApiKey.id).where(ApiKey.name == name)).first() is not None:
        raise InputError(f"a key named {name!r} already exists", code="key_exists")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    scheme, digest = hash_secret(secret, pepper)
    row = ApiKey(
        key_id=key_id,
        name=name,
        role=role.value,
        provider_key=provider_key,
        secret_hash=digest,
        hash_scheme=scheme,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key_created",
        outcome="created",
        details={"key": name, "key_id": key_id, "role": role.value, "provider": provider_key},
    )
    return CreatedKey(_principal(row), f"{PREFIX}_{key_id}_{secret}")


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.execute(select(ApiKey).order_by(ApiKey.id)).scalars())


def revoke_key(session: Session, name_or_id: str, *, actor: str) -> ApiKey:
    """Revoke by name or key id; revoking twice is an error (nothing changed)."""
    row = session.execute(
        select(ApiKey).where(or_(ApiKey.name == name_or_id, ApiKey.key_id == name_or_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no API key named or with id {name_or_id!r}")
    if row.revoked_at is not None:
        raise InputError(f"key {row.name!r} is already revoked", code="already_revoked")
    row.revoked_at = utcnow()
    _revoked_in_process(session)
    audit.record(
        session,
        actor=actor,
        action="api_key_revoked",
        outcome="revoked",
        details={"key": row.name, "key_id": row.key_id},
    )
    return row


def parse_key(token: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    m = _KEY.match(token.strip())
    return (m.group(1), m.group(2)) if m else None


def authenticate(session: Session, token: str, pepper: str | None) -> Principal | None:
    """The principal of a valid, unrevoked key, else None (callers answer 401 either way)."""
    parsed = parse_key(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = session.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one_or_none()
    if row is None:
        # compare anyway so an unknown key id costs the same as a wrong secret
        _matches(secret, "sha256", "0" * 64, pepper)
        return None
    if not _matches(secret, row.hash_scheme, row.secret_hash, pepper) or row.revoked_at:
        return None
    return _principal(row)


def principal_by_id(session: Session, key_pk: int) -> Principal | None:
    """The principal of an unrevoked key by primary key (console sessions)."""
    row = session.get(ApiKey, key_pk)
    if row is None or row.revoked_at is not None:
        return None
    return _principal(row)


def touch(session: Session, key_pk: int, now: dt.datetime) -> None:
    """Refresh ``last_used_at`` unless it was refreshed within ``TOUCH_EVERY``."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_pk,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - TOUCH_EVERY),
        )
        .values(last_used_at=now)
    )


class Toucher:
    """Writes ``last_used_at`` refreshes off the request path, coalesced per key.

    ``submit`` never blocks on the database: it records the refresh and makes sure one daemon
    thread is draining. The thread writes every pending refresh in one transaction and ends
    when nothing is left; a failure drops the batch (the next refresh is due ``TOUCH_EVERY``
    later anyway).
    """

    def __init__(self) -> None:
        self._pending: dict[int, dt.datetime] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, db: Database, key_pk: int, when: dt.datetime) -> None:
        with self._lock:
            self._pending[key_pk] = when
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._drain, args=(db,), name="api-key-touch", daemon=True
                )
                self._thread.start()

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait for the pending refreshes to be written (tests, shutdown); True when done."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _drain(self, db: Database) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, {}
                if not batch:
                    self._thread = None
                    return
            try:
                with db.write() as s:
                    for key_pk, when in batch.items():
                        touch(s, key_pk, when)
            except Exception as exc:  # noqa: BLE001 - bookkeeping only: never worth failing a request
                log.warning("api_key_touch_skipped", keys=len(batch), error_type=type(exc).__name__)


class _Revocations:
    """A per-process counter bumped by every revocation, so caches can drop what they hold."""

    generation = 0


def _bump() -> None:
    _Revocations.generation += 1


def _revoked_in_process(session: Session) -> None:
    # Now (a racing lookup must not keep the key) and again once the revocation commits
    # (a lookup between the two read the row before the commit and cached it as valid).
    _bump()
    event.listen(session, "after_commit", lambda _s: _bump(), once=True)


@dataclass(slots=True)
class _Cached:
    key_pk: int
    scheme: str
    digest: str
    revoked: bool
    principal: Principal
    expires: float


@dataclass
class KeyCache:
    """Verified keys of one app, trusted for ``ttl`` seconds; ``last_used_at`` throttled.

    Unknown key ids are never cached (an attacker could fill the cache with them); known keys
    are few. ``last_used_at`` is written at most once per ``TOUCH_EVERY`` per key and process,
    in the background (``Toucher``), so an authenticated read stays a read.
    """

    ttl: float = CACHE_SECONDS
    _entries: dict[str, _Cached] = field(default_factory=dict)
    _touched: dict[int, float] = field(default_factory=dict)
    _generation: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)
    toucher: Toucher = field(default_factory=Toucher)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def cached(self, token: str, pepper: str | None) -> Principal | None:
        """The principal when this can be answered without the database, else None.

        None means "ask ``authenticate``" (a miss, an expired entry, a rejection, or a
        ``last_used_at`` refresh due): it never blocks, so the event loop may call it.
        """
        parsed = parse_key(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        now = time.monotonic()
        with self._lock:
            if self._generation != _Revocations.generation:
                return None
            entry = self._entries.get(key_id)
            if entry is None or entry.expires <= now or entry.revoked:
                return None
            last = self._touched.get(entry.key_pk)
            if last is None or now - last >= TOUCH_EVERY.total_seconds():
                return None
        if not _matches(secret, entry.scheme, entry.digest, pepper):
            return None
        return entry.principal

    def authenticate(self, db: Database, token: str, pepper: str | None) -> Principal | None:
        """Like ``authenticate``, reading the database only on a miss or after ``ttl``."""
        parsed = parse_key(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        now = time.monotonic()
        with self._lock:
            if self._generation != _Revocations.generation:
                self._entries.clear()
                self._generation = _Revocations.generation
            entry = self._entries.get(key_id)
        if entry is None or entry.expires <= now:
            generation = _Revocations.generation
            with db.read() as s:
                row = s.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one_or_none()
                if row is None:
                    _matches(secret, "sha256", "0" * 64, pepper)
                    return None
                entry = _Cached(
                    row.id,
                    row.hash_scheme,
                    row.secret_hash,
                    row.revoked_at is not None,
                    _principal(row),
                    now + self.ttl,
                )
            with self._lock:
                if generation == _Revocations.generation:  # no revocation raced the read
                    self._entries[key_id] = entry
        if not _matches(secret, entry.scheme, entry.digest, pepper) or entry.revoked:
            return None
        self._touch(db, entry.key_pk, entry.principal)
        return entry.principal

    def _touch(self, db: Database, key_pk: int, principal: Principal) -> None:
        now = time.monotonic()
        every = TOUCH_EVERY.total_seconds()
        with self._lock:
            last = self._touched.get(key_pk)
            if last is None and not principal.needs_touch:
                # fresh in the database already (another process touched it)
                self._touched[key_pk] = now
                return
            if last is not None and now - last < every:
                return
            self._touched[key_pk] = now
        self.toucher.submit(db, key_pk, utcnow())


__all__ = [
    "CACHE_SECONDS",
    "CreatedKey",
    "KeyCache",
    "Principal",
    "Role",
    "Toucher",
    "authenticate",
    "create_key",
    "hash_secret",
    "list_keys",
    "normalise_provider",
    "parse_key",
    "principal_by_id",
    "revoke_key",
    "touch",
]
