"""``gateway cases|batches|report``: the credit-balance workflow, its batches and reports.

Cases are named by the credit's id (the ``id`` of ``gateway credits --json``). Every change
takes ``--reason`` and is audited under ``--actor`` (default $USER). Exit codes: 0 ok,
1 a warning that needs attention (overdue government credits, groups that could not be
issued, undelivered files), 2 usage, setup or refused action.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from gateway.cli.app import EXIT_FINDINGS, EXIT_UNREADABLE, app, cli_settings, console, err_console

if TYPE_CHECKING:
    from gateway.db.base import Database
    from gateway.settings import Settings
    from mappings.payers import PayerDirectory

cases_app = typer.Typer(
    help="Credit-balance cases: approve, dispute, resolve, investigate.", no_args_is_help=True
)
batches_app = typer.Typer(
    help="Refund, offset, patient-refund and dispute batches.", no_args_is_help=True
)
report_app = typer.Typer(
    help="CMS-838, root-cause/aging and escheat reports.", no_args_is_help=True
)
app.add_typer(cases_app, name="cases")
app.add_typer(batches_app, name="batches")
app.add_typer(report_app, name="report")

Day = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Working date (default today)"),
]
Reason = Annotated[str, typer.Option("--reason", help="Why (required; audited)")]
Actor = Annotated[str | None, typer.Option(help="Who (default $USER)")]
Payers = Annotated[
    Path | None, typer.Option(help="Payer profile folder (default: the shipped mappings/payers)")
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON for scripts")]


def _fail(exc: Exception) -> typer.Exit:
    code = getattr(exc, "code", type(exc).__name__)
    message = getattr(exc, "message", str(exc))
    err_console.print(f"[red]{code}: {message}[/red]")
    return typer.Exit(EXIT_UNREADABLE)


@contextmanager
def _db() -> Iterator[tuple[Database, Settings]]:
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    try:
        try:
            ensure_schema(db)
        except GatewayError as exc:
            raise _fail(exc) from None
        yield db, settings
    finally:
        db.dispose()


def _payers(folder: Path | None) -> PayerDirectory:
    from mappings.loader import MappingError
    from mappings.payers import default_directory, load_directory

    try:
        return load_directory(folder) if folder else default_directory()
    except MappingError as exc:
        raise _fail(exc) from None


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.date.today()


def _echo(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


# ---------------------------------------------------------------- cases


@cases_app.command("sync")
def cases_sync() -> None:
    """Open a case for every open credit; resolve cases whose credit was resolved."""
    from gateway.resolve.workflow import sync_cases

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
    from gateway.resolve.workflow import overdue, sync_cases
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
    from gateway.resolve import workflow

    with _db() as (db, _):
        try:
            with db.write() as s:
                workflow.sync_cases(s)
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
    from gateway.resolve import workflow

    directory = _payers(payers)
    with _db() as (db, _):
        try:
            with db.write() as s:
                workflow.sync_cases(s)
                before = workflow.get_case(s, credit_id, history=False)
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
    from gateway.resolve.reports import load_escheat, mark_escheat

    with _db() as (db, _):
        try:
            with db.write() as s:
                moved = mark_escheat(
                    s, as_of=_day(as_of), rules=load_escheat(), actor=current_actor(actor)
                )
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(f"{len(moved)} case(s) now escheat_pending")


# ---------------------------------------------------------------- batches


def _batch_table(rows: list[Any], title: str) -> Table:
    from schemas.serialize import money

    table = Table(
        "id",
        "batch",
        "kind",
        "payer",
        "msp",
        "claims",
        "amount",
        "state",
        "delivery",
        "files",
        title=title,
    )
    for b in rows:
        table.add_row(
            str(b.id),
            b.batch_key,
            b.kind,
            b.payer_id or "",
            "Y" if b.msp else "",
            str(b.record_count),
            money(b.amount),
            b.state,
            b.delivery,
            ", ".join(f.name for f in b.files),
        )
    return table


@batches_app.command("create")
def batches_create(
    as_of: Day = None,
    actor: Actor = None,
    payers: Payers = None,
    payer: Annotated[str | None, typer.Option(help="Only this payer")] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            "--check-reference",
            help="Check number or EFT trace the letters cite (default: a blank to fill in)",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the files to this folder")] = None,
    as_json: AsJson = False,
) -> None:
    """Issue every approved case not yet in a batch (and disputes); never twice."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.resolve.batches import Sources, batch_content, create_batches
    from gateway.settings import x12_limits
    from gateway.store import store_from_settings

    with _db() as (db, settings):
        try:
            # names, member ids and addresses are read from the raw files as letters are made
            sources = Sources(store=store_from_settings(settings), limits=x12_limits(settings))
            with db.write() as s:
                res = create_batches(
                    s,
                    as_of=_day(as_of),
                    actor=current_actor(actor),
                    payers=_payers(payers),
                    payer_id=payer,
                    reference=reference,
                    sources=sources,
                )
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                with db.read() as s:
                    for b in res.batches:
                        for name, data in batch_content(s, b.id).items():
                            (out / name).write_bytes(data)
        except (GatewayError, OSError) as exc:
            raise _fail(exc) from None
    if as_json:
        _echo(
            {
                "batches": [b.model_dump(mode="json") for b in res.batches],
                "problems": [p.model_dump(mode="json") for p in res.problems],
            }
        )
    else:
        console.print(_batch_table(res.batches, f"{len(res.batches)} batch(es) issued"))
    for p in res.problems:
        err_console.print(
            f"[red]{p.code}: {p.message} (credits "
            f"{', '.join(map(str, p.credit_ids))} stay approved)[/red]"
        )
    if res.problems:
        raise typer.Exit(EXIT_FINDINGS)


@batches_app.command("list")
def batches_list(as_json: AsJson = False) -> None:
    """Every batch with its delivery state."""
    from gateway.resolve.batches import list_batches

    with _db() as (db, _), db.read() as s:
        rows = list_batches(s)
    if as_json:
        _echo([b.model_dump(mode="json") for b in rows])
        return
    console.print(_batch_table(rows, "Batches"))


@batches_app.command("show")
def batches_show(batch_id: int, as_json: AsJson = False) -> None:
    """A batch: its files (sha256, control totals), delivery state and receipts."""
    from gateway.errors import GatewayError
    from gateway.resolve.batches import get_batch
    from schemas.serialize import money

    with _db() as (db, _), db.read() as s:
        try:
            b = get_batch(s, batch_id)
        except GatewayError as exc:
            raise _fail(exc) from None
    if as_json:
        _echo(b.model_dump(mode="json"))
        return
    console.print(_batch_table([b], f"Batch {b.batch_key}"))
    table = Table("file", "role", "records", "amount", "sha256", "delivery", "receipt")
    for f in b.files:
        table.add_row(
            f.name,
            f.role,
            str(f.record_count),
            money(f.amount_sum),
            f.sha256[:16],
            f.delivery_state or "-",
            f.receipt.remote_path if f.receipt else (f.last_error or ""),
        )
    console.print(table)


@batches_app.command("export")
def batches_export(
    batch_id: int, to: Annotated[Path, typer.Option("--to", help="Folder to write into")]
) -> None:
    """Write a batch's exact files (e.g. the patient refund list for AP) to a folder."""
    from gateway.errors import GatewayError
    from gateway.resolve.batches import batch_content

    with _db() as (db, _), db.read() as s:
        content = batch_content(s, batch_id)
    if not content:
        raise _fail(GatewayError(f"no batch with id {batch_id}", code="batch_not_found"))
    to.mkdir(parents=True, exist_ok=True)
    for name, data in content.items():
        (to / name).write_bytes(data)
        console.print(str(to / name))


@batches_app.command("cancel")
def batches_cancel(batch_id: int, reason: Reason, actor: Actor = None) -> None:
    """Withdraw an undelivered batch; its cases return to approved."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.resolve.batches import cancel_batch

    with _db() as (db, _):
        try:
            with db.write() as s:
                b = cancel_batch(s, batch_id, actor=current_actor(actor), reason=reason)
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(f"batch {b.batch_key}: {b.state}")


@batches_app.command("deliver")
def batches_deliver(
    batch_id: int,
    actor: Actor = None,
    now: Annotated[
        bool, typer.Option("--now/--queue-only", help="Deliver at once (else the workers do)")
    ] = True,
) -> None:
    """Queue a batch for its payer's SFTP partner (and deliver it now); receipts recorded."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.outbound.queue import outbound_store
    from gateway.partners import configured_partners
    from gateway.resolve.batches import deliver_batch

    with _db() as (db, settings):
        try:
            b, res = deliver_batch(
                db,
                outbound_store(settings.data_dir),
                batch_id,
                profiles=configured_partners(settings),
                actor=current_actor(actor),
                now=now,
            )
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(
        f"batch {b.batch_key}: {b.delivery} ({len(res.delivered)} delivered, "
        f"{len(res.retrying)} queued for retry, {len(res.failed)} failed)"
    )
    if b.delivery != "delivered" and now:
        raise typer.Exit(EXIT_FINDINGS)


# ---------------------------------------------------------------- reports


@report_app.command("cms838")
def report_cms838(
    quarter: Annotated[str, typer.Option(help="Quarter, e.g. 2026Q3")],
    out: Annotated[Path, typer.Option(help="Folder for the CSV and PDF")] = Path("."),
    payers: Payers = None,
    providers: Annotated[
        Path | None,
        typer.Option(help="Provider profile folder (default: the shipped mappings/providers)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do not record the credits as reported")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """CMS-838 Medicare credit balance report: CSV + PDF per provider number (CCN) that has
    Medicare credits not yet reported; none (and it says so) when there are none to report.
    Exits 1 when a report was written with certification fields blank (each is named)."""
    from gateway.errors import GatewayError
    from gateway.resolve.cms838 import cms838
    from gateway.settings import x12_limits
    from gateway.store import store_from_settings
    from mappings.loader import MappingError
    from mappings.providers import default_directory as providers_dir
    from mappings.providers import load_directory as load_providers
    from schemas.serialize import money

    try:
        directory = load_providers(providers) if providers else providers_dir()
    except MappingError as exc:
        raise _fail(exc) from None
    with _db() as (db, settings):
        try:
            with db.write() as s:
                res = cms838(
                    s,
                    quarter=quarter,
                    payers=_payers(payers),
                    record=not dry_run,
                    store=store_from_settings(settings),
                    limits=x12_limits(settings),
                    providers=directory,
                )
            out.mkdir(parents=True, exist_ok=True)
            for r in res.reports:
                (out / r.csv.filename).write_bytes(r.csv.content)
                (out / r.pdf_name).write_bytes(r.pdf)
        except (GatewayError, OSError) as exc:
            raise _fail(exc) from None
    if as_json:
        _echo([r.read().model_dump(mode="json") for r in res.reports])
    for r in res.reports:
        if not as_json:
            console.print(
                f"{out / r.csv.filename}: {r.csv.record_count} credit(s), "
                f"{money(r.csv.amount_sum)}; {out / r.pdf_name}"
            )
        if r.names_missing:
            err_console.print(
                f"  {r.names_missing} beneficiary name(s) left blank: their raw "
                "files are pruned or unreadable (`gateway store verify`)"
            )
    incomplete = [r for r in res.reports if r.missing_fields]
    for r in incomplete:
        who = (
            f"provider number {r.provider_number}"
            if r.provider_number
            else f"NPI {', '.join(r.certifier.npis) or '(none)'}"
        )
        where = (
            f"fill them in {r.certifier.source}"
            if r.certifier.source
            else "no provider profile in mappings/providers names this NPI: add one "
            "(docs/provider-profiles.md)"
        )
        err_console.print(
            f"[red]cms838_incomplete: {r.pdf_name} ({who}) was written with "
            f"these certification fields blank: {', '.join(r.missing_fields)}; "
            f"{where}[/red]"
        )
    for w in [w for r in res.reports for w in r.warnings] + res.notices:
        err_console.print(f"[yellow]{w.code}: {w.message}[/yellow]")
    if not res.reports:
        message = (
            f"no Medicare credit balances to report for {res.quarter}: no CMS-838 "
            "written (since 1 December 2024 none is filed when there is nothing to "
            "report)"
        )
        (err_console if as_json else console).print(message)
    if res.refund_form_credits and not as_json:
        console.print(
            f"{res.refund_form_credits} professional Medicare Part B credit(s) are "
            "not on the CMS-838: they go back through the MAC's voluntary refund "
            "form (`gateway batches create`)"
        )
    if incomplete:
        raise typer.Exit(EXIT_FINDINGS)


@report_app.command("aging")
def report_aging(
    out: Annotated[Path | None, typer.Option(help="CSV file")] = None,
    as_of: Day = None,
    as_json: AsJson = False,
) -> None:
    """Root cause and aging: by cause, payer, CARC, month, age, deadline, recovery method."""
    from gateway.resolve.reports import aging

    with _db() as (db, _), db.write() as s:
        rep = aging(s, as_of=_day(as_of))
    if out is not None:
        out.write_bytes(rep.to_csv())
    if as_json:
        _echo(rep.to_json())
    elif out is None:
        typer.echo(rep.to_csv().decode(), nl=False)


@report_app.command("escheat")
def report_escheat(
    out: Annotated[Path, typer.Option(help="Folder for the CSVs")] = Path("."), as_of: Day = None
) -> None:
    """Unclaimed patient credits (escheat_pending) per provider."""
    from gateway.errors import GatewayError
    from gateway.resolve.reports import escheat_report, load_escheat
    from schemas.serialize import money

    with _db() as (db, _), db.read() as s:
        try:
            files = escheat_report(s, as_of=_day(as_of), rules=load_escheat())
        except GatewayError as exc:
            raise _fail(exc) from None
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        (out / f.filename).write_bytes(f.content)
        console.print(f"{out / f.filename}: {f.record_count} credit(s), {money(f.amount_sum)}")
    if not files:
        console.print("no escheat_pending credits")


@report_app.command("escheat-notices")
def report_escheat_notices(
    out: Annotated[Path, typer.Option(help="Folder for the notice PDFs")] = Path("."),
    as_of: Day = None,
    payers: Payers = None,
    as_json: AsJson = False,
) -> None:
    """Due-diligence notices due by AS_OF for unclaimed patient refunds (one PDF per
    provider, one page per patient), with each notice's due date and escheat date."""
    from gateway.errors import GatewayError
    from gateway.resolve.batches import Sources
    from gateway.resolve.notices import due_diligence
    from gateway.resolve.reports import load_escheat
    from gateway.settings import x12_limits
    from gateway.store import store_from_settings

    with _db() as (db, settings), db.read() as s:
        try:
            sources = Sources(store=store_from_settings(settings), limits=x12_limits(settings))
            found = due_diligence(
                s, as_of=_day(as_of), rules=load_escheat(), payers=_payers(payers), sources=sources
            )
        except GatewayError as exc:
            raise _fail(exc) from None
    out.mkdir(parents=True, exist_ok=True)
    for n in found:
        (out / n.filename).write_bytes(n.pdf)
    if as_json:
        _echo([{"file": str(out / n.filename), "due": [d.to_json() for d in n.due]} for n in found])
        return
    for n in found:
        console.print(f"{out / n.filename}: {len(n.due)} notice(s)")
        for d in n.due:
            console.print(
                f"  credit {d.credit_id}: notice due {d.notice_due}, escheats {d.escheat_on} "
                f"({d.state})"
            )
    if not found:
        console.print("no due-diligence notices due")
