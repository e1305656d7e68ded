"""Failures, who-am-I, API keys (metadata only) and the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from gateway.api.deps import AnyRole, Ctx, Readers
from gateway.api.keys import list_keys
from gateway.api.problems import problem_responses
from gateway.api.schemas import AuditOut, FailureOut, KeyOut, Page, WhoAmI
from gateway.audit import stored_actions
from gateway.db.models import AuditEntry, InboundFile
from schemas.states import FileState

router = APIRouter(prefix="/v1")
F = InboundFile


@router.get(
    "/failures",
    response_model=Page[FailureOut],
    tags=["files"],
    responses=problem_responses(401, 403),
)
def failures(
    ctx: Ctx,
    _: Readers,
    received_from: Annotated[dt.date | None, Query(description="Received on/after (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # unbounded: a 500 (overflow)
) -> Page[FailureOut]:
    """Quarantined files with their reason and exact location, oldest first."""
    stmt = select(F).where(F.state == FileState.FAILED.value)
    if received_from:
        stmt = stmt.where(F.received_at >= dt.datetime.combine(received_from, dt.time(), dt.UTC))
    with ctx.db.read() as s:
        total = s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = s.execute(stmt.order_by(F.id).limit(limit).offset(offset)).scalars()
        items = [FailureOut.model_validate(r) for r in rows]
    return Page[FailureOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/me", response_model=WhoAmI, tags=["keys"], responses=problem_responses(401))
def whoami(principal: AnyRole) -> WhoAmI:
    """The key this request was made with."""
    return WhoAmI(
        key_id=principal.key_id,
        name=principal.name,
        role=principal.role.value,
        provider_key=principal.provider_key,
    )


@router.get(
    "/keys", response_model=list[KeyOut], tags=["keys"], responses=problem_responses(401, 403)
)
def keys(ctx: Ctx, _: Readers) -> list[KeyOut]:
    """Every API key's metadata (never a secret or its hash). Keys are made with the CLI."""
    with ctx.db.read() as s:
        return [KeyOut.model_validate(k) for k in list_keys(s)]


@router.get(
    "/audit", response_model=Page[AuditOut], tags=["audit"], responses=problem_responses(401, 403)
)
def audit_log(
    ctx: Ctx,
    _: Readers,
    file_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    actor: str | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # unbounded: a 500 (overflow)
) -> Page[AuditOut]:
    """The append-only audit log, newest first."""
    stmt = select(AuditEntry)
    if file_id is not None:
        stmt = stmt.where(AuditEntry.file_id == file_id)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action:
        # an old row keeps the name it was written with (the chain hashes it): match both
        stmt = stmt.where(AuditEntry.action.in_(stored_actions(action)))
    with ctx.db.read() as s:
        total = s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = s.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)).scalars()
        items = [AuditOut.model_validate(r) for r in rows]
    return Page[AuditOut](items=items, total=total, limit=limit, offset=offset)
