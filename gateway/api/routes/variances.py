"""Variances over HTTP: posting variances and line variances, and the analyst's answer to an
uncharged line (``POST /v1/variances/{id}/resolve``), the same rows ``gateway variances``
prints."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from gateway.api.deps import Ctx, OpsOnly, Readers
from gateway.api.problems import problem_responses
from gateway.read.variances import LineVarianceRead, VarianceRead
from gateway.reconcile.line_variances import list_line_variances, resolve_line_variance
from gateway.reconcile.queries import list_variances

router = APIRouter(prefix="/v1", tags=["variances"])
DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


#: the read models of the variances (gateway.read.variances)
PostingVarianceOut = VarianceRead
LineVarianceOut = LineVarianceRead


class VarianceList(BaseModel):
    posting: list[PostingVarianceOut]
    lines: list[LineVarianceOut]


class ResolveIn(BaseModel):
    decision: Literal["missed", "transfer", "billed_in_error"] = Field(
        alias="as",
        description="missed: post the charge (the credit goes away); transfer: the "
        "charge sits on another account; billed_in_error: release the credit for approval",
    )
    note: str = Field(default="", max_length=1000, description="Why (audited)")


@router.get("/variances", response_model=VarianceList, responses=problem_responses(400, 401, 403))
def variances(
    ctx: Ctx,
    _: Readers,
    status: Annotated[
        Literal["active", "open", "resolved", "cleared", "all"],
        Query(description="line variances: active = open + resolved"),
    ] = "active",
    provider_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> VarianceList:
    """Posting variances and line variances (uncharged lines wait for an answer)."""
    with ctx.db.read() as s:
        posting = list(list_variances(s, provider_id=provider_id))
        lines = list(list_line_variances(s, status=status, provider_id=provider_id))
    return VarianceList(posting=posting, lines=lines)


@router.post(
    "/variances/{variance_id}/resolve",
    response_model=LineVarianceOut,
    responses=problem_responses(400, 401, 403, 404),
)
def resolve(
    ctx: Ctx,
    principal: OpsOnly,
    variance_id: DbId,
    body: ResolveIn,
) -> LineVarianceOut:
    """Answer an uncharged line; the next reconciliation applies it."""
    with ctx.db.write() as s:
        return resolve_line_variance(
            s, variance_id, body.decision, actor=principal.actor, note=body.note
        )
