"""``gateway batches``: issue the approved cases' batches, show, export, cancel and deliver them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gateway.cli.app import EXIT_FINDINGS, console, err_console
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
    batches_app,
)


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
    from gateway.resolve.batches.issue import create_batches
    from gateway.resolve.batches.records import batch_content
    from gateway.resolve.documents import Sources
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
    from gateway.resolve.batches.views import list_batches

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
    from gateway.resolve.batches.views import get_batch
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
    from gateway.resolve.batches.records import batch_content

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
    from gateway.resolve.batches.delivery import cancel_batch

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
    from gateway.outbound.enqueue import outbound_store
    from gateway.partners import configured_partners
    from gateway.resolve.batches.delivery import deliver_batch

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
