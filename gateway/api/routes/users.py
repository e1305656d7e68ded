"""Console users over HTTP (``/v1/users``) and the console's users page, for admins.

Through ``gateway.users.service`` (the CLI's ``gateway users``). Who manages users: in the API,
ops keys (machines, gateway-wide; auditors may list); in the console, admin people. A
provider-scoped admin sees and manages only its provider's users (another provider's user is
"not found") and creates users only for its provider. An admin cannot disable or re-role
itself. Every change is audited with the caller's name; a password never reaches a response,
the audit log or a log line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, SecretStr

from gateway.api.console import (
    ConsoleForbiddenError,
    Csrf,
    Viewer,
    _render,
    cannot_page,
    check_csrf,
    flash,
)
from gateway.api.deps import AppContext, Ctx, OpsOnly, Readers
from gateway.api.keys import Principal
from gateway.api.problems import problem_responses
from gateway.errors import GatewayError
from gateway.security.roles import Role
from gateway.users import service
from gateway.users.passwords import MAX_LENGTH

Username = Annotated[str, PathParam(max_length=64)]
router = APIRouter(prefix="/v1", tags=["users"])
console_router = APIRouter(prefix="/console", include_in_schema=False)


class UserRead(BaseModel):
    """A user as it may be shown (no password hash, ever)."""

    id: int
    username: str
    role: Role
    provider_key: str | None
    created_at: str
    last_login_at: str | None
    disabled: bool


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    role: Role
    provider: str | None = Field(default=None, max_length=80, description="NPI, npi:, tin:")
    password: SecretStr = Field(max_length=MAX_LENGTH + 1, description="Never echoed")


class RoleIn(BaseModel):
    role: Role
    provider: str | None = Field(default=None, max_length=80, description="Move to a provider")


def _read(v: service.UserView) -> UserRead:
    return UserRead(
        id=v.id,
        username=v.username,
        role=Role(v.role),
        provider_key=v.provider_key,
        created_at=v.created_at,
        last_login_at=v.last_login_at,
        disabled=v.disabled,
    )


def list_for(ctx: AppContext, principal: Principal) -> list[UserRead]:
    with ctx.db.read() as s:
        return [_read(v) for v in service.list_users(s, scope=principal.provider_key)]


def create(ctx: AppContext, principal: Principal, body: UserIn) -> UserRead:
    with ctx.db.write() as s:
        return _read(
            service.add_user(
                s,
                username=body.username,
                role=body.role,
                provider=body.provider,
                password=body.password.get_secret_value(),
                actor=principal.actor,
                scope=principal.provider_key,
            )
        )


def disable(ctx: AppContext, principal: Principal, username: str) -> UserRead:
    with ctx.db.write() as s:
        return _read(
            service.disable_user(s, username, actor=principal.actor, scope=principal.provider_key)
        )


def set_role(ctx: AppContext, principal: Principal, username: str, body: RoleIn) -> UserRead:
    with ctx.db.write() as s:
        return _read(
            service.set_role(
                s,
                username,
                body.role,
                actor=principal.actor,
                provider=body.provider,
                scope=principal.provider_key,
            )
        )


@router.get("/users", responses=problem_responses(401, 403))
def users(ctx: Ctx, principal: Readers) -> list[UserRead]:
    """Every console user with role, provider and state."""
    return list_for(ctx, principal)


@router.post("/users", responses=problem_responses(400, 401, 403, 409), status_code=201)
def users_create(ctx: Ctx, principal: OpsOnly, body: UserIn) -> UserRead:
    """Create a console user (argon2id-hashed password; 409 when the name is taken)."""
    return create(ctx, principal, body)


@router.post("/users/{username}/disable", responses=problem_responses(400, 401, 403, 404, 409))
def users_disable(ctx: Ctx, principal: OpsOnly, username: Username) -> UserRead:
    """Disable a user: no more sign-ins; its console sessions end at the next request."""
    return disable(ctx, principal, username)


@router.post("/users/{username}/role", responses=problem_responses(400, 401, 403, 404))
def users_role(ctx: Ctx, principal: OpsOnly, username: Username, body: RoleIn) -> UserRead:
    """Change a user's role (and provider); applies at the user's next request."""
    return set_role(ctx, principal, username, body)


# ---------------------------------------------------------------- console


def console_admin(principal: Viewer) -> Principal:
    if principal.role is not Role.ADMIN:
        raise ConsoleForbiddenError("only admins manage users")
    return principal


Admin = Annotated[Principal, Depends(console_admin)]


@console_router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, ctx: Ctx, principal: Admin) -> HTMLResponse:
    return _render(
        ctx, request, "users.html", rows=list_for(ctx, principal), roles=[r.value for r in Role]
    )


@console_router.post("/users", response_model=None)
def users_create_form(
    request: Request,
    ctx: Ctx,
    principal: Admin,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    provider: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=MAX_LENGTH + 1)] = "",
) -> Response:
    check_csrf(request, csrf)
    if role not in Role.__members__.values():
        return _render(ctx, request, "message.html", 400, title="Cannot add", message="bad role")
    try:
        body = UserIn(
            username=username,
            role=Role(role),
            provider=provider or None,
            password=SecretStr(password),
        )
        view = create(ctx, principal, body)
    except GatewayError as exc:
        return cannot_page(ctx, request, "add the user", exc)
    flash(ctx, request, f"user {view.username} added ({view.role.value})")
    return RedirectResponse("/console/users", status_code=303)


@console_router.post("/users/{username}/disable", response_model=None)
def users_disable_form(
    request: Request, ctx: Ctx, principal: Admin, username: Username, csrf: Csrf
) -> Response:
    check_csrf(request, csrf)
    try:
        view = disable(ctx, principal, username)
    except GatewayError as exc:
        return cannot_page(ctx, request, "disable the user", exc)
    flash(ctx, request, f"user {view.username} disabled")
    return RedirectResponse("/console/users", status_code=303)


@console_router.post("/users/{username}/role", response_model=None)
def users_role_form(
    request: Request,
    ctx: Ctx,
    principal: Admin,
    username: Username,
    csrf: Csrf,
    role: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    check_csrf(request, csrf)
    if role not in Role.__members__.values():
        return _render(ctx, request, "message.html", 400, title="Cannot change", message="bad role")
    try:
        view = set_role(ctx, principal, username, RoleIn(role=Role(role)))
    except GatewayError as exc:
        return cannot_page(ctx, request, "change the role", exc)
    flash(ctx, request, f"user {view.username} is now {view.role.value}")
    return RedirectResponse("/console/users", status_code=303)


__all__ = ["UserRead", "console_router", "router"]
