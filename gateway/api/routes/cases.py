"""The case workbench over HTTP: the worklist (``GET /v1/cases``, every state with counts,
filters, search, sort, paging, totals), one case with its evidence (``GET /v1/cases/{id}``),
CSV/XLSX exports of any filtered view, and the console's pages for the same.

All of them read through ``gateway.resolve.worklist`` / ``casefile`` (one read model). A key
bound to a provider sees only that provider's cases (another provider's case is a 404, as an
unknown one); only ops keys see PHI (patient control number, account, dates of service),
auditors see it masked (fail closed: any other role would be masked too).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from gateway.api.console import Viewer, _render
from gateway.api.deps import AppContext, Ctx, Readers
from gateway.api.keys import Principal, Role
from gateway.api.problems import ApiError, problem_responses
from gateway.errors import GatewayError
from gateway.read.worklist import (
    CaseDetail,
    CaseList,
    ExportFilter,
    WorklistFilter,
    WorklistRow,
)
from gateway.resolve import case_sync
from gateway.resolve.casefile import case_detail, mask_case
from gateway.resolve.exports import to_csv, to_xlsx
from gateway.resolve.worklist import COLUMNS, worklist
from schemas.states import CaseState

DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
router = APIRouter(prefix="/v1", tags=["cases"])
console_router = APIRouter(prefix="/console", include_in_schema=False)
#: roles that see PHI on the workbench (ops keys; analyst, ops and admin users); everyone else
#: gets it masked
PHI_ROLES = frozenset({Role.OPS, Role.ANALYST, Role.ADMIN})
#: console roles that may see the workbench at all
CASE_READERS = frozenset({Role.OPS, Role.AUDITOR, Role.ANALYST, Role.ADMIN})
#: the most rows one export holds (a bigger view is refused, not cut short)
EXPORT_MAX = 50_000
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def sees_phi(principal: Principal) -> bool:
    return principal.role in PHI_ROLES


def _list(ctx: AppContext, principal: Principal, f: WorklistFilter) -> CaseList:
    with ctx.db.write() as s:  # opens cases for credits reconciliation found since
        case_sync.sync_cases(s)
    with ctx.db.read() as s:
        out = worklist(s, f, scope=principal.provider_key, me=me(principal))
    if not sees_phi(principal):
        out = out.model_copy(update={"items": [_masked(r) for r in out.items]})
    return out


def me(principal: Principal) -> str | None:
    """The username ``assignee=me`` stands for: a signed-in person's (an API key is none)."""
    return principal.name if principal.user_id is not None else None


def _masked(r: WorklistRow) -> WorklistRow:
    m = mask_case(r)
    m._today = r._today
    return m


def _export(ctx: AppContext, principal: Principal, f: WorklistFilter, fmt: str) -> Response:
    page = f.model_copy(update={"limit": 1000, "offset": 0})
    first = _list(ctx, principal, page)
    if first.totals.count > EXPORT_MAX:
        raise ApiError(
            400,
            f"the view has {first.totals.count} cases; narrow it to {EXPORT_MAX} or fewer",
            code="export_too_large",
        )
    rows = list(first.items)
    while len(rows) < first.totals.count:
        more = _list(ctx, principal, page.model_copy(update={"offset": len(rows)})).items
        if not more:
            break
        rows += more
    today = dt.date.today()
    body = to_csv(rows, today) if fmt == "csv" else to_xlsx(rows, today)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="cases-{today}.{fmt}"'},
    )


@router.get("/cases", responses=problem_responses(400, 401, 403))
def cases(ctx: Ctx, principal: Readers, f: Annotated[WorklistFilter, Query()]) -> CaseList:
    """One page of cases (every state unless ``state`` is given), sorted by any column; the
    totals cover every match and ``states`` counts each state under the same filters."""
    return _list(ctx, principal, f)


@router.get(
    "/cases/export",
    responses={
        200: {"content": {m: {} for m in MEDIA.values()}, "description": "The file"},
        **problem_responses(400, 401, 403),
    },
    response_class=Response,
)
def cases_export(
    ctx: Ctx,
    principal: Readers,
    f: Annotated[ExportFilter, Query()],
) -> Response:
    """The filtered view (every page) as CSV or XLSX, with the worklist's columns."""
    view = WorklistFilter.model_validate(f.model_dump(exclude={"format"}))
    return _export(ctx, principal, view, f.format)


@router.get("/cases/{credit_id}", responses=problem_responses(401, 403, 404))
def case(ctx: Ctx, principal: Readers, credit_id: DbId) -> CaseDetail:
    """One case (by its credit's id) with the evidence of why the money is owed."""
    with ctx.db.write() as s:  # the explanation uses a temporary table; nothing is written
        return case_detail(s, credit_id, scope=principal.provider_key, phi=sees_phi(principal))


# ---------------------------------------------------------------- console


def _console_filter(request: Request) -> WorklistFilter | str:
    """The URL's filters (empty form fields ignored), or the message saying what is wrong."""
    params = request.query_params
    data: dict[str, object] = {
        k: v for k, v in params.items() if v != "" and k not in ("state", "format")
    }
    states = [v for v in params.getlist("state") if v]
    if states:
        data["state"] = states
    try:
        return WorklistFilter.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"bad filter {where}: {first['msg']}"


def _readers(principal: Principal) -> None:
    if principal.role not in CASE_READERS:
        from gateway.api.console import ConsoleForbiddenError

        raise ConsoleForbiddenError("only analysts, ops, admins and auditors can see cases")


@console_router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, ctx: Ctx, principal: Viewer) -> HTMLResponse:
    _readers(principal)
    f = _console_filter(request)
    if isinstance(f, str):
        return _render(ctx, request, "message.html", 400, title="Bad filter", message=f)
    try:
        data = _list(ctx, principal, f)
    except GatewayError as exc:  # assignee=me for a machine key
        return _render(ctx, request, "message.html", 400, title="Bad filter", message=exc.message)
    query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset",)]
    from gateway.resolve.casework import BulkAction, case_workers, may

    actions = [a.value for a in BulkAction if may(principal.role, a)]
    works = bool(actions)
    with ctx.db.read() as s:
        workers = case_workers(s, provider_key=principal.provider_key) if works else []
    return _render(
        ctx,
        request,
        "cases.html",
        works=works,
        workers=workers,
        bulk_actions=actions,
        data=data,
        f=f,
        today=dt.date.today(),
        columns=COLUMNS,
        states=list(CaseState),
        query=query,
    )


@console_router.get("/cases/export", response_model=None)
def cases_export_page(request: Request, ctx: Ctx, principal: Viewer) -> Response:
    _readers(principal)
    f = _console_filter(request)
    fmt = request.query_params.get("format", "csv")
    if isinstance(f, str) or fmt not in MEDIA:
        msg = f if isinstance(f, str) else "format must be csv or xlsx"
        return _render(ctx, request, "message.html", 400, title="Bad filter", message=msg)
    try:
        return _export(ctx, principal, f, fmt)
    except ApiError as exc:
        return _render(ctx, request, "message.html", 400, title="Cannot export", message=exc.detail)
    except GatewayError as exc:
        return _render(
            ctx, request, "message.html", 400, title="Cannot export", message=exc.message
        )


@console_router.get("/cases/{credit_id}", response_class=HTMLResponse)
def case_page(request: Request, ctx: Ctx, principal: Viewer, credit_id: DbId) -> HTMLResponse:
    _readers(principal)
    try:
        with ctx.db.write() as s:
            detail = case_detail(
                s, credit_id, scope=principal.provider_key, phi=sees_phi(principal)
            )
    except GatewayError:
        return _render(
            ctx, request, "message.html", 404, title="No such case", message=f"no case {credit_id}"
        )
    from gateway.resolve.casework import CASE_WORKERS, case_workers
    from mappings.root_causes import default_root_causes

    works = principal.role in CASE_WORKERS
    with ctx.db.read() as s:
        workers = case_workers(s, provider_key=detail.case.provider_key) if works else []
    return _render(
        ctx,
        request,
        "case.html",
        d=detail,
        c=detail.case,
        today=dt.date.today(),
        works=works,
        workers=workers,
        root_causes=default_root_causes(),
    )


__all__ = ["CASE_READERS", "PHI_ROLES", "console_router", "me", "router", "sees_phi"]
