"""``gateway parse`` and ``gateway validate``: read X12 files and report what is in them."""

from __future__ import annotations

import os
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.table import Table

import parsers
from gateway.cli.app import EXIT_OK, EXIT_UNREADABLE, app, console, err_console
from schemas import Claim, ClaimPayment, ClaimSubmission, ProviderAdjustment, Remittance
from schemas.serialize import money


def _open(path: Path) -> BinaryIO:
    """The file opened for the parser, which reads it in bounded windows (flat memory)."""
    try:
        return path.open("rb")
    except OSError as exc:
        err_console.print(f"[red]cannot read {path}: {exc.strerror}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None


def _fatal(path: Path, exc: parsers.X12Error) -> typer.Exit:
    err_console.print(f"[red]{path}: {exc.code}: {exc.reason}[/red] at {exc.location.describe()}")
    return typer.Exit(EXIT_UNREADABLE)


def summarize(data: bytes | BinaryIO) -> dict[str, object]:
    """Counts and totals of a file, computed from the stream (flat memory)."""
    reader = parsers.stream(data)
    kinds: Counter[str] = Counter()
    claims = lines = 0
    paid = charge = plb = payment = Decimal(0)
    interchanges = groups = 0
    for ev in reader:
        if isinstance(ev, ClaimPayment):
            claims += 1
            lines += len(ev.services)
            paid += ev.paid
            charge += ev.charge
        elif isinstance(ev, Claim):
            claims += 1
            lines += len(ev.lines)
            charge += ev.total_charge
        elif isinstance(ev, ProviderAdjustment):
            plb += ev.amount
        elif isinstance(ev, Remittance):
            kinds["835"] += 1
            payment += ev.payment_amount
        elif isinstance(ev, ClaimSubmission):
            kinds[ev.kind] += 1
        elif isinstance(ev, parsers.InterchangeEnd):
            interchanges += 1
        elif isinstance(ev, parsers.GroupEnd):
            groups += 1
    findings = reader.findings.items
    return {
        "interchanges": interchanges,
        "groups": groups,
        "transactions": dict(kinds),
        "segments": reader.segment_count,
        "claims": claims,
        "service_lines": lines,
        "total_charge": money(charge),
        "total_paid": money(paid),
        "total_payment": money(payment),
        "provider_adjustments": money(plb),
        "errors": sum(1 for f in findings if f.severity == parsers.ERROR),
        "warnings": sum(1 for f in findings if f.severity == parsers.WARNING),
        "findings": [f.as_dict() for f in findings],
    }


def print_findings(findings: list[parsers.Finding], limit: int = 50) -> None:
    if not findings:
        return
    table = Table("severity", "code", "where", "message", title="Findings")
    for f in findings[:limit]:
        style = "red" if f.severity == parsers.ERROR else "yellow"
        table.add_row(f"[{style}]{f.severity}[/{style}]", f.code, f.location.describe(), f.message)
    console.print(table)
    if len(findings) > limit:
        console.print(f"... and {len(findings) - limit} more")


def _write_json(path: Path, data: bytes | BinaryIO, ndjson: bool, pretty: bool) -> None:
    """Stream the --json document (or --ndjson lines) to stdout as the parse produces it."""
    from gateway.parse_json import Output, ndjson_lines, write_document

    out = Output(sys.stdout.buffer.write)
    try:
        try:
            reader = parsers.stream(data)
            if ndjson:
                for line in ndjson_lines(reader):
                    out(line)
                late = 0
            else:
                late = write_document(reader, out, pretty).late_changes
        finally:
            out.flush()  # what was produced before an error, too
            sys.stdout.buffer.flush()
    except parsers.X12Error as exc:
        raise _fatal(path, exc) from None
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_OK) from None
    if late:
        err_console.print(
            f"[yellow]{late} transaction(s) repeat header segments after their "
            "claims; the JSON shows each header as read before its first "
            "claim[/yellow]"
        )


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="An X12 835 or 837 file")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the full typed model as JSON, streamed")
    ] = False,
    pretty: Annotated[
        bool, typer.Option("--pretty", help="Indent the JSON (the default on a terminal)")
    ] = False,
    ndjson: Annotated[
        bool,
        typer.Option(
            "--ndjson", help="One JSON line per claim, with its interchange, group and transaction"
        ),
    ] = False,
) -> None:
    """Parse an X12 file and print a summary (or the whole typed model with --json).

    --json writes the document as the parse produces it, so memory stays flat for any file size;
    it is compact unless --pretty is given or stdout is a terminal. --ndjson writes one line per
    claim. On an unreadable file the output stops where the error was found (exit 2).
    """
    data = _open(file)
    with data:
        if ndjson and (as_json or pretty):
            err_console.print(
                "[red]--ndjson writes one line per claim: not with --json/--pretty[/red]"
            )
            raise typer.Exit(EXIT_UNREADABLE)
        if as_json or pretty or ndjson:
            _write_json(file, data, ndjson, pretty or sys.stdout.isatty())
            raise typer.Exit(EXIT_OK)
        try:
            summary = summarize(data)
        except parsers.X12Error as exc:
            raise _fatal(file, exc) from None
    table = Table(show_header=False, title=str(file))
    for key in (
        "interchanges",
        "groups",
        "transactions",
        "segments",
        "claims",
        "service_lines",
        "total_charge",
        "total_paid",
        "total_payment",
        "provider_adjustments",
        "errors",
        "warnings",
    ):
        table.add_row(key, str(summary[key]))
    console.print(table)
    raise typer.Exit(EXIT_OK)


SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


@app.command()
def samples() -> None:
    """Parse and validate the bundled sample files and print a summary of each."""
    table = Table(
        "file",
        "transactions",
        "claims",
        "paid",
        "PLB",
        "errors",
        "warnings",
        title="Bundled samples",
    )
    for path in sorted(SAMPLES_DIR.iterdir()):
        if path.suffix == ".md":
            continue
        try:
            s = summarize(path.read_bytes())
        except parsers.X12Error as exc:
            table.add_row(path.name, "-", "-", "-", "-", f"[red]{exc.code}[/red]", "-")
            continue
        table.add_row(
            path.name,
            str(s["transactions"]),
            str(s["claims"]),
            str(s["total_paid"]),
            str(s["provider_adjustments"]),
            str(s["errors"]),
            str(s["warnings"]),
        )
    console.print(table)
