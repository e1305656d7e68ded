"""Ops console: server-rendered pages (Jinja2, no JavaScript) from the same app.

A person signs in with a username and password (``gateway.users``: argon2id, per-person roles,
optionally one provider); a machine's ops or auditor API key still signs in too. A refused
sign-in is audited, and too many from one address are answered 429 (``gateway.api.signin``);
the browser then holds only a session cookie whose session lives on the server
(``gateway.api.sessions``): sign-out ends it there, and revoking the key or disabling the user
ends its sessions at the next request. A provider-scoped user sees only its provider's files.
Every POST form carries a CSRF token derived from the session (before sign-in: a double-submit
cookie). Status messages after an action are the session's flash message, never text from the
URL. Every console response carries the headers of ``gateway.api.headers`` (CSP without inline
script or style, no framing, no sniffing, no referrer, no caching of pages that show PHI).

This module is what every console page shares: the signed-in principal, CSRF, rendering,
flash messages and the redirect/forbidden handlers. The sign-in and sign-out pages are
``gateway.api.console_signin``; the dashboard, failures and file pages
``gateway.api.console_files``; the other pages live with their API routes
(``gateway.api.routes``).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.deps import AppContext, Ctx
from gateway.api.keys import Principal, Role
from gateway.api.sessions import (
    clear_flash,
    csrf_token,
    lookup,
    make_session,
    set_flash,
)
from gateway.errors import GatewayError
from gateway.security.roles import USER_ROLES

router = APIRouter(prefix="/console", include_in_schema=False)
SESSION_COOKIE = "gw_session"
#: roles of API keys that may sign in to the console (people: every user role)
CONSOLE_ROLES = frozenset({Role.OPS, Role.AUDITOR})


class LoginRequiredError(Exception):
    """No valid console session: send the browser to the sign-in page."""


class ConsoleForbiddenError(Exception):
    """Signed in, but the role may not do this."""


def console_principal(request: Request, ctx: Ctx) -> Principal:
    cookie = request.cookies.get(SESSION_COOKIE)
    live = lookup(ctx, cookie)
    if live is None or not may_use_console(live.principal):
        raise LoginRequiredError
    request.state.principal = live.principal
    request.state.csrf = csrf_token(ctx, cookie or "")
    request.state.flash = live.flash
    return live.principal


def may_use_console(principal: Principal) -> bool:
    """Every user role; of API keys only ops and auditor."""
    if principal.user_id is not None:
        return principal.role in USER_ROLES
    return principal.role in CONSOLE_ROLES


def unscoped_principal(request: Request, ctx: Ctx) -> Principal:
    """A signed-in caller who sees every provider: the pages that do not filter by provider
    yet (credits, batches) refuse a provider-scoped user (fail closed)."""
    principal = console_principal(request, ctx)
    if principal.provider_key is not None:
        raise ConsoleForbiddenError("this page is not available to a provider-scoped user")
    return principal


def flash(ctx: AppContext, request: Request, message: str) -> None:
    """Show ``message`` on this session's next page (server-side; see module doc)."""
    set_flash(ctx, request.cookies.get(SESSION_COOKIE), message)


Viewer = Annotated[Principal, Depends(console_principal)]
UnscopedViewer = Annotated[Principal, Depends(unscoped_principal)]


def check_csrf(request: Request, token: str) -> None:
    expected = getattr(request.state, "csrf", "")
    if not expected or not hmac.compare_digest(expected, token):
        raise ConsoleForbiddenError(
            "the form expired or did not come from this console; reload the page and try again"
        )


#: the console's CSRF token, posted with every form
Csrf = Annotated[str, Form(max_length=100)]


def cannot_page(ctx: AppContext, request: Request, what: str, exc: GatewayError) -> HTMLResponse:
    """A refused console action: "Cannot <what>", the reason, and the error's HTTP status."""
    from gateway.api.problems import status_for

    return _render(
        ctx, request, "message.html", status_for(exc), title=f"Cannot {what}", message=exc.message
    )


def _render(
    ctx: AppContext, request: Request, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("principal", getattr(request.state, "principal", None))
    context.setdefault("csrf", getattr(request.state, "csrf", ""))
    notice = getattr(request.state, "flash", None)
    if notice:  # shown once: this page consumes it
        clear_flash(ctx, request.cookies.get(SESSION_COOKIE))
        request.state.flash = None
    context.setdefault("notice", notice)
    return ctx.templates.TemplateResponse(request, name, context, status_code=status)


STYLESHEET = (Path(__file__).resolve().parent / "static" / "console.css").read_bytes()


@router.get("/static/console.css")
def stylesheet() -> Response:
    """The console's stylesheet (public: it holds no data; cached for an hour)."""
    return Response(
        STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount the console's shared routes (the stylesheet) and its redirect/forbidden handlers;
    ``create_app`` includes the page routers (``console_signin``, ``console_files``, the
    ``console_router`` of each ``gateway.api.routes`` module) before this."""

    @app.exception_handler(LoginRequiredError)
    async def _login(_: Request, __: LoginRequiredError) -> RedirectResponse:
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(ConsoleForbiddenError)
    async def _forbidden(request: Request, exc: ConsoleForbiddenError) -> HTMLResponse:
        return _render(
            ctx,
            request,
            "message.html",
            403,
            title="Not allowed",
            message=str(exc) or "Not allowed.",
        )

    app.include_router(router)


__all__ = [
    "SESSION_COOKIE",
    "ConsoleForbiddenError",
    "LoginRequiredError",
    "UnscopedViewer",
    "Viewer",
    "check_csrf",
    "csrf_token",
    "flash",
    "install",
    "make_session",
    "router",
]
