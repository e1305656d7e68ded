"""Liveness, readiness (database reachable, schema current) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.api.deps import Ctx, Readers
from gateway.api.probes import unwritable
from gateway.api.problems import problem_response, problem_responses
from gateway.api.schemas import Health
from gateway.db.migrate import HEAD, current_revision

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive and serving (no dependencies checked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
def readyz(request: Request, ctx: Ctx) -> Health | JSONResponse:
    """Ready for traffic: the database answers, its schema is the one this code expects, and
    the data dir and the raw store's staging area take a small write (a full disk: 503)."""
    try:
        with ctx.db.read() as s:
            s.execute(text("SELECT 1"))
        revision = current_revision(ctx.db)
    except SQLAlchemyError as exc:
        return problem_response(
            request,
            503,
            f"the database is not reachable ({type(exc).__name__})",
            code="database_unreachable",
        )
    if revision != HEAD:
        return problem_response(
            request,
            503,
            f"the database schema is at {revision or 'none'}"
            f", this code needs {HEAD}: run `gateway db upgrade`",
            code="schema_outdated",
        )
    reason = unwritable(ctx.settings, ctx.store)
    if reason is not None:
        return problem_response(
            request, 503, reason, code="storage_not_writable", headers={"Retry-After": "60"}
        )
    return Health(status="ready", schema_revision=revision)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"},
        **problem_responses(401, 403),
    },
)
def metrics(ctx: Ctx, _: Readers) -> Response:
    """Files by state, processing latency and (when present) credits and deliveries."""
    return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)
