"""Resolution over HTTP: approve / dispute / resolve credits, batches with receipts, reports;
and the console's credits worklist (due-date countdown, approve/dispute) and batches pages.

Actions are ops-only, take a reason and are audited twice: the case transition in the caller's
transaction (with the key's name as actor) and the request itself by the middleware. Case
workflow errors come back as problem+json: 404 unknown credit, 409 a transition the case does
not allow or a payer without a layout (the case is left as it was), 400 bad input.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from gateway.api.console import (
    ConsoleForbiddenError,
    UnscopedViewer,
    _render,
    cannot_page,
    check_csrf,
    flash,
)
from gateway.api.deps import Ctx, OpsOnly, Readers
from gateway.api.keys import Principal, normalise_provider
from gateway.api.problems import problem_responses
from gateway.errors import GatewayError
from gateway.read.batches import BatchesCreatedRead, BatchRead
from gateway.read.credits import CaseRead
from gateway.read.reports import Cms838Read, CreditReportRead, ReportRowRead
from gateway.reporting.scope import resolve_scope
from gateway.resolve import case_sync, case_views
from gateway.resolve import workflow as wf
from gateway.resolve.batches.issue import create_batches
from gateway.resolve.batches.views import get_batch, list_batches
from gateway.resolve.cms838.report import cms838
from gateway.resolve.documents import Sources
from gateway.resolve.reports import aging
from gateway.security.roles import OPERATORS
from gateway.settings import x12_limits
from mappings.payers import default_directory

#: database ids are 32-bit: a larger number is a 422, never a driver overflow (500)
DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]

router = APIRouter(prefix="/v1", tags=["resolution"])
console_router = APIRouter(prefix="/console", include_in_schema=False)


class ActionIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="Why (audited)")
    method: Literal["refund", "offset"] | None = Field(
        default=None, description="approve only: override the payer's preference"
    )
    reference: str | None = Field(
        default=None, max_length=80, description="resolve only: confirmation / check number"
    )


def _act(ctx: Any, principal: Principal, credit_id: DbId, action: str, body: ActionIn) -> CaseRead:
    kwargs: dict[str, Any] = {"actor": principal.actor, "reason": body.reason}
    if action == "approve":
        kwargs.update(payers=default_directory(), method=body.method)
    elif action == "resolve":
        kwargs["reference"] = body.reference
    # a GatewayError goes to the one problem+json map (gateway.api.problems.status_for)
    with ctx.db.write() as s:
        case_sync.sync_cases(s)
        case = getattr(wf, action)(s, credit_id, **kwargs)
    out: CaseRead = case
    return out


_ACTION_DOC = problem_responses(400, 401, 403, 404, 409)


@router.post("/credits/{credit_id}/approve", responses=_ACTION_DOC)
def approve_credit(
    ctx: Ctx,
    principal: OpsOnly,
    credit_id: DbId,
    body: ActionIn,
) -> CaseRead:
    """Approve returning the credit; 409 when the payer has no layout (case stays open)."""
    return _act(ctx, principal, credit_id, "approve", body)


@router.post("/credits/{credit_id}/dispute", responses=_ACTION_DOC)
def dispute_credit(
    ctx: Ctx,
    principal: OpsOnly,
    credit_id: DbId,
    body: ActionIn,
) -> CaseRead:
    """The payer's request is not owed: dispute the case."""
    return _act(ctx, principal, credit_id, "dispute", body)


@router.post("/credits/{credit_id}/resolve", responses=_ACTION_DOC)
def resolve_credit(
    ctx: Ctx,
    principal: OpsOnly,
    credit_id: DbId,
    body: ActionIn,
) -> CaseRead:
    """Close the case (refund confirmed, fixed internally, remitted to the state)."""
    return _act(ctx, principal, credit_id, "resolve", body)


class BatchesIn(BaseModel):
    as_of: dt.date | None = Field(default=None, description="Working day (default today)")
    payer: str | None = Field(default=None, max_length=40, description="Only this payer")
    provider: str | None = Field(
        default=None,
        max_length=40,
        description="NPI, npi:NPI or tin:TIN (unscoped callers only; default every provider)",
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="Check number or EFT trace the letters cite (default: a blank to fill in)",
    )


@router.post("/batches", responses=problem_responses(400, 401, 403, 404))
def create_batches_route(ctx: Ctx, principal: OpsOnly, body: BatchesIn) -> BatchesCreatedRead:
    """Issue every approved case not yet in a batch (and open disputes), as
    ``gateway batches create`` does; never twice. A provider-bound caller issues only its own
    provider's cases (naming another provider is 403)."""
    # names, member ids and addresses are read from the raw files as the letters are made
    sources = Sources(store=ctx.store, limits=x12_limits(ctx.settings))
    with ctx.db.write() as s:
        wanted = normalise_provider(body.provider) if body.provider else None
        pid = resolve_scope(s, key_provider=principal.provider_key, requested=wanted)
        res = create_batches(
            s,
            as_of=body.as_of or dt.date.today(),
            actor=principal.actor,
            payers=default_directory(),
            provider_id=pid,
            payer_id=body.payer,
            reference=body.reference,
            sources=sources,
        )
    return BatchesCreatedRead(batches=tuple(res.batches), problems=tuple(res.problems))


@router.get("/batches", responses=problem_responses(401, 403))
def batches(
    ctx: Ctx, _: Readers, kind: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[BatchRead]:
    """Batches, newest first, with delivery state."""
    with ctx.db.read() as s:
        return list_batches(s, kind=kind, limit=limit)


@router.get("/batches/{batch_id}", responses=problem_responses(401, 403, 404))
def batch(ctx: Ctx, _: Readers, batch_id: DbId) -> BatchRead:
    """One batch: files (sha256, control totals), delivery state and receipts."""
    with ctx.db.read() as s:
        return get_batch(s, batch_id)


@router.get("/reports/cms838", responses=problem_responses(400, 401, 403))
def report_cms838(
    ctx: Ctx,
    _: Readers,
    quarter: Annotated[str, Query(pattern=r"^\d{4}-?[Qq][1-4]$")],
) -> list[Cms838Read]:
    """The quarter's CMS-838 per provider number that has Medicare credits to report, with
    its certification fields, ``missing_fields`` and ``warnings`` (unverified Medicare payer,
    pending credits); a preview: nothing is recorded as reported, `gateway report cms838`
    files it. An empty list: nothing to report (no zero-balance report since 1 Dec 2024)."""
    with ctx.db.read() as s:
        return [
            r.read()
            for r in cms838(s, quarter=quarter, payers=default_directory(), record=False).reports
        ]


@router.get("/reports/credits", responses=problem_responses(400, 401, 403))
def report_credits(
    ctx: Ctx,
    _: Readers,
    by: Literal[
        "cause", "payer", "age", "carc", "month", "recovery", "government_deadline", "case_state"
    ] = "cause",
) -> CreditReportRead:
    """Open credits (count, amount) grouped by cause, payer, age, ... (root cause & aging)."""
    with ctx.db.write() as s:  # opens cases for new credits
        rep = aging(s, as_of=dt.date.today())
    return CreditReportRead(
        as_of=rep.as_of,
        by=by,
        rows=[ReportRowRead(key=k, count=n, amount=a) for k, n, a in rep.rows(by)],
    )


# ---------------------------------------------------------------- console


def console_ops(principal: UnscopedViewer) -> Principal:
    """Console actions are for operators (ops, admin; checked before anything else is parsed)."""
    if principal.role not in OPERATORS:
        raise ConsoleForbiddenError("only ops and admin can approve or dispute credits")
    return principal


OpsViewer = Annotated[Principal, Depends(console_ops)]


@console_router.get("/credits", response_class=HTMLResponse)
def credits_page(request: Request, ctx: Ctx, _: UnscopedViewer) -> HTMLResponse:
    today = dt.date.today()
    with ctx.db.write() as s:
        case_sync.sync_cases(s)
        rows = case_views.list_cases(s, states=[st.value for st in wf.ACTIVE_STATES])
        rep = aging(s, as_of=today)
    late_gov = [c for c in rows if c.government and c.overdue(today)]

    def chart(section: str) -> list[tuple[str, int, Decimal]]:
        return rep.rows(section)

    peak = max([a for sec in ("cause", "payer") for _, _, a in chart(sec)] + [Decimal(1)])
    return _render(
        ctx,
        request,
        "credits.html",
        rows=rows,
        today=today,
        late_gov=late_gov,
        by_cause=chart("cause"),
        by_payer=chart("payer"),
        peak=peak,
    )


@console_router.post("/credits/{credit_id}/{action}", response_model=None)
def credit_action(
    request: Request,
    ctx: Ctx,
    principal: OpsViewer,
    credit_id: DbId,
    action: Literal["approve", "dispute"],
    reason: Annotated[str, Form(min_length=3, max_length=1000)],
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    check_csrf(request, csrf)
    kwargs: dict[str, Any] = {"actor": principal.actor, "reason": reason}
    if action == "approve":
        kwargs["payers"] = default_directory()
    try:
        with ctx.db.write() as s:
            case = getattr(wf, action)(s, credit_id, **kwargs)
    except GatewayError as exc:
        return cannot_page(ctx, request, action, exc)
    flash(ctx, request, f"credit {credit_id} {case.state}")
    return RedirectResponse("/console/credits", status_code=303)


@console_router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, ctx: Ctx, principal: UnscopedViewer) -> HTMLResponse:
    with ctx.db.read() as s:
        rows = list_batches(s, limit=200)
    return _render(ctx, request, "batches.html", rows=rows, operator=principal.role in OPERATORS)


__all__ = ["console_router", "router"]
