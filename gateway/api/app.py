"""``create_app(settings)``: the API (``/v1``), health, metrics and the ops console.

No import-time globals: the database, raw store, templates and metrics registry are built here
and hung on ``app.state.ctx``, so several apps (tests, replicas in one process) never share
state by accident. The schema is checked (auto-upgraded on embedded SQLite) at startup.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates

from gateway.api import console, console_files, console_signin, problems
from gateway.api.deps import AnyRole, AppContext
from gateway.api.guards import RejectNulMiddleware
from gateway.api.headers import SecurityHeadersMiddleware
from gateway.api.metrics import build_registry
from gateway.api.middleware import RequestContextMiddleware
from gateway.api.proxies import TrustedProxyMiddleware
from gateway.api.routes import (
    batchwork,
    cases,
    casework,
    credits,
    files,
    health,
    ops,
    reports_kpi,
    resolution,
    users,
    variances,
    webhooks,
)
from gateway.api.signin import FailureLimiter
from gateway.db.base import Database
from gateway.db.migrate import ensure_schema
from gateway.security.proxies import parse_networks
from gateway.settings import Settings
from gateway.store import store_from_settings

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(settings: Settings, *, check_schema: bool = True) -> FastAPI:
    """Build the app for ``settings`` (the caller configures logging)."""
    db = Database.from_settings(settings)
    if check_schema:
        ensure_schema(db)
    ctx = AppContext(
        settings=settings,
        db=db,
        store=store_from_settings(settings),
        templates=Jinja2Templates(directory=str(TEMPLATES)),
        registry=build_registry(db),
        session_secret=AppContext.session_secret_from(settings),
        sign_ins=FailureLimiter(settings.auth_failure_limit, settings.auth_failure_window_seconds),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What import and start-up built (~180,000 objects: SQLAlchemy, pydantic, FastAPI,
        # the templates) lives as long as the process; frozen, the collector's full passes
        # skip it. Unfrozen, each pass walked all of it inside whichever request triggered
        # it: ~115 ms added to a 65 ms KPI report (bench/kpi_bench.py). Unfrozen at
        # shutdown, so that several apps in one process (tests) stay collectable.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            ctx.keys.toucher.flush(5.0)  # pending last_used_at refreshes, before the pool goes
            db.dispose()

    app = FastAPI(
        title="Remittance Gateway API",
        version="1",
        summary="Upload X12 835/837 and ledger files, follow their processing, replay failures.",
        description="Every endpoint except /healthz and /readyz needs `Authorization: Bearer "
        "KEY` (keys: `gateway keys create`). Errors are RFC 9457 "
        "`application/problem+json`.",
        lifespan=lifespan,
        # the schema is served at /v1/openapi.json behind a key, like everything but health
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # our metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would otherwise
        # look up the global tracer, meter and logger providers on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    problems.install(app)
    app.include_router(health.router)
    app.include_router(files.router)
    app.include_router(ops.router)
    app.include_router(credits.router)
    app.include_router(variances.router)
    app.include_router(resolution.router)
    app.include_router(webhooks.router)
    app.include_router(resolution.console_router)
    app.include_router(reports_kpi.router)
    app.include_router(reports_kpi.console_router)
    app.include_router(batchwork.router)
    app.include_router(batchwork.console_router)
    app.include_router(users.router)
    app.include_router(users.console_router)
    app.include_router(casework.router)
    app.include_router(casework.console_router)
    app.include_router(cases.router)
    app.include_router(cases.console_router)

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/v1/openapi.json", tags=["meta"], include_in_schema=False)
    def openapi_schema(_: AnyRole) -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(console_signin.router)
    app.include_router(console_files.router)
    console.install(app, ctx)
    app.add_middleware(RejectNulMiddleware)  # inside the request context: logged, with an id
    app.add_middleware(RequestContextMiddleware, ctx=ctx)
    app.add_middleware(SecurityHeadersMiddleware)  # every response, even a 500
    # outermost: the client address and scheme everything inside sees (trusted proxies only)
    app.add_middleware(TrustedProxyMiddleware, networks=parse_networks(settings.trusted_proxies))
    return app


__all__ = ["create_app"]
