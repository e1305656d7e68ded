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
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.api.deps import AppContext, Ctx, file_scope
from gateway.api.keys import Principal, Role, authenticate
from gateway.api.middleware import serialized_write
from gateway.api.routes.files import FileId
from gateway.api.segments import SegmentPage, segments_page
from gateway.api.sessions import (
    clear_flash,
    csrf_token,
    end_session,
    lookup,
    make_session,
    set_flash,
)
from gateway.api.signin import record_failure, refused
from gateway.db.models import FileEvent, FileState, InboundFile, utcnow
from gateway.errors import GatewayError
from gateway.ingest.replay import request_replay, resend_links
from gateway.security.roles import OPERATORS, USER_ROLES
from gateway.users.passwords import MAX_LENGTH as MAX_PASSWORD
from gateway.users.service import authenticate_user, record_login

router = APIRouter(prefix="/console", include_in_schema=False)
SESSION_COOKIE = "gw_session"
LOGIN_CSRF_COOKIE = "gw_login_csrf"
#: roles of API keys that may sign in to the console (people: every user role)
CONSOLE_ROLES = frozenset({Role.OPS, Role.AUDITOR})
F = InboundFile
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
#: findings listed on a file's page (the API has them all)
MAX_FINDINGS_SHOWN = 50
#: segments on one page of a file's segment view (``?seg=N``)
SEGMENT_PAGE = 50


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


STYLESHEET = (Path(__file__).resolve().parent / "static" / "console.css").read_bytes()


@router.get("/static/console.css")
def stylesheet() -> Response:
    """The console's stylesheet (public: it holds no data; cached for an hour)."""
    return Response(
        STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
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


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, ctx: Ctx, principal: Viewer) -> HTMLResponse:
    today = dt.datetime.combine(utcnow().date(), dt.time(), dt.UTC)
    scope = file_scope(principal)
    counts = select(F.state, func.count()).where(F.received_at >= today).group_by(F.state)
    failed = select(func.count()).select_from(F).where(F.state == FileState.FAILED.value)
    if scope is not None:
        counts, failed = counts.where(scope), failed.where(scope)
    with ctx.db.read() as s:
        by_state = dict(s.execute(counts).all())
        failed_total = s.execute(failed).scalar_one()
    states = [(st.value, int(by_state.get(st.value, 0))) for st in FileState]
    peak = max([n for _, n in states] + [1])
    return _render(
        ctx,
        request,
        "dashboard.html",
        states=states,
        peak=peak,
        failed_total=failed_total,
        today=today.date(),
    )


@router.get("/failures", response_class=HTMLResponse)
def failures_page(request: Request, ctx: Ctx, principal: Viewer) -> HTMLResponse:
    stmt = select(F).where(F.state == FileState.FAILED.value).order_by(F.id).limit(500)
    scope = file_scope(principal)
    if scope is not None:
        stmt = stmt.where(scope)
    with ctx.db.read() as s:
        rows = s.execute(stmt).scalars().all()
    return _render(ctx, request, "failures.html", rows=rows, where=where)


@router.get("/files/{file_id}", response_class=HTMLResponse)
def file_page(
    request: Request,
    ctx: Ctx,
    principal: Viewer,
    file_id: FileId,
    seg: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """The file, its history and findings, and a page of its masked segments: around the
    error (or the head), or with ``seg`` the ``SEGMENT_PAGE`` segments from there on. Only
    that page is read from the raw store (``segments_page``)."""
    with ctx.db.read() as s:
        row = s.get(F, file_id) if in_scope(s, principal, file_id) else None
        events = (
            s.execute(select(FileEvent).where(FileEvent.file_id == file_id).order_by(FileEvent.id))
            .scalars()
            .all()
            if row
            else []
        )
        links = resend_links(s, file_id)
        linked = {
            int(r.id): str(r.state)
            for r in s.execute(
                select(F.id, F.state).where(F.id.in_(links.resend_of + links.resent_by))
            )
        }
    if row is None:
        return _render(
            ctx,
            request,
            "message.html",
            404,
            title="Not found",
            message=f"There is no file with id {file_id}.",
        )
    loc = row.error_location or {}
    seg_no = loc.get("segment_number") if isinstance(loc.get("segment_number"), int) else None
    # a lexer error names a byte, not a segment: show the segments before it stopped
    tail = not seg_no and loc.get("byte_offset") is not None
    page: SegmentPage | None = None
    raw_error = None
    try:
        with ctx.store.open(row.sha256) as stream:
            page = (
                segments_page(stream, first=seg, count=SEGMENT_PAGE)
                if seg is not None
                else segments_page(stream, seg_no, tail=tail)
            )
    except GatewayError as exc:
        raw_error = exc.message
    lines = page.lines if page is not None else []
    nav = _paging(page, seg)
    return _render(
        ctx,
        request,
        "file.html",
        f=row,
        events=events,
        lines=lines,
        raw_error=raw_error,
        where=where(loc),
        links=links,
        linked=linked,
        findings=(row.findings or [])[:MAX_FINDINGS_SHOWN],
        paging=nav,
        paged=seg is not None,
    )


def _paging(page: SegmentPage | None, seg: int | None) -> dict[str, int]:
    """``prev``/``next`` first segment numbers of the neighbouring pages, where they exist."""
    if page is None or not page.lines or page.lines[-1].withheld:
        return {"prev": max(1, seg - SEGMENT_PAGE)} if seg and seg > 1 else {}
    nav: dict[str, int] = {}
    first, last = page.lines[0].number, page.lines[-1].number
    if first > 1:
        nav["prev"] = max(1, first - SEGMENT_PAGE)
    if page.more:
        nav["next"] = last + 1
    return nav


@router.post("/files/{file_id}/replay", response_model=None)
def replay_form(
    request: Request,
    ctx: Ctx,
    principal: Viewer,
    file_id: FileId,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    check_csrf(request, csrf)
    if principal.role not in OPERATORS:
        raise ConsoleForbiddenError("only ops and admin can replay files")
    with ctx.db.read() as s:
        if not in_scope(s, principal, file_id):
            return _render(
                ctx,
                request,
                "message.html",
                404,
                title="Not found",
                message=f"There is no file with id {file_id}.",
            )
    request.state.file_id = file_id
    try:
        previous = request_replay(
            ctx.db, file_id, actor=principal.actor, reason=reason, force=False
        )
    except GatewayError as exc:
        return _render(
            ctx, request, "message.html", 409, title="Cannot replay", message=exc.message
        )
    flash(ctx, request, f"replay queued (was {previous})")
    return RedirectResponse(f"/console/files/{file_id}", status_code=303)


def in_scope(s: Session, principal: Principal, file_id: int) -> bool:
    """True when ``principal`` may see file ``file_id`` (another provider's file: False, so
    it is answered exactly like a missing one)."""
    scope = file_scope(principal)
    if scope is None:
        return True
    return s.execute(select(F.id).where(F.id == file_id, scope)).first() is not None


def where(loc: dict[str, Any] | None) -> str:
    """A human description of an error location: segment, id, element, line, byte."""
    if not loc:
        return ""
    parts = []
    for key, label in (
        ("segment_number", "segment"),
        ("segment_id", ""),
        ("element", "element"),
        ("line", "line"),
        ("byte_offset", "byte"),
    ):
        value = loc.get(key)
        if key == "segment_id" and not (isinstance(value, str) and _SEGMENT_ID.match(value)):
            continue  # fail closed: only a real segment id is shown, never stored junk
        if value not in (None, "", 0):
            parts.append(f"{label} {value}".strip())
    return ", ".join(parts)


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount the console and its redirect/forbidden handlers."""

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
    "where",
]
