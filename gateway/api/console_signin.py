"""The console's sign-in and sign-out pages, and the cookies they set.

A person signs in with a username and password, a machine with an ops or auditor API key; a
refused attempt is audited and rate-limited by client address (``gateway.api.signin``). The
sign-in form is protected by a double-submit CSRF cookie; on success the browser gets only the
session cookie (HttpOnly, SameSite=Strict, Secure behind https). Split from
``gateway.api.console``, which holds what every console page shares.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.console import (
    SESSION_COOKIE,
    Viewer,
    _render,
    check_csrf,
    may_use_console,
)
from gateway.api.deps import Ctx
from gateway.api.keys import authenticate
from gateway.api.middleware import serialized_write
from gateway.api.sessions import end_session, make_session
from gateway.api.signin import record_failure, refused
from gateway.users.passwords import MAX_LENGTH as MAX_PASSWORD
from gateway.users.service import authenticate_user, record_login

router = APIRouter(prefix="/console", include_in_schema=False)
LOGIN_CSRF_COOKIE = "gw_login_csrf"


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Strict, and Secure when the effective scheme is https (the scheme a
    trusted proxy forwarded, ``gateway.api.proxies``; a client's own claim never counts)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )


def _delete_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: Ctx) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _render(ctx, request, "login.html", login_csrf=token, error=None)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 900)
    return response


@router.post("/login", response_model=None)
def login(
    request: Request,
    ctx: Ctx,
    csrf: Annotated[str, Form(max_length=100)],
    key: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD + 1)] = "",
) -> Response:
    """A person's username and password, or a machine's API key (see module doc)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        return _render(
            ctx,
            request,
            "login.html",
            403,
            login_csrf=cookie,
            error="The sign-in form expired; reload the page and try again.",
        )
    client = request.client.host if request.client else "unknown"
    wait = ctx.sign_ins.retry_after(client)
    if wait is not None:  # over the failure limit: no key is even looked at
        refused(client, "/console/login", wait)
        limited = _render(
            ctx,
            request,
            "login.html",
            429,
            login_csrf=cookie,
            error=f"Too many failed sign-ins from this address; try again in {wait} seconds.",
        )
        limited.headers["Retry-After"] = str(wait)
        return limited
    as_user = bool(username or password)
    with ctx.db.read() as s:
        if as_user:
            principal = authenticate_user(s, username, password)
        else:
            principal = authenticate(s, key, ctx.pepper)
    if principal is None or not may_use_console(principal):
        if as_user:
            error = "That username and password do not match an active user."
        elif principal is None:
            error = "That key is not valid."
        else:
            error = "Only ops and auditor keys can use the console."
        status = 403 if principal else 401
        code = "role_not_allowed" if principal else ("invalid_login" if as_user else "invalid_key")
        record_failure(
            ctx.db,
            ctx.sign_ins,
            action="console_login_failed",
            client=client,
            method="POST",
            route="/console/login",
            code=code,
            # a user's attempt is fingerprinted by the username, never by the password
            presented=username if as_user else key,
            outcome=status,
        )
        return _render(ctx, request, "login.html", status, login_csrf=cookie, error=error)
    if principal.user_id is not None:
        with serialized_write(ctx.db) as s:
            record_login(s, principal.user_id, password, client=client)
    request.state.principal = principal
    response = RedirectResponse("/console/", status_code=303)
    _set_cookie(
        request,
        response,
        SESSION_COOKIE,
        make_session(ctx, principal),
        ctx.settings.session_max_age_seconds,
    )
    _delete_cookie(request, response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    ctx: Ctx,
    _: Viewer,
    csrf: Annotated[str, Form(max_length=100)],
) -> RedirectResponse:
    check_csrf(request, csrf)
    end_session(ctx, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/login?signed_out=1", status_code=303)
    _delete_cookie(request, response, SESSION_COOKIE)
    return response


__all__ = ["LOGIN_CSRF_COOKIE", "router"]
