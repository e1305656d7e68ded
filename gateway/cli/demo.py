"""``gateway demo generate``: write the realistic demo half-year and its answer file.

Exit codes: 0 written, 2 usage error (bad size, unwritable folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.app import EXIT_UNREADABLE, app, console, err_console
from gateway.cli.progress import progress

demo_app = typer.Typer(help="Synthetic demo data with known answers.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


@demo_app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the month into")],
    claims: Annotated[int, typer.Option(help="Claims in each month (planted ones included)")] = 600,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes")] = 1,
    months: Annotated[
        int, typer.Option(help="Months, from March 2025; each plants the same scenarios")
    ] = 6,
) -> None:
    """Months of 837s, 835s and a ledger export for one provider, with planted credits."""
    from gateway.demo import DemoError, generate

    try:
        with progress() as bars:
            manifest = generate(
                out,
                claims=claims,
                seed=seed,
                months=months,
                progress=bars.task("files written"),
            )
    except DemoError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    except OSError as exc:
        err_console.print(f"[red]cannot write {out}: {exc.strerror}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    kinds: dict[str, int] = {}
    for f in manifest.files:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    console.print(
        f"wrote {manifest.claims} claims ({manifest.months} month(s)) "
        f"in {len(manifest.files)} files to {out} "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
    )
    console.print(
        f"planted {len(manifest.credits)} credit rows and "
        f"{len(manifest.variances)} posting variance(s): {manifest.answers_path}"
    )
    for i, cp in enumerate(manifest.checkpoints, start=1):
        console.print(
            f"step {i}: gateway ingest <its {len(cp.files)} files from manifest.json>"
            f"; gateway reconcile --as-of {cp.as_of.isoformat()}"
        )
    console.print("then: gateway credits --json --status all  (compare with answers.json)")
