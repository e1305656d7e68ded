"""Working cases over HTTP: assign, note, root cause, investigate, reopen, bulk actions with
per-case results (``/v1/cases/...``), and the console's forms for the same.

Every action goes through ``gateway.resolve.casework`` (or the workflow / root-cause services
it sits beside), in one transaction, audited with the caller's name (``user:<name>`` for a
person, ``apikey:<name>`` for a machine). API keys: only ops keys act. Console: analyst, ops
and admin users (and ops keys) act; auditors and uploaders are refused. A provider-scoped
caller acts only on its provider's cases; another provider's case is a 404 like an unknown one,
and nothing changes. Errors are problem+json through the app's one error map.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from gateway.api.console import (
    ConsoleForbiddenError,
    Csrf,
    Viewer,
    _render,
    cannot_page,
    check_csrf,
    flash,
)
from gateway.api.deps import AppContext, Ctx, OpsOnly
from gateway.api.keys import Principal
from gateway.api.problems import problem_responses
from gateway.errors import GatewayError
from gateway.read.credits import CaseRead
from gateway.read.worklist import CaseNoteRead, WorklistRow
from gateway.reporting.root_cause import set_root_cause
from gateway.resolve import bulk_actions, case_sync
from gateway.resolve import casework as cw
from gateway.resolve import workflow as wf
from gateway.resolve.worklist import get_row
from mappings.payers import default_directory

DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
router = APIRouter(prefix="/v1", tags=["cases"])
console_router = APIRouter(prefix="/console", include_in_schema=False)
_DOC = problem_responses(400, 401, 403, 404, 409)


class AssignIn(BaseModel):
    assignee: str | None = Field(
        max_length=64, description="Username of an active analyst/ops/admin user; null: unassign"
    )
    reason: str = Field(default="", max_length=1000, description="Why (audited)")


class NoteIn(BaseModel):
    text: str = Field(
        min_length=1,
        max_length=cw.NOTE_MAX,
        description="Free text; may name a patient (sealed at rest, never logged)",
    )


class RootCauseIn(BaseModel):
    root_cause: str = Field(max_length=32, description="A code of mappings/root_causes.yaml")
    reason: str = Field(default="", max_length=1000, description="Why (audited)")


class InvestigateIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="Why (audited)")
    opened_on: dt.date
    closed_on: dt.date | None = None


class ReasonIn(BaseModel):
    reason: str = Field(min_length=3, max_length=1000, description="Why (audited)")


class BulkIn(BaseModel):
    action: cw.BulkAction
    credit_ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        min_length=1, max_length=bulk_actions.BULK_MAX
    )
    reason: str = Field(
        default="",
        max_length=1000,
        description="Why (audited; approve, investigate and batch need one)",
    )
    assignee: str | None = Field(default=None, max_length=64, description="assign only")
    opened_on: dt.date | None = Field(default=None, description="investigate only (default today)")


def _row(s: Any, credit_id: int, principal: Principal) -> WorklistRow:
    from gateway.api.routes.cases import _masked, sees_phi

    row = get_row(s, credit_id, scope=principal.provider_key)
    return row if sees_phi(principal) else _masked(row)


def _sources(ctx: AppContext) -> Any:
    from gateway.resolve.documents import Sources
    from gateway.settings import x12_limits

    return Sources(store=ctx.store, limits=x12_limits(ctx.settings))


def do_assign(ctx: AppContext, principal: Principal, credit_id: int, body: AssignIn) -> WorklistRow:
    cw.require_role(principal.role, cw.BulkAction.ASSIGN)
    with ctx.db.write() as s:
        case_sync.sync_cases(s)
        cw.assign(
            s,
            credit_id,
            body.assignee,
            actor=principal.actor,
            scope=principal.provider_key,
            reason=body.reason,
        )
        return _row(s, credit_id, principal)


def do_note(ctx: AppContext, principal: Principal, credit_id: int, text: str) -> CaseNoteRead:
    cw.require_worker(principal.role)
    with ctx.db.write() as s:
        return cw.add_note(s, credit_id, text, actor=principal.actor, scope=principal.provider_key)


def do_root_cause(
    ctx: AppContext, principal: Principal, credit_id: int, body: RootCauseIn
) -> WorklistRow:
    cw.require_worker(principal.role)
    with ctx.db.write() as s:
        cw.require_case(s, credit_id, scope=principal.provider_key)
        set_root_cause(s, credit_id, body.root_cause, actor=principal.actor, reason=body.reason)
        return _row(s, credit_id, principal)


def do_bulk(ctx: AppContext, principal: Principal, body: BulkIn) -> bulk_actions.BulkResult:
    cw.require_role(principal.role, body.action)
    with ctx.db.write() as s:
        case_sync.sync_cases(s)
        return bulk_actions.bulk(
            s,
            body.action,
            body.credit_ids,
            actor=principal.actor,
            role=principal.role,
            scope=principal.provider_key,
            reason=body.reason,
            assignee=body.assignee,
            payers=default_directory(),
            opened_on=body.opened_on,
            sources=_sources(ctx),
        )


@router.post("/cases/bulk", responses=_DOC)
def cases_bulk(ctx: Ctx, principal: OpsOnly, body: BulkIn) -> bulk_actions.BulkResult:
    """Assign, approve, investigate or batch many cases: per-case results (which were done,
    which refused and why). A refused case is left as it was; the others are still done."""
    return do_bulk(ctx, principal, body)


@router.post("/cases/{credit_id}/assign", responses=_DOC)
def case_assign(ctx: Ctx, principal: OpsOnly, credit_id: DbId, body: AssignIn) -> WorklistRow:
    """Assign the case to a named user (an active analyst/ops/admin of the case's provider or
    a gateway-wide one), or unassign it (``assignee: null``)."""
    return do_assign(ctx, principal, credit_id, body)


@router.post("/cases/{credit_id}/notes", responses=_DOC, status_code=201)
def case_note(ctx: Ctx, principal: OpsOnly, credit_id: DbId, body: NoteIn) -> CaseNoteRead:
    """Add a note to the case (author: the caller; the text is never logged or audited)."""
    return do_note(ctx, principal, credit_id, body.text)


@router.post("/cases/{credit_id}/root-cause", responses=_DOC)
def case_root_cause(
    ctx: Ctx, principal: OpsOnly, credit_id: DbId, body: RootCauseIn
) -> WorklistRow:
    """Record the analyst's root cause (a code of mappings/root_causes.yaml)."""
    return do_root_cause(ctx, principal, credit_id, body)


@router.post("/cases/{credit_id}/investigate", responses=_DOC)
def case_investigate(
    ctx: Ctx, principal: OpsOnly, credit_id: DbId, body: InvestigateIn
) -> CaseRead:
    """Record a good-faith investigation (it suspends the deadline only where the law or the
    payer profile allows; the answer's ``due_by`` says where it stands)."""
    with ctx.db.write() as s:
        case_sync.sync_cases(s)
        cw.require_case(s, credit_id, scope=principal.provider_key)
        out: CaseRead = wf.investigate(
            s,
            credit_id,
            actor=principal.actor,
            reason=body.reason,
            opened_on=body.opened_on,
            closed_on=body.closed_on,
            payers=default_directory(),
        )
        return out


@router.post("/cases/{credit_id}/reopen", responses=_DOC)
def case_reopen(ctx: Ctx, principal: OpsOnly, credit_id: DbId, body: ReasonIn) -> CaseRead:
    """Reverse an approval, a dispute or a resolution (a new audited transition)."""
    with ctx.db.write() as s:
        cw.require_case(s, credit_id, scope=principal.provider_key)
        out: CaseRead = wf.reopen(s, credit_id, actor=principal.actor, reason=body.reason)
        return out


# ---------------------------------------------------------------- console


def console_worker(principal: Viewer) -> Principal:
    """Console case actions: analyst, ops and admin (checked before the form is parsed)."""
    if principal.role not in cw.CASE_WORKERS:
        raise ConsoleForbiddenError("only analysts, ops and admins can work cases")
    return principal


Worker = Annotated[Principal, Depends(console_worker)]


def _back(credit_id: int) -> RedirectResponse:
    return RedirectResponse(f"/console/cases/{credit_id}", status_code=303)


@console_router.post("/cases/bulk", response_model=None)
def bulk_form(
    request: Request,
    ctx: Ctx,
    principal: Worker,
    csrf: Csrf,
    action: Annotated[str, Form(max_length=20)],
    credit_id: Annotated[list[int] | None, Form()] = None,
    reason: Annotated[str, Form(max_length=1000)] = "",
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, csrf)
    if action not in cw.BulkAction.__members__.values():
        return _render(
            ctx, request, "message.html", 400, title="Cannot act", message="unknown bulk action"
        )
    try:
        body = BulkIn.model_validate(
            {
                "action": action,
                "credit_ids": credit_id or [],
                "reason": reason,
                "assignee": assignee or None,
            }
        )
    except ValueError:
        msg = f"select between 1 and {bulk_actions.BULK_MAX} cases"
        return _render(ctx, request, "message.html", 400, title="Cannot act", message=msg)
    try:
        result = do_bulk(ctx, principal, body)
    except GatewayError as exc:
        return cannot_page(ctx, request, action, exc)
    return _render(ctx, request, "bulk.html", result=result)


@console_router.post("/cases/{credit_id}/assign", response_model=None)
def assign_form(
    request: Request,
    ctx: Ctx,
    principal: Worker,
    credit_id: DbId,
    csrf: Csrf,
    assignee: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        row = do_assign(ctx, principal, credit_id, AssignIn(assignee=assignee or None))
    except GatewayError as exc:
        return cannot_page(ctx, request, "assign", exc)
    flash(ctx, request, f"credit {credit_id} assigned to {row.assignee or 'nobody'}")
    return _back(credit_id)


@console_router.post("/cases/{credit_id}/note", response_model=None)
def note_form(
    request: Request,
    ctx: Ctx,
    principal: Worker,
    credit_id: DbId,
    csrf: Csrf,
    text: Annotated[str, Form(max_length=cw.NOTE_MAX)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        do_note(ctx, principal, credit_id, text)
    except GatewayError as exc:
        return cannot_page(ctx, request, "add the note", exc)
    flash(ctx, request, f"note added to credit {credit_id}")
    return _back(credit_id)


@console_router.post("/cases/{credit_id}/root-cause", response_model=None)
def root_cause_form(
    request: Request,
    ctx: Ctx,
    principal: Worker,
    credit_id: DbId,
    csrf: Csrf,
    root_cause: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        do_root_cause(ctx, principal, credit_id, RootCauseIn(root_cause=root_cause, reason=reason))
    except GatewayError as exc:
        return cannot_page(ctx, request, "set the root cause", exc)
    flash(ctx, request, f"credit {credit_id}: root cause {root_cause}")
    return _back(credit_id)


__all__ = ["console_router", "do_assign", "do_bulk", "do_note", "do_root_cause", "router"]
