"""``gateway report``: the CMS-838, root-cause and aging, and escheat reports (the KPI reports
are in ``reports_kpi``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import EXIT_FINDINGS, console, err_console
from gateway.cli.resolution import (
    AsJson,
    Day,
    Payers,
    _day,
    _db,
    _echo,
    _fail,
    _payers,
    report_app,
)


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
    from gateway.resolve.cms838.report import cms838
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
    from gateway.resolve.reports import escheat_report
    from mappings.escheat import load_escheat
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
    from gateway.resolve.documents import Sources
    from gateway.resolve.notices import due_diligence
    from gateway.settings import x12_limits
    from gateway.store import store_from_settings
    from mappings.escheat import load_escheat

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
