"""The README's main job: the demo half-year end to end on the embedded default.

``scripts/run.sh`` bootstraps ``.venv`` and runs this. It drives the real ``gateway`` commands a
newcomer would type (each is echoed), against ``GATEWAY_DATA_DIR`` (default ``./var``):

1. ``gateway demo generate`` writes a deterministic half-year (seed 1; six months, each with
   the same planted scenarios on its own claims) to ``DATA/demo``;
2. for each checkpoint of ``manifest.json``: copy its files into the local inbox
   (``GATEWAY_INBOX``), ``gateway run --once`` (accept, store, process), then
   ``gateway reconcile --as-of`` the checkpoint date, so credits found first can resolve later;
3. resolution, when its commands exist: open cases, approve them, build refund/offset batches,
   and write the CMS-838 of every quarter the runs touch and the aging report;
4. reports under ``DATA/reports``, a fresh ops API key (older demo keys revoked), and a summary:
   where the console is, what was written, and credits found vs ``answers.json``.

Idempotent: the files are content-addressed (a second run registers nothing new), reconciling
again changes nothing, and only one demo ops key is active at a time. Exit 0 only when the
credits and posting variances equal the answer file exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEED = 1
CLAIMS = 300  # a month; six months
DEMO_KEY_PREFIX = "demo-ops"
#: the fields of the credits contract (issue 5) that answers.json holds
CONTRACT = (
    "account_id",
    "patient_control_number",
    "owed_to",
    "payer_id",
    "amount",
    "cause",
    "government",
    "identified_on",
    "due_by",
    "status",
)
VARIANCE_FIELDS = (
    "account_id",
    "patient_control_number",
    "payer_id",
    "kind",
    "posted",
    "remitted",
    "difference",
)
#: line variances (unposted_line, charge_mismatch) carry the line's charge and payment instead
LINE_VARIANCE_FIELDS = (
    "account_id",
    "patient_control_number",
    "payer_id",
    "kind",
    "charge",
    "paid",
    "status",
)
LINE_KINDS = frozenset({"unposted_line", "charge_mismatch"})
#: problems that do not change the verdict (a report that could not be written), shown at the end
WARNINGS: list[str] = []
GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]


class RunFailedError(Exception):
    """A step of the demo run failed; the message says which and why."""


def gateway(
    *args: str, quiet: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``gateway ARGS`` (echoed), returning its output; raise ``RunFailedError`` on failure."""
    print(f"$ gateway {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [*GATEWAY, *args], capture_output=True, text=True, timeout=600, check=False
    )
    if check and proc.returncode != 0:
        raise RunFailedError(
            f"`gateway {' '.join(args)}` exited {proc.returncode}:\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    if not quiet:
        for line in proc.stdout.splitlines():
            if line.strip():
                print(f"    {line}")
    for line in proc.stderr.splitlines():  # the first start's keys-file notice, always shown
        if line.startswith("gateway: "):
            print(f"    {line}")
    return proc


def commands() -> set[str]:
    """Top-level command names the installed CLI offers (resolution may not be there yet)."""
    from gateway.cli import app, load_commands

    load_commands()
    import typer.main

    group = typer.main.get_command(app)
    return set(getattr(group, "commands", {}))


def _key(row: dict[str, Any], fields: tuple[str, ...]) -> str:
    return json.dumps({k: row.get(k) for k in fields}, sort_keys=True)


def compare(
    got: list[dict[str, Any]], want: list[dict[str, Any]], fields: tuple[str, ...]
) -> tuple[int, list[str], list[str]]:
    """(rows matching, rows missing from ``got``, rows in ``got`` not expected)."""
    g = sorted(_key(r, fields) for r in got)
    w = sorted(_key(r, fields) for r in want)
    missing, extra = list(w), []
    for row in g:
        if row in missing:
            missing.remove(row)
        else:
            extra.append(row)
    return len(w) - len(missing), missing, extra


def feed_inbox(demo: Path, inbox: Path, step: int, files: list[str]) -> int:
    """Copy one checkpoint's files into the inbox, numbered so they are taken in manifest order."""
    inbox.mkdir(parents=True, exist_ok=True)
    for n, rel in enumerate(files):
        target = inbox / f"demo{step}-{n:03d}-{Path(rel).name}"
        tmp = target.with_name(target.name + ".part")  # the inbox skips *.part files
        shutil.copyfile(demo / rel, tmp)
        tmp.rename(target)
    return len(files)


def rotate_demo_key() -> tuple[str, str]:
    """Revoke earlier demo ops keys and create a fresh one: (name, key)."""
    from gateway.api.keys import list_keys
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.settings import get_settings

    db = Database.from_settings(get_settings())
    try:
        ensure_schema(db)
        with db.read() as s:
            demo_keys = [
                (k.name, k.revoked_at is None)
                for k in list_keys(s)
                if k.name.startswith(DEMO_KEY_PREFIX)
            ]
    finally:
        db.dispose()
    for name, active in demo_keys:
        if active:
            gateway("keys", "revoke", name, "--actor", "scripts/run.sh", quiet=True)
    name = f"{DEMO_KEY_PREFIX}-{len(demo_keys) + 1}"
    proc = gateway(
        "keys", "create", "--role", "ops", "--name", name, "--actor", "scripts/run.sh", quiet=True
    )
    return name, proc.stdout.strip().splitlines()[-1]


def last_reconciled() -> dt.date | None:
    """The as-of day of the last finished reconciliation (None before the first)."""
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.reconcile import latest_run
    from gateway.settings import get_settings

    db = Database.from_settings(get_settings())
    try:
        ensure_schema(db)
        with db.read() as s:
            run = latest_run(s)
            return run.as_of if run is not None else None
    finally:
        db.dispose()


def quarter_of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def in_process(*args: str) -> int:
    """Run one ``gateway`` command in this process (no start-up cost); its exit code."""
    import typer.main

    from gateway.cli import app

    command = typer.main.get_command(app)
    try:
        result = command.main(list(args), prog_name="gateway", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - a refused action is reported by the command
        return int(getattr(exc, "exit_code", 2))
    return int(result) if isinstance(result, int) else 0


def resolution(
    available: set[str], as_of: dt.date, reports: Path, first: dt.date
) -> tuple[list[str], str]:
    """Cases, approvals, batches and reports through the resolution commands, when they exist.

    Returns the paths written and a one-line account of the cases.
    """
    if not {"cases", "batches", "report"} <= available:
        return [], "resolution commands not installed: no batches or CMS-838 yet"
    day = as_of.isoformat()
    gateway("cases", "sync", quiet=True)
    listed = gateway(
        "cases", "list", "--json", "--state", "open", "--as-of", day, quiet=True, check=False
    )
    open_cases = json.loads(listed.stdout or "[]")
    print(f"$ gateway cases approve ID --reason ...   (x{len(open_cases)}, in one process)")
    refused = sum(
        1
        for c in open_cases
        if in_process(
            "cases",
            "approve",
            str(c["credit_id"]),
            "--reason",
            "demo half-year: approved by scripts/run.sh",
            "--actor",
            "scripts/run.sh",
        )
        != 0
    )
    batch_dir = reports / "batches"
    made = gateway(
        "batches",
        "create",
        "--as-of",
        day,
        "--actor",
        "scripts/run.sh",
        "--out",
        str(batch_dir),
        "--json",
        quiet=True,
        check=False,
    )
    issued = json.loads(made.stdout or "{}").get("batches", []) if made.stdout.strip() else []
    quarters = sorted(
        {quarter_of(first + dt.timedelta(days=n)) for n in range((as_of - first).days + 1)}
    )
    for args in (
        *(("report", "cms838", "--quarter", q, "--out", str(reports)) for q in quarters),
        ("report", "aging", "--as-of", day, "--out", str(reports / "aging.csv")),
    ):
        proc = gateway(*args, check=False)
        if proc.returncode != 0:  # a report is a by-product: say so loudly, keep the rest
            tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            WARNINGS.append(f"`gateway {' '.join(args[:2])}` exited {proc.returncode}: {tail}")
    written = [
        str(batch_dir) + "/",
        *(str(p) for q in quarters for p in sorted(reports.glob(f"*{q}*"))),
        str(reports / "aging.csv"),
    ]
    return written, (
        f"{len(open_cases) - refused} case(s) approved now, {refused} left open "
        "(no payer to return them to, or no layout: see `gateway cases list`), "
        f"{len(issued)} batch(es) issued now; `gateway batches list` shows all"
    )


def main() -> int:
    started = time.monotonic()
    data = Path(os.environ.get("GATEWAY_DATA_DIR", "./var"))
    inbox = Path(os.environ.get("GATEWAY_INBOX") or data / "inbox")
    demo, reports = data / "demo", data / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    print(f"Remittance Gateway demo: data dir {data.resolve()}, inbox {inbox.resolve()}")
    keys_file = gateway("keys", "file", quiet=True).stdout.strip()
    print(f"keys file: {keys_file} (secrets and the data key; outside the data dir)")

    gateway(
        "demo",
        "generate",
        "--out",
        str(demo),
        "--seed",
        str(SEED),
        "--claims",
        str(CLAIMS),
        quiet=True,
    )
    manifest = json.loads((demo / "manifest.json").read_text(encoding="utf-8"))
    answers = json.loads((demo / "answers.json").read_text(encoding="utf-8"))
    print(
        f"    {manifest['claims']} claims in {len(manifest['files'])} files, "
        f"{len(answers['credits'])} planted credit rows (seed {SEED})"
    )

    reconciled = last_reconciled()
    for step, cp in enumerate(manifest["checkpoints"], start=1):
        n = feed_inbox(demo, inbox, step, cp["files"])
        print(f"step {step}: {n} files into the inbox, then reconcile as of {cp['as_of']}")
        gateway("run", "--once")
        if reconciled is not None and dt.date.fromisoformat(cp["as_of"]) < reconciled:
            # a second run: reconciling as of an earlier day would take back what the later
            # run found (a claim's ledger lag, a hold window) and find it again
            print(f"    already reconciled as of {reconciled}: not going back in time")
            continue
        gateway("reconcile", "--as-of", cp["as_of"], quiet=True)
    as_of = dt.date.fromisoformat(manifest["as_of"])

    failed = [
        line
        for line in gateway("failures", "--json", quiet=True).stdout.splitlines()
        if line.strip()
    ]
    first_run = dt.date.fromisoformat(manifest["checkpoints"][0]["as_of"])
    written, cases_note = resolution(commands(), as_of, reports, first_run)

    credits_out = gateway(*answers["credits_command"], quiet=True).stdout
    credits: list[dict[str, Any]] = json.loads(credits_out)
    (reports / "credits.json").write_text(credits_out, encoding="utf-8")
    variances_out = gateway("variances", "--json", quiet=True).stdout
    variances: list[dict[str, Any]] = json.loads(variances_out)
    (reports / "variances.json").write_text(variances_out, encoding="utf-8")
    written[:0] = [str(reports / "credits.json"), str(reports / "variances.json")]

    key_name, key = rotate_demo_key()

    matched, missing, extra = compare(credits, answers["credits"], CONTRACT)
    v_matched, v_missing, v_extra = 0, [], []
    for fields, line_kind in ((VARIANCE_FIELDS, False), (LINE_VARIANCE_FIELDS, True)):
        n, gone, more = compare(
            [v for v in variances if (v["kind"] in LINE_KINDS) == line_kind],
            [v for v in answers["variances"] if (v["kind"] in LINE_KINDS) == line_kind],
            fields,
        )
        v_matched, v_missing, v_extra = v_matched + n, v_missing + gone, v_extra + more
    ok = not (missing or extra or v_missing or v_extra or failed)
    total = len(answers["credits"])

    print()
    print("=" * 78)
    print("Where to look")
    print(f"  console:  start it with `GATEWAY_DATA_DIR={data} .venv/bin/gateway serve`,")
    print("            then open http://127.0.0.1:8000/console (API: http://127.0.0.1:8000/v1)")
    print(f"  ops key:  {key_name} (revoke with `gateway keys revoke {key_name}`); log in with:")
    print(f"            {key}")
    print("  reports:")
    for path in written:
        print(f"            {path}")
    print(f"  cases:    {cases_note}")
    print(f"  the data: {demo} (manifest.json, answers.json); quarantined files: {len(failed)}")
    print(f"  CLI:      GATEWAY_DATA_DIR={data} .venv/bin/gateway credits   (see docs/cli.md)")
    print(f"  keys:     {keys_file} (back it up separately from {data}: the raw files and")
    print("            member ids there are encrypted with it; see docs/runbook.md)")
    print()
    print(
        f"{matched} of {total} credits match answers.json"
        + ("" if not (missing or extra) else f" ({len(missing)} missing, {len(extra)} unexpected)")
    )
    print(
        f"{v_matched} of {len(answers['variances'])} variances match answers.json"
        + (
            ""
            if not (v_missing or v_extra)
            else f" ({len(v_missing)} missing, {len(v_extra)} unexpected)"
        )
    )
    for row in missing:
        print(f"  missing:    {row}")
    for row in extra:
        print(f"  unexpected: {row}")
    for row in v_missing:
        print(f"  missing variance:    {row}")
    for row in v_extra:
        print(f"  unexpected variance: {row}")
    for warning in WARNINGS:
        print(f"WARNING: {warning}")
    print(f"{'OK' if ok else 'MISMATCH'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RunFailedError as exc:
        print(f"run.sh failed: {exc}", file=sys.stderr)
        sys.exit(1)
