"""Batches over HTTP beyond reading and issuing them (``POST /v1/batches`` is in
``routes.resolution``): deliver (``POST /v1/batches/{id}/deliver``) and download one file
(``GET /v1/batches/{id}/files/{name}``), and the console's download links and deliver button
on the batches page.

All through the batch services of ``gateway.resolve.batches`` (the CLI's ``gateway batches
deliver|export``). Batch files name patients (letters, AP lists), so downloading is for
operators only (ops keys; ops and admin people), as are creating and delivering; a batch that
cannot be delivered (no partner, cancelled, a patient list) is a 409 with the reason, and stays
issued.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from gateway.api.console import (
    ConsoleForbiddenError,
    UnscopedViewer,
    _render,
    check_csrf,
    flash,
)
from gateway.api.deps import AppContext, Ctx, OpsOnly
from gateway.api.keys import Principal
from gateway.api.problems import problem_responses, status_for
from gateway.errors import GatewayError, NotFoundError
from gateway.read.batches import BatchRead
from gateway.security.roles import OPERATORS

DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
FileName = Annotated[str, PathParam(max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
router = APIRouter(prefix="/v1", tags=["resolution"])
console_router = APIRouter(prefix="/console", include_in_schema=False)
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MEDIA = {
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


class DeliverIn(BaseModel):
    now: bool = Field(default=True, description="Deliver at once (else the workers do)")


class DeliverOut(BaseModel):
    batch: BatchRead
    delivered: int
    retrying: int
    failed: int


def deliver(ctx: AppContext, principal: Principal, batch_id: int, now: bool) -> DeliverOut:
    from gateway.outbound.enqueue import outbound_store
    from gateway.partners import configured_partners
    from gateway.resolve.batches.delivery import deliver_batch

    profiles = configured_partners(ctx.settings)  # an invalid profile: MappingError (503)
    batch, res = deliver_batch(
        ctx.db,
        outbound_store(ctx.settings.data_dir),
        batch_id,
        profiles=profiles,
        actor=principal.actor,
        now=now,
    )
    return DeliverOut(
        batch=batch,
        delivered=len(res.delivered),
        retrying=len(res.retrying),
        failed=len(res.failed),
    )


def file_bytes(ctx: AppContext, batch_id: int, name: str) -> Response:
    from gateway.resolve.batches.records import batch_content
    from gateway.resolve.batches.views import get_batch

    with ctx.db.read() as s:
        get_batch(s, batch_id, files=False)  # 404 for an unknown batch
        content = batch_content(s, batch_id)
    if name not in content or not _SAFE.match(name):
        raise NotFoundError(f"batch {batch_id} has no file {name[:80]!r}", code="file_not_found")
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return Response(
        content[name],
        media_type=MEDIA.get(suffix, "application/octet-stream"),
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/batches/{batch_id}/deliver", responses=problem_responses(400, 401, 403, 404, 409))
def batches_deliver(ctx: Ctx, principal: OpsOnly, batch_id: DbId, body: DeliverIn) -> DeliverOut:
    """Queue the batch's files for its payer's SFTP partner (and deliver them now); 409 when
    it cannot go (no partner, cancelled, a patient refund list for the AP system)."""
    return deliver(ctx, principal, batch_id, body.now)


@router.get(
    "/batches/{batch_id}/files/{name}",
    responses={
        200: {"content": {m: {} for m in MEDIA.values()}, "description": "The file's bytes"},
        **problem_responses(401, 403, 404),
    },
    response_class=Response,
)
def batch_file(ctx: Ctx, _: OpsOnly, batch_id: DbId, name: FileName) -> Response:
    """One file of a batch, byte for byte (its sha256 is in the batch's ``files``)."""
    return file_bytes(ctx, batch_id, name)


# ---------------------------------------------------------------- console


def console_operator(principal: UnscopedViewer) -> Principal:
    if principal.role not in OPERATORS:
        raise ConsoleForbiddenError("only ops and admin can download or deliver batches")
    return principal


Operator = Annotated[Principal, Depends(console_operator)]


@console_router.get("/batches/{batch_id}/files/{name}", response_model=None)
def batch_file_page(
    request: Request, ctx: Ctx, _: Operator, batch_id: DbId, name: FileName
) -> Response:
    try:
        return file_bytes(ctx, batch_id, name)
    except GatewayError as exc:
        return _render(
            ctx, request, "message.html", status_for(exc), title="Not found", message=exc.message
        )


@console_router.post("/batches/{batch_id}/deliver", response_model=None)
def deliver_form(
    request: Request,
    ctx: Ctx,
    principal: Operator,
    batch_id: DbId,
    csrf: Annotated[str, Form(max_length=100)],
) -> Response:
    check_csrf(request, csrf)
    try:
        out: Any = deliver(ctx, principal, batch_id, True)
    except GatewayError as exc:
        return _render(
            ctx,
            request,
            "message.html",
            status_for(exc),
            title="Cannot deliver",
            message=exc.message,
        )
    flash(
        ctx,
        request,
        f"batch {out.batch.batch_key}: {out.batch.delivery} ({out.delivered} delivered, "
        f"{out.retrying} queued for retry, {out.failed} failed)",
    )
    return RedirectResponse("/console/batches", status_code=303)


__all__ = ["console_router", "router"]
