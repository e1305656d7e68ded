"""The case worklist as one query: filters, search, sort by any column, paging, totals and
the count of every state, all in the database (SQLAlchemy Core, bound parameters only).

Used by ``GET /v1/cases``, the console's ``/console/cases`` and ``gateway cases list`` (and
their CSV/XLSX exports), so the three show the same rows. ``scope`` (a provider key) confines
a provider's key to its own cases; ``provider`` is the user's filter inside that scope.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.remittance_rows import ClaimPaymentRow
from gateway.db.types import tbl
from gateway.errors import GatewayError, InputError
from gateway.read.credits import ACTIVE_CASE_STATES
from gateway.read.worklist import (
    CaseList,
    CaseSort,
    CaseTotals,
    StateCount,
    WorklistFilter,
    WorklistRow,
)
from gateway.reconcile.tables import Credit
from gateway.resolve import case_views
from gateway.resolve import workflow as wf
from gateway.resolve.tables import ResolutionCase
from schemas.states import CaseState, CreditStatus

if TYPE_CHECKING:
    from mappings.payers import PayerDirectory

CENT = Decimal("0.01")
S = CaseState


def _conds(
    f: WorklistFilter, today: dt.date, scope: str | None, me: str | None = None
) -> list[ColumnElement[bool]]:
    """Every condition but the state filter (state counts are taken under these)."""
    rc, ct, pt = tbl(ResolutionCase), tbl(Credit), tbl(Provider)
    conds: list[ColumnElement[bool]] = []
    # By id, not a join: the aggregate then visits only cases and credits.
    if scope is not None:
        conds.append(ct.c.provider_id.in_(select(pt.c.id).where(pt.c.key == scope)))
    if f.provider is not None:
        conds.append(ct.c.provider_id.in_(select(pt.c.id).where(pt.c.key == f.provider)))
    if f.payer is not None:
        conds.append(ct.c.payer_id == f.payer)
    if f.cause is not None:
        conds.append(ct.c.cause == f.cause)
    if f.government is not None:
        conds.append(ct.c.government == f.government)
    if f.due_within is not None:
        conds.append(ct.c.due_by.is_not(None))
        conds.append(ct.c.due_by <= today + dt.timedelta(days=f.due_within))
    late = and_(ct.c.due_by < today, rc.c.state.in_([st.value for st in ACTIVE_CASE_STATES]))
    if f.overdue is True:
        conds.append(late)
    elif f.overdue is False:
        conds.append(~late | ct.c.due_by.is_(None))
    if f.amount_min is not None:
        conds.append(ct.c.amount >= f.amount_min)
    if f.amount_max is not None:
        conds.append(ct.c.amount <= f.amount_max)
    if f.identified_from is not None:
        conds.append(ct.c.identified_on >= f.identified_from)
    if f.identified_to is not None:
        conds.append(ct.c.identified_on <= f.identified_to)
    if f.assignee is not None:
        conds.append(_assigned(f.assignee, me))
    if f.q:
        conds.append(_search(f.q))
    return conds


def _assigned(assignee: str, me: str | None) -> ColumnElement[bool]:
    """``assignee=``: a username, ``none`` (unassigned) or ``me`` (the signed-in person)."""
    rc = tbl(ResolutionCase)
    who = me if assignee == "me" else assignee
    if who is None:
        raise InputError(
            "assignee=me needs a signed-in person (an API key is not one); name the user",
            code="bad_filter",
        )
    if who == "none":
        return rc.c.assignee.is_(None)
    return rc.c.assignee == who.strip().lower()


def _search(q: str) -> ColumnElement[bool]:
    """``q=``: the account, a patient control number prefix, or a payer's ICN of the claim."""
    ct, cp = tbl(Credit), tbl(ClaimPaymentRow)
    by_icn = exists().where(
        cp.c.provider_id == ct.c.provider_id,
        cp.c.patient_control_number == ct.c.patient_control_number,
        cp.c.payer_claim_control_number == q,
    )
    return or_(
        ct.c.account_id == q,
        ct.c.patient_control_number.startswith(q, autoescape=True),
        by_icn,
    )


def _order(f: WorklistFilter) -> list[Any]:
    rc, ct, pt = tbl(ResolutionCase), tbl(Credit), tbl(Provider)
    if f.sort is CaseSort.WORKLIST:
        # government first, dated before undated, soonest due, then provider and claim: the
        # terms of ix_credits_case_worklist as written there, so the page walks that index
        gov, undated, due = ct.c.government, ct.c.due_by.is_(None), ct.c.due_by
        pid, pcn = ct.c.provider_id, ct.c.patient_control_number
        if f.desc:
            keys: list[Any] = [gov.asc(), undated.desc(), due.desc(), pid.desc(), pcn.desc()]
        else:
            keys = [gov.desc(), undated, due, pid, pcn]
        return [*keys, rc.c.id]
    column = {
        CaseSort.CREDIT: ct.c.id,
        CaseSort.PROVIDER: pt.c.key,
        CaseSort.STATE: rc.c.state,
        CaseSort.CLAIM: ct.c.patient_control_number,
        CaseSort.ACCOUNT: func.coalesce(ct.c.account_id, ""),
        CaseSort.OWED_TO: ct.c.owed_to,
        CaseSort.PAYER: ct.c.payer_id,
        CaseSort.AMOUNT: ct.c.amount,
        CaseSort.CAUSE: ct.c.cause,
        CaseSort.GOVERNMENT: ct.c.government,
        CaseSort.IDENTIFIED_ON: ct.c.identified_on,
        CaseSort.DUE_BY: func.coalesce(ct.c.due_by, dt.date(9999, 12, 31)),
        CaseSort.ASSIGNEE: func.coalesce(rc.c.assignee, ""),
    }[f.sort]
    return [column.desc() if f.desc else column.asc(), rc.c.id]


def allowed_actions(c: Any, payers: PayerDirectory | None) -> tuple[str, ...]:
    """The actions that can succeed on this case now; approve only when the owner is known,
    the credit is open and there is a way (layout) to send the money back. ``payers``: None
    for the shipped profiles, loaded only when a case could be approved (a listing without
    such a case reads no payer YAML)."""
    state = CaseState(c.state)
    nxt = wf.TRANSITIONS[state]
    out: list[str] = []
    known = c.owed_to in ("payer", "patient")
    if S.APPROVED in nxt and state is S.OPEN and c.credit_status == CreditStatus.OPEN and known:
        if not payers:  # as ``payers or default_directory()`` did
            from mappings.payers import default_directory

            payers = default_directory()
        try:
            wf.resolution_method(c, payers, None)
            out.append("approve")
        except GatewayError:
            pass
    if S.DISPUTED in nxt:
        out.append("dispute")
    if S.RESOLVED in nxt:
        out.append("resolve")
    if S.OPEN in nxt:
        out.append("reopen")
    return tuple(out)


def _row(r: Any, payers: PayerDirectory | None, today: dt.date) -> WorklistRow:
    view = case_views.case_view(r)
    data = {
        **view.model_dump(),
        "provider_key": r.provider_key,
        "assignee": r.assignee,
        "root_cause": r.root_cause,
    }
    data.pop("days_left", None)
    data.pop("overdue", None)
    data.pop("warnings", None)
    row = WorklistRow.model_validate(data)
    out = row.model_copy(update={"actions": allowed_actions(row, payers)})
    out._today = today
    return out


def worklist(
    s: Session,
    f: WorklistFilter,
    *,
    today: dt.date | None = None,
    scope: str | None = None,
    payers: PayerDirectory | None = None,
    me: str | None = None,
) -> CaseList:
    """One page of cases in ``f``'s order, with the totals and per-state counts; ``me`` is the
    username ``assignee=me`` stands for (None: the caller is no person, and ``me`` is refused)."""
    day = today or dt.date.today()
    rc, ct, pt = tbl(ResolutionCase), tbl(Credit), tbl(Provider)
    base = _conds(f, day, scope, me)
    joined = rc.join(ct, ct.c.id == rc.c.credit_id)
    cents = cast(func.round(ct.c.amount * 100), BigInteger)
    late = and_(ct.c.due_by < day, rc.c.state.in_([st.value for st in ACTIVE_CASE_STATES]))
    # One scan: per-state count, cents and overdue count; the totals are the sum over the
    # states the filter selects (a second scan for them doubled the cost at 100,000 cases).
    by_state = {
        str(r[0]): (int(r[1]), int(r[2]), int(r[3]))
        for r in s.execute(
            select(
                rc.c.state,
                func.count(),
                func.coalesce(func.sum(cents), 0),
                func.coalesce(func.sum(case((late, 1), else_=0)), 0),
            )
            .select_from(joined)
            .where(*base)
            .group_by(rc.c.state)
        )
    }
    none = (0, 0, 0)
    states = [
        StateCount(
            state=st,
            count=by_state.get(st.value, none)[0],
            amount=Decimal(by_state.get(st.value, none)[1]) * CENT,
        )
        for st in CaseState
    ]
    picked = [st.value for st in f.state]
    chosen = [v for k, v in by_state.items() if not picked or k in picked]
    count, total_cents, overdue = (sum(v[i] for v in chosen) for i in range(3))
    where = [*base]
    if picked:
        where.append(rc.c.state.in_(picked))
    # The page's ids are sorted on the narrow join; only its rows are then read in full.
    if f.sort is CaseSort.PROVIDER:
        joined = joined.join(pt, pt.c.id == ct.c.provider_id)
    order = _order(f)
    page = (
        select(rc.c.id)
        .select_from(joined)
        .where(*where)
        .order_by(*order)
        .limit(f.limit)
        .offset(f.offset)
    )
    stmt = (
        case_views.case_query()
        .add_columns(pt.c.key.label("provider_key"), rc.c.assignee, rc.c.root_cause)
        .where(rc.c.id.in_(page))
        .order_by(*order)
    )
    items = [_row(r, payers, day) for r in s.execute(stmt)]
    return CaseList(
        items=items,
        totals=CaseTotals(count=count, amount=Decimal(total_cents) * CENT, overdue_count=overdue),
        states=states,
        limit=f.limit,
        offset=f.offset,
    )


def get_row(
    s: Session, credit_id: int, *, scope: str | None = None, today: dt.date | None = None
) -> WorklistRow:
    """One case as a worklist row; NotFound (404) outside ``scope`` as for an unknown id."""
    rc, pt = tbl(ResolutionCase), tbl(Provider)
    stmt = case_views.case_query().add_columns(
        pt.c.key.label("provider_key"), rc.c.assignee, rc.c.root_cause
    )
    stmt = stmt.where(rc.c.credit_id == credit_id)
    if scope is not None:
        stmt = stmt.where(pt.c.key == scope)
    r = s.execute(stmt).one_or_none()
    if r is None:
        case_views.get_case(s, -1)  # raises the one "case not found" error
    return _row(r, None, today or dt.date.today())


#: the worklist's columns, in screen order (console table, CSV and XLSX exports)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("credit_id", "Credit"),
    ("provider_key", "Provider"),
    ("state", "State"),
    ("account_id", "Account"),
    ("patient_control_number", "Claim"),
    ("owed_to", "Owed to"),
    ("payer_id", "Payer"),
    ("amount", "Amount"),
    ("cause", "Cause"),
    ("government", "Gov"),
    ("identified_on", "Identified"),
    ("due_by", "Due by"),
    ("days_left", "Days left"),
    ("assignee", "Assignee"),
)


__all__ = ["COLUMNS", "allowed_actions", "get_row", "worklist"]
