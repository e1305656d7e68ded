"""Bulk actions on cases (assign, approve, investigate, add to a batch), with per-case results.

Each case runs in its own savepoint: one refused case (another provider's, an approval without
a layout, a case in the wrong state) is reported with its reason and leaves the others done.
Batching issues whole provider × payer groups, as batch creation would, or refuses the group.
``scope`` is a provider key, as in ``gateway.resolve.casework``. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import audit
from gateway.db.types import tbl
from gateway.errors import GatewayError, InputError
from gateway.read.types import READ
from gateway.reconcile.tables import Credit
from gateway.resolve import case_views
from gateway.resolve import workflow as wf
from gateway.resolve.casework import BulkAction, assign, require_case, require_role
from gateway.resolve.tables import BatchItem, ResolutionCase
from gateway.security.roles import Role
from mappings.payers import PayerDirectory, default_directory
from schemas.states import CaseState

#: the most cases one bulk request may name
BULK_MAX = 500


class BulkItem(BaseModel):
    """What one case of a bulk action came to."""

    model_config = READ

    credit_id: int
    ok: bool
    state: CaseState | None = Field(default=None, description="The case's state afterwards")
    code: str | None = Field(default=None, description="Why it was refused (null: done)")
    message: str | None = None
    batch_id: int | None = Field(default=None, description="batch only: the batch it went into")


class BulkResult(BaseModel):
    """Per-case results of a bulk action: which succeeded, which were refused and why."""

    model_config = READ

    action: BulkAction
    done: int
    refused: int
    items: list[BulkItem]


def _one(
    s: Session,
    action: BulkAction,
    credit_id: int,
    *,
    actor: str,
    scope: str | None,
    reason: str,
    assignee: str | None,
    payers: PayerDirectory,
    opened_on: dt.date,
) -> BulkItem:
    require_case(s, credit_id, scope=scope)
    if action is BulkAction.ASSIGN:
        assign(s, credit_id, assignee, actor=actor, scope=scope, reason=reason)
    elif action is BulkAction.APPROVE:
        wf.approve(s, credit_id, actor=actor, reason=reason, payers=payers)
    elif action is BulkAction.INVESTIGATE:
        wf.investigate(s, credit_id, actor=actor, reason=reason, opened_on=opened_on, payers=payers)
    state = require_case(s, credit_id, scope=scope).state
    return BulkItem(credit_id=credit_id, ok=True, state=CaseState(state))


def _refused(credit_id: int, exc: GatewayError, state: str | None = None) -> BulkItem:
    return BulkItem(
        credit_id=credit_id,
        ok=False,
        state=CaseState(state) if state else None,
        code=exc.code,
        message=exc.message,
    )


def _batch(
    s: Session,
    ids: list[int],
    *,
    actor: str,
    scope: str | None,
    payers: PayerDirectory,
    as_of: dt.date,
    sources: Any,
) -> list[BulkItem]:
    """Issue the selected approved cases as batches.

    Batch creation issues every approved, unbatched case of a provider × payer together (a
    payer's transmittal lists them all; without a payer, every approved case of the provider);
    so a group is issued only when the selection holds all of what batch creation would pick
    up, and otherwise its selected cases are refused naming the cases missing. Nothing is ever
    issued that was not selected."""
    from gateway.resolve.batches.issue import create_batches

    out: dict[int, BulkItem] = {}
    wanted: dict[tuple[int, str | None], list[int]] = {}
    rc, bi, ct = tbl(ResolutionCase), tbl(BatchItem), tbl(Credit)
    for cid in ids:
        try:
            case = require_case(s, cid, scope=scope)
        except GatewayError as exc:
            out[cid] = _refused(cid, exc)
            continue
        if case.state != CaseState.APPROVED.value:
            out[cid] = BulkItem(
                credit_id=cid,
                ok=False,
                state=CaseState(case.state),
                code="not_approved",
                message=f"credit {cid} is {case.state}: only approved cases go into a batch",
            )
            continue
        view = case_views.get_case(s, cid, history=False)
        wanted.setdefault((view.provider_id, view.payer_id), []).append(cid)
    # a payer's group first; a group without a payer last: batch creation without a payer
    # picks up every approved case of the provider, so it may go only once the payer groups
    # have been issued (or when the selection holds them all)
    order = sorted(wanted.items(), key=lambda kv: (kv[0][1] is None, kv[0][0], kv[0][1] or ""))
    for (provider_id, payer_id), members in order:
        # exactly what create_batches(provider_id=..., payer_id=...) would pick up now
        pickup = [
            rc.c.state == CaseState.APPROVED.value,
            ct.c.provider_id == provider_id,
            ~select(bi.c.id).where(bi.c.case_id == rc.c.id, bi.c.cancelled.is_(False)).exists(),
        ]
        if payer_id is not None:
            pickup.append(ct.c.payer_id == payer_id)
        group = {
            int(r[0])
            for r in s.execute(
                select(rc.c.credit_id)
                .select_from(rc.join(ct, ct.c.id == rc.c.credit_id))
                .where(*pickup)
            )
        }
        missing = sorted(group - set(members))
        if missing:
            for cid in members:
                out[cid] = BulkItem(
                    credit_id=cid,
                    ok=False,
                    state=CaseState.APPROVED,
                    code="batch_group_incomplete",
                    message=(
                        f"a batch for {'payer ' + payer_id if payer_id else 'patients'} is issued "
                        "with every approved case it covers; also select credit(s) "
                        f"{', '.join(map(str, missing[:10]))}"
                        + (" ..." if len(missing) > 10 else "")
                    ),
                )
            continue
        try:
            with s.begin_nested():
                res = create_batches(
                    s,
                    as_of=as_of,
                    actor=actor,
                    payers=payers,
                    provider_id=provider_id,
                    payer_id=payer_id,
                    disputes=False,
                    sources=sources,
                )
        except GatewayError as exc:
            for cid in members:
                out[cid] = _refused(cid, exc, CaseState.APPROVED.value)
            continue
        batch_of = {c: b.id for b in res.batches for c in b.credit_ids}
        problem_of = {c: p for p in res.problems for c in p.credit_ids}
        for cid in members:
            state = CaseState(require_case(s, cid, scope=scope).state)
            if cid in batch_of:
                out[cid] = BulkItem(credit_id=cid, ok=True, state=state, batch_id=batch_of[cid])
            else:
                p = problem_of.get(cid)
                out[cid] = BulkItem(
                    credit_id=cid,
                    ok=False,
                    state=state,
                    code=p.code if p else "not_issued",
                    message=p.message if p else "no batch was issued for this case",
                )
    return [out[cid] for cid in ids]


def bulk(
    s: Session,
    action: BulkAction | str,
    credit_ids: Iterable[int],
    *,
    actor: str,
    role: Role,
    scope: str | None,
    reason: str = "",
    assignee: str | None = None,
    payers: PayerDirectory | None = None,
    opened_on: dt.date | None = None,
    as_of: dt.date | None = None,
    sources: Any = None,
) -> BulkResult:
    """Run ``action`` on each case; see the module doc. The role is checked first (403)."""
    act = BulkAction(action)
    require_role(role, act)
    ids = list(dict.fromkeys(int(i) for i in credit_ids))
    if not ids:
        raise InputError("select at least one case", code="no_cases")
    if len(ids) > BULK_MAX:
        raise InputError(f"at most {BULK_MAX} cases at once", code="too_many_cases")
    if act is not BulkAction.ASSIGN:
        wf.require_reason(reason)
    directory = payers or default_directory()
    day = as_of or dt.date.today()
    if act is BulkAction.BATCH:
        items = _batch(
            s, ids, actor=actor, scope=scope, payers=directory, as_of=day, sources=sources
        )
    else:
        items = []
        for cid in ids:
            try:
                with s.begin_nested():
                    items.append(
                        _one(
                            s,
                            act,
                            cid,
                            actor=actor,
                            scope=scope,
                            reason=reason,
                            assignee=assignee,
                            payers=directory,
                            opened_on=opened_on or day,
                        )
                    )
            except GatewayError as exc:
                try:
                    state = require_case(s, cid, scope=scope).state
                except GatewayError:
                    state = None
                items.append(_refused(cid, exc, state))
    done = sum(1 for i in items if i.ok)
    audit.record(
        s,
        actor=actor,
        action="cases_bulk",
        outcome=f"{done}/{len(items)}",
        reason=reason.strip()[:1000] or act.value,
        details={
            "action": act.value,
            "done": [i.credit_id for i in items if i.ok],
            "refused": {str(i.credit_id): i.code for i in items if not i.ok},
        },
    )
    return BulkResult(action=act, done=done, refused=len(items) - done, items=items)


__all__ = ["BULK_MAX", "BulkItem", "BulkResult", "bulk"]
