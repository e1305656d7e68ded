"""KPI reports over HTTP (``/v1/reports/kpi/...``) and the console's KPI page with charts.

Every report is provider-scoped (``gateway.reporting.scope``): a provider-bound key sees only its
provider (naming another is 403), ops and auditor keys see all or pick one with ``provider``.
The console page draws its charts with the vendored Chart.js (``/console/static/chart.umd.min.js``,
MIT, LICENSE beside it) from a JSON data block read by ``/console/static/kpi.js``: the console's
CSP allows no inline script, and no CDN is ever contacted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.console import Viewer, _render
from gateway.api.deps import AnyRole, Ctx
from gateway.api.keys import Principal, normalise_provider
from gateway.api.problems import problem_responses
from gateway.errors import GatewayError, NotFoundError
from gateway.reporting import kpi, trend
from gateway.reporting.models import (
    DaysToResolve,
    Deadlines,
    Inventory,
    Rates,
    Recovery,
    RootCauseTrend,
)
from gateway.reporting.scope import ScopeForbiddenError, resolve_scope

router = APIRouter(prefix="/v1/reports/kpi", tags=["reports"])
console_router = APIRouter(prefix="/console", include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "static"
M = TypeVar("M")

AsOf = Annotated[dt.date | None, Query(description="Working day (default today)")]
Months = Annotated[int, Query(ge=1, le=36, description="Calendar months ending with as_of's")]
ProviderQ = Annotated[
    str | None,
    Query(max_length=40, description="NPI, npi:NPI or tin:TIN (global keys only; default all)"),
]
_DOC = problem_responses(400, 401, 403, 404)


def _scoped(
    ctx: Any, principal: Principal, provider: str | None, build: Callable[[Any, int | None], M]
) -> M:
    # errors (a forbidden or unknown provider, a bad value) go to the app's one error map
    with ctx.db.read() as s:
        wanted = normalise_provider(provider) if provider else None
        pid = resolve_scope(s, key_provider=principal.provider_key, requested=wanted)
        return build(s, pid)


def _day(as_of: dt.date | None) -> dt.date:
    return as_of or dt.date.today()


@router.get("/inventory", responses=_DOC)
def inventory(
    ctx: Ctx, principal: AnyRole, as_of: AsOf = None, provider: ProviderQ = None
) -> Inventory:
    """Active credits by age bucket, payer, cause, root cause and government, with totals."""
    return _scoped(
        ctx, principal, provider, lambda s, p: kpi.inventory(s, as_of=_day(as_of), provider_id=p)
    )


@router.get("/deadlines", responses=_DOC)
def deadlines(
    ctx: Ctx,
    principal: AnyRole,
    as_of: AsOf = None,
    provider: ProviderQ = None,
    near_days: Annotated[int, Query(ge=0, le=365)] = 14,
) -> Deadlines:
    """Government credits past their deadline or due within ``near_days``."""
    return _scoped(
        ctx,
        principal,
        provider,
        lambda s, p: kpi.deadlines(s, as_of=_day(as_of), near_days=near_days, provider_id=p),
    )


@router.get("/recovery", responses=_DOC)
def recovery(
    ctx: Ctx, principal: AnyRole, as_of: AsOf = None, provider: ProviderQ = None, months: Months = 6
) -> Recovery:
    """Dollars identified, refunded, offset, recouped, disputed and won, per month."""
    return _scoped(
        ctx,
        principal,
        provider,
        lambda s, p: kpi.recovery(s, as_of=_day(as_of), months=months, provider_id=p),
    )


@router.get("/days-to-resolve", responses=_DOC)
def days_to_resolve(
    ctx: Ctx, principal: AnyRole, as_of: AsOf = None, provider: ProviderQ = None, months: Months = 6
) -> DaysToResolve:
    """Median and 90th percentile days from identification to resolution."""
    return _scoped(
        ctx,
        principal,
        provider,
        lambda s, p: kpi.days_to_resolve(s, as_of=_day(as_of), months=months, provider_id=p),
    )


@router.get("/rates", responses=_DOC)
def rates(
    ctx: Ctx, principal: AnyRole, as_of: AsOf = None, provider: ProviderQ = None, months: Months = 6
) -> Rates:
    """Credits per 1,000 claims and credit dollars per $1,000 paid, per payer and month."""
    return _scoped(
        ctx,
        principal,
        provider,
        lambda s, p: trend.rates(s, as_of=_day(as_of), months=months, provider_id=p),
    )


@router.get("/root-causes", responses=_DOC)
def root_causes(
    ctx: Ctx,
    principal: AnyRole,
    as_of: AsOf = None,
    provider: ProviderQ = None,
    months: Months = 6,
    min_months: Annotated[int, Query(ge=1, le=36)] = 3,
) -> RootCauseTrend:
    """Root-cause trend per month, growing causes, and repeat offenders."""
    return _scoped(
        ctx,
        principal,
        provider,
        lambda s, p: trend.root_cause_trend(
            s, as_of=_day(as_of), months=months, min_months=min_months, provider_id=p
        ),
    )


# ---------------------------------------------------------------- console

_ASSETS = {
    "chart.umd.min.js": "text/javascript",
    "kpi.js": "text/javascript",
    "chart.js.LICENSE.md": "text/markdown",
}
_BYTES = {name: (STATIC / name).read_bytes() for name in _ASSETS}


def _asset(name: str) -> Callable[[], Response]:
    def serve() -> Response:
        return Response(
            _BYTES[name],
            media_type=_ASSETS[name],
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return serve


for _name in _ASSETS:
    console_router.add_api_route(f"/static/{_name}", _asset(_name), methods=["GET"])


def kpi_data(s: Any, *, as_of: dt.date, months: int, provider_id: int | None) -> dict[str, Any]:
    """Every report the KPI page charts, as JSON-ready data (also what the browser test reads)."""
    return {
        "inventory": kpi.inventory(s, as_of=as_of, provider_id=provider_id).model_dump(mode="json"),
        "deadlines": kpi.deadlines(s, as_of=as_of, provider_id=provider_id, limit=50).model_dump(
            mode="json"
        ),
        "recovery": kpi.recovery(s, as_of=as_of, months=months, provider_id=provider_id).model_dump(
            mode="json"
        ),
        "days": kpi.days_to_resolve(
            s, as_of=as_of, months=months, provider_id=provider_id
        ).model_dump(mode="json"),
        "rates": trend.rates(s, as_of=as_of, months=months, provider_id=provider_id).model_dump(
            mode="json"
        ),
        "trend": trend.root_cause_trend(
            s, as_of=as_of, months=months, provider_id=provider_id
        ).model_dump(mode="json"),
    }


@console_router.get("/kpi", response_class=HTMLResponse)
def kpi_page(
    request: Request,
    ctx: Ctx,
    principal: Viewer,
    as_of: AsOf = None,
    months: Months = 6,
    provider: ProviderQ = None,
) -> HTMLResponse:
    day = _day(as_of)
    try:
        with ctx.db.read() as s:
            wanted = normalise_provider(provider) if provider else None
            pid = resolve_scope(s, key_provider=principal.provider_key, requested=wanted)
            data = kpi_data(s, as_of=day, months=months, provider_id=pid)
    except GatewayError as exc:
        status = (
            403
            if isinstance(exc, ScopeForbiddenError)
            else 404
            if isinstance(exc, NotFoundError)
            else 400
        )
        return _render(
            ctx, request, "message.html", status, title="Cannot show KPIs", message=exc.message
        )
    return _render(
        ctx, request, "kpi.html", data=data, as_of=day, months=months, provider=provider or ""
    )


__all__ = ["console_router", "kpi_data", "router"]
