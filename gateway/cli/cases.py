"""``gateway cases``: the credit-balance worklist, one case's evidence, and every change of
state (approve, dispute, resolve, reopen, investigate, escheat), each audited."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.table import Table

from gateway.cli.app import EXIT_FINDINGS, EXIT_UNREADABLE, console, err_console
from gateway.cli.resolution import (
    Actor,
    AsJson,
    Day,
    Payers,
    Reason,
    _day,
    _db,
    _echo,
    _fail,
    _payers,
    cases_app,
)


@cases_app.command("sync")
def cases_sync() -> None:
    """Open a case for every open credit; resolve cases whose credit was resolved."""
    from gateway.resolve.case_sync import sync_cases

    with _db() as (db, _), db.write() as s:
        res = sync_cases(s)
    console.print(f"cases opened: {res.opened}, resolved: {res.resolved}")


@cases_app.command("list")
def cases_list(
    as_json: AsJson = False,
    state: Annotated[list[str] | None, typer.Option(help="Case state(s) (repeatable)")] = None,
    due_within: Annotated[
        int | None,
        typer.Option("--due-within", min=0, help="Only cases due within N days (overdue included)"),
    ] = None,
    government: Annotated[
        bool | None,
        typer.Option("--government/--commercial", help="Only government (or only other) credits"),
    ] = None,
    payer: Annotated[str | None, typer.Option(help="Canonical payer id")] = None,
    provider: Annotated[str | None, typer.Option(help="Provider key (npi:..., tin:...)")] = None,
    cause: Annotated[str | None, typer.Option(help="Cause (duplicate_payment, ...)")] = None,
    overdue_only: Annotated[
        bool | None, typer.Option("--overdue/--not-overdue", help="Only overdue (or not) cases")
    ] = None,
    amount_min: Annotated[str | None, typer.Option("--amount-min", help="Smallest amount")] = None,
    amount_max: Annotated[str | None, typer.Option("--amount-max", help="Largest amount")] = None,
    identified_from: Annotated[
        dt.datetime | None,
        typer.Option("--identified-from", formats=["%Y-%m-%d"], help="Identified on or after"),
    ] = None,
    identified_to: Annotated[
        dt.datetime | None,
        typer.Option("--identified-to", formats=["%Y-%m-%d"], help="Identified on or before"),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", help="Account, patient control number (prefix) or payer ICN"),
    ] = None,
    assignee: Annotated[
        str | None, typer.Option(help="Username working the case (none: unassigned)")
    ] = None,
    sort: Annotated[str, typer.Option(help="Column to sort by (worklist: due order)")] = (
        "worklist"
    ),
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size")] = 1000,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many cases")] = 0,
    as_of: Day = None,
) -> None:
    """The worklist (every state unless --state): government credits first, soonest due
    first, then the rest; any column sort; warns about overdue ones."""
    from pydantic import ValidationError

    from gateway.errors import GatewayError
    from gateway.read.worklist import WorklistFilter
    from gateway.resolve.case_sync import sync_cases
    from gateway.resolve.case_views import overdue
    from gateway.resolve.worklist import worklist
    from schemas.serialize import money

    day = _day(as_of)
    try:
        f = WorklistFilter.model_validate(
            {
                "provider": provider,
                "payer": payer,
                "cause": cause,
                "government": government,
                "due_within": due_within,
                "overdue": overdue_only,
                "state": state or [],
                "amount_min": amount_min,
                "amount_max": amount_max,
                "identified_from": identified_from.date() if identified_from else None,
                "identified_to": identified_to.date() if identified_to else None,
                "q": search,
                "assignee": assignee,
                "sort": sort,
                "desc": desc,
                "limit": limit,
                "offset": offset,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        err_console.print(
            f"[red]bad_filter: {'.'.join(map(str, first['loc']))}: {first['msg']}[/red]"
        )
        raise typer.Exit(EXIT_UNREADABLE) from None
    with _db() as (db, _):
        with db.write() as s:
            sync_cases(s)
        with db.read() as s:
            try:
                page = worklist(s, f, today=day)
            except GatewayError as exc:
                raise _fail(exc) from None
    rows = page.items
    late = overdue(list(rows), day)
    if as_json:
        _echo([c.on(day).model_dump(mode="json") for c in rows])
    else:
        table = Table(
            "credit",
            "provider",
            "state",
            "account",
            "claim",
            "owed to",
            "payer",
            "amount",
            "cause",
            "gov",
            "due by",
            "days left",
            "method",
            title=f"Credit-balance cases ({page.totals.count} matching, "
            f"{money(page.totals.amount)})",
        )
        for c in rows:
            left = c.days_left(day)
            style = "red" if c.overdue(day) else ""
            table.add_row(
                str(c.credit_id),
                c.provider_key,
                c.state,
                c.account_id or "",
                c.patient_control_number,
                c.owed_to,
                c.payer_id or "",
                money(c.amount),
                c.cause,
                "yes" if c.government else "",
                c.due_by.isoformat() if c.due_by else "",
                "" if left is None else str(left),
                c.method or "",
                style=style,
            )
        console.print(table)
        console.print("states: " + ", ".join(f"{st.state.value} {st.count}" for st in page.states))
    if late:
        err_console.print(
            f"[bold red]WARNING: {len(late)} case(s) past their due date "
            f"(credits {', '.join(str(c.credit_id) for c in late[:20])})"
            "[/bold red]"
        )
        raise typer.Exit(EXIT_FINDINGS)


@cases_app.command("show")
def cases_show(credit_id: int, as_json: AsJson = False, as_of: Day = None) -> None:
    """One case with the evidence of why the money is owed: the claim's 837 lines, its 835
    adjudications, PLB recoupments, ledger rows, the computation B(c) and its attribution,
    variances, refund requests, documents and the full history (who, when, why)."""
    from gateway.errors import GatewayError
    from gateway.resolve.casefile import case_detail
    from schemas.serialize import money

    day = _day(as_of)
    with _db() as (db, _), db.write() as s:
        try:
            d = case_detail(s, credit_id, scope=None, phi=True, today=day)
        except GatewayError as exc:
            raise _fail(exc) from None
    if as_json:
        _echo(d.model_dump(mode="json"))
        return
    case, k = d.case, d.computation
    console.print(
        f"credit {case.credit_id} (case {case.case_id}, {case.provider_key}): {case.state}; "
        f"{money(case.amount)} owed to {case.owed_to} {case.payer_id or ''} "
        f"({case.cause}); due {case.due_by or '-'}; assigned to {case.assignee or 'nobody'}; "
        f"root cause {case.root_cause or 'unassigned'}; notes: {len(d.notes)}"
    )
    comp = Table("term", "amount", title="Computation B(c)")
    comp.add_row("charges", money(k.charges))
    for p, a in k.write_offs.items():
        comp.add_row(f"W {p}", money(a))
    for p, a in k.net_payments.items():
        comp.add_row(f"N {p}", money(a))
    comp.add_row("PR", money(k.patient_responsibility))
    comp.add_row("patient payments", money(k.patient_payments))
    comp.add_row("patient refunds", money(k.patient_refunds))
    comp.add_row("provider adjustments", money(k.provider_adjustments))
    comp.add_row("B(c)", money(k.balance))
    for c in k.attribution:
        comp.add_row(f"credit {c.cause} → {c.owed_to} {c.payer_id or ''}", money(c.amount))
    console.print(comp)
    adj = Table("payer", "ICN", "CLP02", "charge", "paid", "TRN", "date", "file", title="835s")
    for x in d.adjudications:
        adj.add_row(
            x.payer_id,
            x.icn,
            x.status_code,
            money(x.charge),
            money(x.paid),
            x.trace_number,
            str(x.payment_date or x.production_date or ""),
            f"{x.file_id} {x.file_name}",
        )
    console.print(adj)
    console.print(
        f"837 lines: {len(d.claim_lines)}; ledger rows: {len(d.ledger)}; recoupments: "
        f"{len(d.recoupments)}; variances: {len(d.variances)}; refund requests: "
        f"{len(d.refund_requests)}; documents: {len(d.documents)}"
    )
    table = Table("at", "from", "to", "actor", "reason", title="History")
    for t in case.history:
        table.add_row(
            t.at.isoformat(timespec="seconds"), t.from_state or "", t.to_state, t.actor, t.reason
        )
    console.print(table)


def _act(credit_id: int, action: str, **kwargs: Any) -> None:
    from gateway.errors import GatewayError
    from gateway.resolve import case_sync, workflow

    with _db() as (db, _):
        try:
            with db.write() as s:
                case_sync.sync_cases(s)
                case = getattr(workflow, action)(s, credit_id, **kwargs)
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(
        f"credit {credit_id}: {case.state}" + (f" ({case.method})" if case.method else "")
    )


@cases_app.command("approve")
def cases_approve(
    credit_id: int,
    reason: Reason,
    actor: Actor = None,
    payers: Payers = None,
    method: Annotated[
        str | None, typer.Option(help="refund | offset (default: the payer's preference)")
    ] = None,
) -> None:
    """Approve returning a credit (checks the payer has a layout to send it with)."""
    from gateway.audit import current_actor

    _act(
        credit_id,
        "approve",
        actor=current_actor(actor),
        reason=reason,
        payers=_payers(payers),
        method=method,
    )


@cases_app.command("dispute")
def cases_dispute(credit_id: int, reason: Reason, actor: Actor = None) -> None:
    """The payer's request is not owed (invalid): dispute the case."""
    from gateway.audit import current_actor

    _act(credit_id, "dispute", actor=current_actor(actor), reason=reason)


@cases_app.command("resolve")
def cases_resolve(
    credit_id: int,
    reason: Reason,
    actor: Actor = None,
    reference: Annotated[str | None, typer.Option(help="Payer confirmation / check number")] = None,
) -> None:
    """Close a case by hand (refund confirmed, fixed internally, remitted to the state)."""
    from gateway.audit import current_actor

    _act(credit_id, "resolve", actor=current_actor(actor), reason=reason, reference=reference)


@cases_app.command("reopen")
def cases_reopen(credit_id: int, reason: Reason, actor: Actor = None) -> None:
    """Reverse an approval, a dispute or a resolution (a new audited transition)."""
    from gateway.audit import current_actor

    _act(credit_id, "reopen", actor=current_actor(actor), reason=reason)


@cases_app.command("investigate")
def cases_investigate(
    credit_id: int,
    reason: Reason,
    opened: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Investigation start")],
    closed: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Investigation end")
    ] = None,
    actor: Actor = None,
    payers: Payers = None,
    as_json: AsJson = False,
) -> None:
    """Record a good-faith investigation (audited). It suspends the deadline only for
    Medicare Parts A and B (up to 180 days, 42 CFR 401.305) or where the payer profile sets
    investigation_days; anywhere else the deadline does not move, and this says so."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.resolve import case_sync, case_views, workflow

    directory = _payers(payers)
    with _db() as (db, _):
        try:
            with db.write() as s:
                case_sync.sync_cases(s)
                before = case_views.get_case(s, credit_id, history=False)
                case = workflow.investigate(
                    s,
                    credit_id,
                    actor=current_actor(actor),
                    reason=reason,
                    opened_on=opened.date(),
                    closed_on=closed.date() if closed else None,
                    payers=directory,
                )
                _, basis = workflow.investigation_days(case, directory)
        except GatewayError as exc:
            raise _fail(exc) from None
    due = case.due_by.isoformat() if case.due_by else "none"
    if as_json:
        _echo(
            {
                **case.model_dump(mode="json"),
                "deadline_moved": case.due_by != before.due_by,
                "suspension": basis,
            }
        )
    elif case.investigation_days:
        console.print(
            f"credit {credit_id}: investigation recorded; {basis}: due by {due}"
            + ("" if case.due_by != before.due_by else " (unchanged)")
        )
    else:
        console.print(
            f"credit {credit_id}: investigation recorded for the audit trail only. "
            f"The deadline does not move: due by {due}. Why: {basis}."
        )


@cases_app.command("escheat")
def cases_escheat(as_of: Day = None, actor: Actor = None) -> None:
    """Move patient credits unclaimed past their state's dormancy period to escheat_pending."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.resolve.reports import mark_escheat
    from mappings.escheat import load_escheat

    with _db() as (db, _):
        try:
            with db.write() as s:
                moved = mark_escheat(
                    s, as_of=_day(as_of), rules=load_escheat(), actor=current_actor(actor)
                )
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(f"{len(moved)} case(s) now escheat_pending")
