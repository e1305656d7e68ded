"""The console's file pages: today's dashboard, the failures list, one file's page (history,
findings, a page of masked segments, resend links) and its replay button.

A provider-scoped principal sees only its provider's files; another provider's file is
answered exactly like a missing one (``in_scope``). Split from ``gateway.api.console``, which
holds what every console page shares.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.api.console import ConsoleForbiddenError, Viewer, _render, check_csrf, flash
from gateway.api.deps import Ctx, file_scope
from gateway.api.keys import Principal
from gateway.api.routes.files import FileId
from gateway.api.segments import SegmentPage, segments_page
from gateway.db.models import FileEvent, InboundFile
from gateway.db.types import utcnow
from gateway.errors import GatewayError
from gateway.ingest.replay import request_replay, resend_links
from gateway.security.roles import OPERATORS
from schemas.states import FileState

router = APIRouter(prefix="/console", include_in_schema=False)
F = InboundFile
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
#: findings listed on a file's page (the API has them all)
MAX_FINDINGS_SHOWN = 50
#: segments on one page of a file's segment view (``?seg=N``)
SEGMENT_PAGE = 50


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


__all__ = ["in_scope", "router", "where"]
