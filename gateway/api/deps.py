"""Per-app context and the dependencies routes share: context, caller, role checks, scoping.

Everything hangs off ``app.state.ctx`` (built by ``create_app``), never a module global, so two
apps with different settings can live in one process (tests do exactly that).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from sqlalchemy import ColumnElement, or_, select

from gateway.api.keys import KeyCache, Principal, Role
from gateway.api.problems import ApiError
from gateway.api.signin import FailureLimiter, record_failure, refused
from gateway.api.tables import ApiKey, ApiUpload
from gateway.db.base import Database
from gateway.db.models import InboundFile, Provider
from gateway.settings import Settings
from gateway.store.base import RawStore

ALL_ROLES = (Role.UPLOADER, Role.OPS, Role.AUDITOR)


@dataclass
class AppContext:
    """What every request needs: settings, database, raw store, templates, metrics."""

    settings: Settings
    db: Database
    store: RawStore
    templates: Jinja2Templates
    registry: CollectorRegistry
    session_secret: bytes
    #: verified keys, trusted for a few seconds (see gateway.api.keys.KeyCache)
    keys: KeyCache = field(default_factory=KeyCache)
    #: failed sign-ins per client address (API and console; see gateway.api.signin)
    sign_ins: FailureLimiter = field(default_factory=FailureLimiter)

    @property
    def pepper(self) -> str | None:
        p = self.settings.api_key_pepper
        return p.get_secret_value() if p is not None else None

    @classmethod
    def session_secret_from(cls, settings: Settings) -> bytes:
        if settings.session_secret is not None:
            return settings.session_secret.get_secret_value().encode()
        return secrets.token_bytes(32)


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]

_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="gateway"'}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _route(request: Request) -> str:
    return str(getattr(request.scope.get("route"), "path", request.url.path))


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"too many failed sign-ins from this address; retry in {retry_after} s",
        code="too_many_failures",
        headers={"Retry-After": str(retry_after)},
    )


async def current_principal(request: Request, ctx: Ctx) -> Principal:
    """The caller, from ``Authorization: Bearer KEY``; 401 when missing, malformed or revoked.

    Async so a recently verified key costs no thread hop; the database is only read (in the
    thread pool) on a cache miss. A presented key that fails is audited and counted; a client
    over the failure limit gets 429 whatever it presents (``gateway.api.signin``).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "an API key is required: send 'Authorization: Bearer KEY'",
            code="missing_key",
            headers=_UNAUTHORIZED,
        )
    client = _client(request)
    wait = ctx.sign_ins.retry_after(client)
    if wait is not None:
        refused(client, _route(request), wait)
        raise rate_limited(wait)
    if scheme.lower() != "bearer" or not token.strip():
        await _failed(request, ctx, client, "bad_authorization", header)
        raise ApiError(
            401,
            "the Authorization header must be 'Bearer KEY'",
            code="bad_authorization",
            headers=_UNAUTHORIZED,
        )
    principal = ctx.keys.cached(token, ctx.pepper)
    if principal is None:
        principal = await run_in_threadpool(ctx.keys.authenticate, ctx.db, token, ctx.pepper)
    if principal is None:
        await _failed(request, ctx, client, "invalid_key", token)
        raise ApiError(
            401,
            "the API key is not valid (unknown, wrong or revoked)",
            code="invalid_key",
            headers=_UNAUTHORIZED,
        )
    request.state.principal = principal
    return principal


async def _failed(
    request: Request, ctx: AppContext, client: str, code: str, presented: str
) -> None:
    await run_in_threadpool(
        record_failure,
        ctx.db,
        ctx.sign_ins,
        action="api_auth_failed",
        client=client,
        method=request.method,
        route=_route(request),
        code=code,
        presented=presented,
        outcome=401,
    )


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (403 for any other valid key)."""
    allowed = frozenset(roles)

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise ApiError(
                403,
                f"the {principal.role.value} role may not do this (allowed: {names})",
                code="forbidden",
            )
        return principal

    return dependency


AnyRole = Annotated[Principal, Depends(require(*ALL_ROLES))]
OpsOnly = Annotated[Principal, Depends(require(Role.OPS))]
Uploaders = Annotated[Principal, Depends(require(Role.UPLOADER, Role.OPS))]
Readers = Annotated[Principal, Depends(require(Role.OPS, Role.AUDITOR))]


def file_scope(principal: Principal) -> ColumnElement[bool] | None:
    """Condition limiting ``inbound_files`` to what ``principal`` may see (None: everything).

    A caller tied to a provider (an uploader key; a provider-scoped console user of any role)
    sees files whose parsed provider is its provider, and files uploaded by any key of its
    provider (those are visible before a worker has parsed them).
    """
    pk = principal.provider_key
    if pk is None:
        if principal.role is Role.UPLOADER:  # never: uploaders always have one (fail closed)
            return InboundFile.id.is_(None)
        return None
    by_provider = InboundFile.provider_id.in_(select(Provider.id).where(Provider.key == pk))
    by_upload = InboundFile.id.in_(
        select(ApiUpload.file_id)
        .join(ApiKey, ApiKey.id == ApiUpload.api_key_id)
        .where(ApiKey.provider_key == pk)
    )
    return or_(by_provider, by_upload)


__all__ = [
    "ALL_ROLES",
    "AnyRole",
    "AppContext",
    "Ctx",
    "OpsOnly",
    "Readers",
    "Uploaders",
    "current_principal",
    "file_scope",
    "get_ctx",
    "rate_limited",
    "require",
]
