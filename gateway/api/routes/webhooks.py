"""Webhook subscriptions and their delivery log over HTTP (``gateway.webhooks``).

Ops keys manage any provider's subscriptions (naming the provider); an uploader key, an
integrator's, manages its own provider's only, and another provider's subscription or delivery
is a 404 to it. The signing secret is in the creation response only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from gateway.api.deps import AnyRole, Ctx, Uploaders
from gateway.api.keys import Principal, Role
from gateway.api.problems import ApiError, problem_responses
from gateway.webhooks import service

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Event = Literal["file.quarantined", "credit.identified", "credit.deadline", "batch.delivered"]


class SubscriptionIn(BaseModel):
    url: str = Field(max_length=2000, description="http(s) URL the events are POSTed to")
    events: list[Event] = Field(min_length=1, max_length=4)
    provider: str | None = Field(
        default=None,
        max_length=40,
        description="NPI / npi:NPI / tin:TIN (ops keys; an uploader key's is its own)",
    )


class SubscriptionOut(BaseModel):
    id: int
    provider: str
    url: str
    events: list[str]
    created_at: str
    created_by: str
    active: bool


class CreatedSubscription(SubscriptionOut):
    secret: str = Field(description="The signing secret: shown in this response only")


class DeliveryOut(BaseModel):
    id: int
    subscription_id: int
    event: str
    event_id: str
    state: str = Field(description="queued | delivering | delivered | failed")
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    replay_of: int | None


def _scope(principal: Principal) -> str | None:
    """None: every provider (ops, auditor); else the caller's own provider only."""
    return principal.provider_key


def _provider_for(principal: Principal, requested: str | None) -> str:
    from gateway.api.keys import normalise_provider

    if principal.role is Role.UPLOADER:
        own = principal.provider_key
        if own is None or (requested is not None and normalise_provider(requested) != own):
            raise ApiError(
                403, "this key manages its own provider's webhooks only", code="forbidden"
            )
        return own
    if requested is None:
        raise ApiError(422, "name the provider the subscription is for", code="provider_required")
    return requested


@router.post(
    "",
    status_code=201,
    response_model=CreatedSubscription,
    responses=problem_responses(400, 401, 403, 422),
)
def create_subscription(
    body: SubscriptionIn, ctx: Ctx, principal: Uploaders
) -> CreatedSubscription:
    """Subscribe a URL to events of one provider; the response holds the secret (once)."""
    provider = _provider_for(principal, body.provider)
    with ctx.db.write() as s:
        view, secret = service.subscribe(
            s,
            provider=provider,
            url=body.url,
            events=list(body.events),
            actor=principal.actor,
            allow_private=ctx.settings.webhook_allow_private_urls,
        )
    return CreatedSubscription.model_validate({**_fields(view), "secret": secret})


def _fields(view: service.SubscriptionView) -> dict[str, object]:
    return {name: getattr(view, name) for name in SubscriptionOut.model_fields}


@router.get("", response_model=list[SubscriptionOut], responses=problem_responses(401, 403))
def list_subscriptions(ctx: Ctx, principal: AnyRole) -> list[SubscriptionOut]:
    """The caller's subscriptions (every provider's for ops and auditor); never a secret."""
    with ctx.db.read() as s:
        views = service.list_subscriptions(s, _scope(principal))
    return [SubscriptionOut.model_validate(_fields(v)) for v in views]


@router.delete(
    "/{subscription_id}",
    response_model=SubscriptionOut,
    responses=problem_responses(400, 401, 403, 404, 422),
)
def disable_subscription(subscription_id: DbId, ctx: Ctx, principal: Uploaders) -> SubscriptionOut:
    """Disable a subscription (the row and its delivery log stay)."""
    with ctx.db.write() as s:
        view = service.disable(
            s, subscription_id, provider=_scope(principal), actor=principal.actor
        )
    return SubscriptionOut.model_validate(_fields(view))


@router.get(
    "/deliveries", response_model=list[DeliveryOut], responses=problem_responses(401, 403, 422)
)
def list_deliveries(
    ctx: Ctx,
    principal: AnyRole,
    subscription_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    state: Annotated[Literal["queued", "delivering", "delivered", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DeliveryOut]:
    """The delivery log, newest first: state, attempts, the receiver's last status."""
    with ctx.db.read() as s:
        views = service.list_deliveries(
            s, _scope(principal), subscription_id=subscription_id, state=state, limit=limit
        )
    return [DeliveryOut.model_validate(_dfields(v)) for v in views]


def _dfields(view: service.DeliveryView) -> dict[str, object]:
    return {name: getattr(view, name) for name in DeliveryOut.model_fields}


@router.post(
    "/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryOut,
    responses=problem_responses(400, 401, 403, 404, 422),
)
def replay_delivery(delivery_id: DbId, ctx: Ctx, principal: Uploaders) -> DeliveryOut:
    """Queue the same event (same id and payload) again as a new delivery."""
    with ctx.db.write() as s:
        view = service.replay(s, delivery_id, provider=_scope(principal), actor=principal.actor)
    return DeliveryOut.model_validate(_dfields(view))


__all__ = ["router"]
