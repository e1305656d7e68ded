"""``gateway validate``: check an X12 file, explain every finding, write its TA1/999.

Exit codes: 0 valid (no error findings; warnings such as 835 balancing are allowed), 1 errors
found in a readable file, 2 unreadable (a fatal ``X12Error`` or an I/O error; a TA1 is still
written when an ISA could be read).

``--ig`` adds implementation-guide validation through pyx12. It is off by default because it
costs two orders of magnitude more than our own parse (pure-Python walk of XML guide maps; see
``gateway.validation``) and reports guide-usage issues (missing situational segments, code
lists) that are worth reviewing but do not stop a remittance from being read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.markup import escape

import parsers
from gateway.cli.app import EXIT_FINDINGS, EXIT_OK, EXIT_UNREADABLE, app, console, err_console
from gateway.cli.progress import progress
from gateway.progress import Progress
from parsers.ack import Acknowledgment, Acknowledgments, acknowledge

#: warnings listed in human output before "... and N more"
WARNING_LIMIT = 50
#: ``validate`` reads its file in chunks this big (progress on a terminal)
READ_CHUNK = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def ack_file_name(stem: str, ack: Acknowledgment) -> str:
    """``<stem>.<ISA13>.ta1.x12`` or ``<stem>.<ISA13>.<GS06>.999.x12`` (filesystem-safe)."""
    icn = _UNSAFE.sub("_", ack.interchange_control_number.strip()) or "noisa13"
    if ack.kind == "TA1":
        return f"{stem}.{icn}.ta1.x12"
    gcn = _UNSAFE.sub("_", ack.group_control_number.strip()) or "nogs06"
    return f"{stem}.{icn}.{gcn}.999.x12"


def write_acks(acks: Acknowledgments, ack_dir: Path, stem: str) -> list[Path]:
    """Write each acknowledgment as ``*.part`` then rename; repeated names get ``.2``, ``.3``."""
    ack_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used: set[str] = set()
    for ack in acks.all:
        name = ack_file_name(stem, ack)
        base, n = name, 1
        while name in used:
            n += 1
            name = f"{base.removesuffix('.x12')}.{n}.x12"
        used.add(name)
        path = ack_dir / name
        part = path.with_name(path.name + ".part")
        part.write_bytes(ack.content)
        os.replace(part, path)
        written.append(path)
    return written


def _print_finding(f: parsers.Finding) -> None:
    style = "red" if f.severity == parsers.ERROR else "yellow"
    ack = f" [{f.ack_level} {f.ack_code}]" if f.ack_level and f.ack_code else ""
    console.print(f"[{style}]{f.severity:7}[/{style}] {escape(f.code)}{escape(ack)}")
    console.print(f"        where: {escape(f.location.describe())}")
    console.print(f"        why:   {escape(f.message)}")


def _print_findings(title: str, findings: list[parsers.Finding]) -> None:
    errors = [f for f in findings if f.severity == parsers.ERROR]
    warnings = [f for f in findings if f.severity != parsers.ERROR]
    console.print(
        f"[bold]{escape(title)}[/bold]: {len(errors)} error(s), {len(warnings)} warning(s)"
    )
    for f in errors:
        _print_finding(f)
    for f in warnings[:WARNING_LIMIT]:
        _print_finding(f)
    if len(warnings) > WARNING_LIMIT:
        console.print(
            f"        ... and {len(warnings) - WARNING_LIMIT} more warnings (--json lists all)"
        )


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="An X12 file (835, 837, ...)")],
    ack_dir: Annotated[
        Path | None,
        typer.Option("--ack-dir", help="Write the TA1/999 acknowledgments into this folder"),
    ] = None,
    ig: Annotated[
        bool,
        typer.Option(
            "--ig/--no-ig",
            help="Also validate against the implementation guide with pyx12 (slow: off by default)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report")] = False,
    control_number: Annotated[
        int,
        typer.Option(
            "--control-number",
            min=1,
            max=999_999_999,
            help="ISA13/GS06 of the first acknowledgment written; the rest follow on",
        ),
    ] = 1,
) -> None:
    """Validate an X12 file: findings with their location, and TA1/999 acknowledgments."""
    fatal: parsers.X12Error | None = None
    findings: list[parsers.Finding] = []
    with progress(as_json=as_json) as bars:
        # streamed once (the acks come from the same parse; only a fatal error's TA1 reads the
        # file's header again): memory stays flat
        try:
            with _open(file, bars.task("bytes read", unit="bytes")) as fh:
                outcome: parsers.ParseResult | parsers.X12Error
                try:
                    outcome = parsers.check(fh, on_claims=bars.task("claims read"))
                    findings = outcome.findings
                except parsers.X12Error as exc:
                    outcome = fatal = exc
            if isinstance(outcome, parsers.X12Error):
                with file.open("rb") as fh:
                    acks = acknowledge(fh, outcome, control_number=control_number, now=_now())
            else:
                acks = acknowledge(None, outcome, control_number=control_number, now=_now())
        except OSError as exc:
            err_console.print(
                f"[red]cannot read {escape(str(file))}: {escape(str(exc.strerror))}[/red]"
            )
            raise typer.Exit(EXIT_UNREADABLE) from None
    ig_findings: list[parsers.Finding] = []
    if ig:
        from gateway.validation import validate_ig  # pyx12 is imported only when asked for

        ig_findings = validate_ig(file.read_bytes())  # pyx12 holds the whole file anyway
    written = write_acks(acks, ack_dir, file.stem) if ack_dir is not None else []

    errors = sum(1 for f in findings + ig_findings if f.severity == parsers.ERROR)
    code = EXIT_UNREADABLE if fatal else EXIT_FINDINGS if errors else EXIT_OK
    if as_json:
        _print_json(file, fatal, findings, ig_findings, acks, written, code)
    else:
        _print_human(file, fatal, findings, ig_findings, acks, written, ig)
    raise typer.Exit(code)


class _Counted(io.RawIOBase):
    """A file that reports the bytes read so far (progress for big files)."""

    def __init__(self, fh: BinaryIO, size: int, progress: Progress) -> None:
        self._fh, self._size, self._progress, self._done = fh, size, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)  # type: ignore[attr-defined]
        self._done += n or 0
        self._progress(self._done, self._size)
        return int(n or 0)

    def close(self) -> None:
        self._fh.close()
        super().close()


def _open(file: Path, progress: Progress) -> BinaryIO:
    """``file`` opened for the parser, in chunks of ``READ_CHUNK``, reporting progress."""
    size = file.stat().st_size
    return io.BufferedReader(_Counted(file.open("rb"), size, progress), READ_CHUNK)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _print_human(
    file: Path,
    fatal: parsers.X12Error | None,
    findings: list[parsers.Finding],
    ig_findings: list[parsers.Finding],
    acks: Acknowledgments,
    written: list[Path],
    ig: bool,
) -> None:
    if fatal is not None:
        console.print(f"[red]UNREADABLE[/red] {escape(str(file))}: {escape(fatal.code)}")
        console.print(f"        where: {escape(fatal.location.describe())}")
        console.print(f"        why:   {escape(fatal.reason)}")
    else:
        _print_findings(f"{file} (parser)", findings)
    if ig:
        _print_findings(f"{file} (implementation guide, pyx12)", ig_findings)
    for ack in acks.all:
        extra = f" note {ack.note}" if ack.kind == "TA1" else f" group {ack.group_control_number}"
        console.print(
            f"{ack.kind} for interchange {escape(ack.interchange_control_number)}"
            f"{escape(extra)}: {ack.status}"
        )
    for path in written:
        console.print(f"wrote {escape(str(path))}")


def _print_json(
    file: Path,
    fatal: parsers.X12Error | None,
    findings: list[parsers.Finding],
    ig_findings: list[parsers.Finding],
    acks: Acknowledgments,
    written: list[Path],
    code: int,
) -> None:
    doc = {
        "file": str(file),
        "exit_code": code,
        "valid": code == EXIT_OK,
        "fatal": None
        if fatal is None
        else {"code": fatal.code, "reason": fatal.reason, "location": fatal.location.as_dict()},
        "findings": [f.as_dict() for f in findings],
        "ig_findings": [f.as_dict() for f in ig_findings],
        "acknowledgments": [
            {
                "kind": a.kind,
                "interchange_control_number": a.interchange_control_number,
                "group_control_number": a.group_control_number,
                "control_number": a.control_number,
                "status": a.status,
                "note": a.note,
            }
            for a in acks.all
        ],
        "written": [str(p) for p in written],
    }
    # plain echo: rich would soft-wrap long strings and break the JSON for a pipe
    typer.echo(json.dumps(doc, indent=2))
