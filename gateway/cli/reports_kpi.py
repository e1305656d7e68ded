"""``gateway report inventory|deadlines|recovery|days-to-resolve|rates|root-causes`` (the KPI
reports, as tables, ``--json`` or ``--csv``) and ``gateway cases root-cause ID CODE``."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

import typer

from gateway.cli.app import console
from gateway.cli.resolution import Actor, Day, _day, _db, _fail, cases_app, report_app

AsJson = Annotated[bool, typer.Option("--json", help="JSON for scripts")]
AsCsv = Annotated[bool, typer.Option("--csv", help="CSV (one row per figure)")]
Months = Annotated[int, typer.Option(min=1, max=36, help="Calendar months ending with --as-of's")]
ProviderOpt = Annotated[str | None, typer.Option(help="Only this provider (NPI, npi:NPI, tin:TIN)")]


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, "" if value is None else str(value)))


def _csv(data: dict[str, Any]) -> str:
    """Each list of the report as its own block of rows (section, then the row's fields)."""
    from gateway.security.cells import neutralise  # payer ids and codes come from input files

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    scalars = {k: v for k, v in data.items() if not isinstance(v, list | dict)}
    w.writerow(["section", *scalars])
    w.writerow(["summary", *(neutralise("" if v is None else str(v)) for v in scalars.values())])
    for name, value in data.items():
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        rows = [r for r in items if isinstance(r, dict)]
        if not rows:
            continue
        cols = list(rows[0])
        w.writerow([])
        w.writerow(["section", *cols])
        for r in rows:
            w.writerow(
                [name, *(neutralise("" if r.get(c) is None else str(r.get(c))) for c in cols)]
            )
    return buf.getvalue()


def _run(name: str, provider: str | None, as_json: bool, as_csv: bool, build: Any) -> None:
    import json

    from gateway.api.keys import normalise_provider
    from gateway.errors import GatewayError
    from gateway.reporting.scope import resolve_scope

    with _db() as (db, _):
        try:
            with db.read() as s:
                wanted = normalise_provider(provider) if provider else None
                pid = resolve_scope(s, key_provider=None, requested=wanted)
                report = build(s, pid)
        except GatewayError as exc:
            raise _fail(exc) from None
    data = report.model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif as_csv:
        typer.echo(_csv(data), nl=False)
    else:
        flat: list[tuple[str, str]] = []
        _flatten("", data, flat)
        console.print(f"[bold]{name}[/bold]")
        for k, v in flat:
            console.print(f"  {k} = {v}")


@report_app.command("inventory")
def report_inventory(
    as_of: Day = None, provider: ProviderOpt = None, as_json: AsJson = False, as_csv: AsCsv = False
) -> None:
    """Active credits by age bucket, payer, cause, root cause and government, with totals."""
    from gateway.reporting.kpi import inventory

    _run(
        "inventory",
        provider,
        as_json,
        as_csv,
        lambda s, p: inventory(s, as_of=_day(as_of), provider_id=p),
    )


@report_app.command("deadlines")
def report_deadlines(
    as_of: Day = None,
    provider: ProviderOpt = None,
    near_days: Annotated[
        int, typer.Option(min=0, max=365, help="'Near' means due within N days")
    ] = 14,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Government credits past their deadline or due within --near-days."""
    from gateway.reporting.kpi import deadlines

    _run(
        "deadlines",
        provider,
        as_json,
        as_csv,
        lambda s, p: deadlines(s, as_of=_day(as_of), near_days=near_days, provider_id=p),
    )


@report_app.command("recovery")
def report_recovery(
    as_of: Day = None,
    provider: ProviderOpt = None,
    months: Months = 6,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Dollars identified, refunded, offset, recouped, disputed and won, per month."""
    from gateway.reporting.kpi import recovery

    _run(
        "recovery",
        provider,
        as_json,
        as_csv,
        lambda s, p: recovery(s, as_of=_day(as_of), months=months, provider_id=p),
    )


@report_app.command("days-to-resolve")
def report_days(
    as_of: Day = None,
    provider: ProviderOpt = None,
    months: Months = 6,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Median and 90th percentile days from identification to resolution."""
    from gateway.reporting.kpi import days_to_resolve

    _run(
        "days-to-resolve",
        provider,
        as_json,
        as_csv,
        lambda s, p: days_to_resolve(s, as_of=_day(as_of), months=months, provider_id=p),
    )


@report_app.command("rates")
def report_rates(
    as_of: Day = None,
    provider: ProviderOpt = None,
    months: Months = 6,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Credits per 1,000 claims and credit dollars per $1,000 paid, per payer and month."""
    from gateway.reporting.trend import rates

    _run(
        "rates",
        provider,
        as_json,
        as_csv,
        lambda s, p: rates(s, as_of=_day(as_of), months=months, provider_id=p),
    )


@report_app.command("root-causes")
def report_root_causes(
    as_of: Day = None,
    provider: ProviderOpt = None,
    months: Months = 6,
    min_months: Annotated[
        int, typer.Option(min=1, max=36, help="Repeat offender: credits in N+ months")
    ] = 3,
    as_json: AsJson = False,
    as_csv: AsCsv = False,
) -> None:
    """Root-cause trend per month, growing root causes, and repeat offenders."""
    from gateway.reporting.trend import root_cause_trend

    _run(
        "root-causes",
        provider,
        as_json,
        as_csv,
        lambda s, p: root_cause_trend(
            s, as_of=_day(as_of), months=months, min_months=min_months, provider_id=p
        ),
    )


@cases_app.command("root-cause")
def cases_root_cause(
    credit_id: int,
    code: str,
    reason: Annotated[str, typer.Option("--reason", help="Why (audited)")] = "",
    actor: Actor = None,
) -> None:
    """Record the analyst's root cause of a credit (a code of mappings/root_causes.yaml)."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.reporting.root_cause import set_root_cause
    from gateway.resolve.case_sync import sync_cases

    with _db() as (db, _):
        try:
            with db.write() as s:
                sync_cases(s)
                set_root_cause(s, credit_id, code, actor=current_actor(actor), reason=reason)
        except GatewayError as exc:
            raise _fail(exc) from None
    console.print(f"credit {credit_id}: root cause {code}")


__all__: list[str] = []
