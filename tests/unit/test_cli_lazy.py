"""The CLI imports only what a command needs; help and read-only commands stay off heavy stacks.

Every check runs ``gateway`` in a fresh interpreter (this process has every module loaded) and
reads that interpreter's ``sys.modules`` after the command finished: the import set, not the
time, is what a test can pin down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gateway.cli
from gateway.cli import COMMANDS, app, modules_for
from tests.conftest import FIXTURES, ROOT

#: stacks that only the commands using them may load: the API app, PDF, S3, IG validation
HEAVY = ("fastapi", "fpdf", "boto3", "pyx12")
#: what a command that only parses must not load either
DATABASE_AND_SFTP = ("sqlalchemy", "alembic", "paramiko", "pydantic_settings")

#: runs each argv of the JSON list in turn, reporting exit code, output and sys.modules after each
RUN = """
import contextlib, io, json, sys
from gateway.cli import main
for argv in json.loads(sys.argv[1]):
    sys.argv = ["gateway", *argv]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        else:
            code = 0
    print(json.dumps({"exit": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(runs: list[list[str]], cwd: Path, prelude: str = "", **env: str) -> list[dict[str, Any]]:
    """One report per argv of ``runs``, run in turn by ``gateway``'s ``main`` in one fresh
    interpreter (so each report's modules include what the earlier runs loaded)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environ.update(env, PYTHONPATH=str(ROOT), COLUMNS="120")
    proc = subprocess.run(
        [sys.executable, "-c", prelude + RUN, json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=environ,
    )
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == len(runs), proc.stderr
    return reports


def _loaded(report: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if n in report["modules"]]


def _command_paths() -> list[list[str]]:
    """Every command path: each top-level command and each subcommand of a group."""
    import typer.main

    root: Any = typer.main.get_command(app)
    return [
        [name, *([sub] if sub else [])]
        for name, cmd in root.commands.items()
        for sub in ["", *getattr(cmd, "commands", {})]
    ]


def test_help_does_not_import_the_api_pdf_s3_or_pyx12(tmp_path: Path) -> None:
    runs = [["--help"], ["credits", "--help"], ["keys", "--help"], ["report", "aging", "--help"]]
    for argv, report in zip(runs, _run(runs, tmp_path), strict=True):
        assert report["exit"] == 0, argv
        assert "Usage: gateway" in report["out"], argv  # the help really was printed
        assert _loaded(report, HEAVY) == [], argv


def test_no_command_help_imports_heavy_or_database_stacks(tmp_path: Path) -> None:
    # One fresh interpreter per top-level command (its subcommands' help runs after it, in the
    # same one): help is built from the command modules, which import services only when run.
    paths = _command_paths()
    assert len(paths) > len(COMMANDS)  # the groups' subcommands are in
    for top in COMMANDS:
        runs = [[*p, "--help"] for p in paths if p[0] == top]
        for argv, report in zip(runs, _run(runs, tmp_path), strict=True):
            assert report["exit"] == 0, argv
            assert "Usage: gateway" in report["out"], argv
            assert _loaded(report, HEAVY + DATABASE_AND_SFTP + ("structlog",)) == [], argv


def test_top_level_help_lists_every_command_without_loading_a_command_module(
    tmp_path: Path,
) -> None:
    [report] = _run([["--help"]], tmp_path)
    assert [m for m in report["modules"] if m.startswith("gateway.cli.")] == [
        "gateway.cli.app",
        "gateway.cli.index",
    ]
    listed = {
        line.split()[1]
        for line in report["out"].splitlines()
        if line.startswith("│ ") and len(line.split()) > 2
    }
    assert set(COMMANDS) <= listed


def test_read_only_commands_do_not_import_the_api_pdf_s3_or_pyx12(tmp_path: Path) -> None:
    runs = [["credits"], ["failures"], ["cases", "list"], ["report", "aging"]]
    reports = _run(runs, tmp_path, GATEWAY_DATA_DIR=str(tmp_path / "data"))
    for argv, report in zip(runs, reports, strict=True):
        assert report["exit"] == 0, argv
        assert _loaded(report, HEAVY) == [], argv
    assert "sqlalchemy" in reports[0]["modules"]  # it did open the database
    # and only the modules of these commands were loaded
    loaded = {m for m in reports[-1]["modules"] if m.startswith("gateway.cli.")}
    assert loaded == {
        "gateway.cli.app",
        "gateway.cli.index",
        "gateway.cli.progress",
        "gateway.cli.reconcile",
        "gateway.cli.reports_kpi",  # the `report` group spans it and gateway.cli.reports
        "gateway.cli.casework",  # the `cases` group spans it too
        "gateway.cli.quarantine",  # failures
        "gateway.cli.cases",
        "gateway.cli.reports",
        "gateway.cli.resolution",  # the groups and options cases, batches and reports share
    }


#: what each read-only command must not load beyond the common list: ``credits`` uses one pure
#: helper of the parsers package, not the X12 reader; ``failures`` lists the
#: quarantine without the parse-and-load pipeline replay runs; ``report aging`` needs neither the
#: CMS-838 and document renderers nor the mapping YAML
READ_ONLY_UNWANTED = {
    # parsers.codes and schemas.states alone: not the X12 reader nor the parsed-document models
    "credits": ("parsers.x12.reader", "parsers.result", "schemas.claim", "schemas.remittance"),
    # nor the raw store (it reads no raw file) and with it the store's encryption
    "failures": (
        "gateway.ingest.service",
        "gateway.ingest.store_stream",
        "gateway.ingest.load_acks",
        "gateway.ingest.replay",
        "gateway.webhooks.events",
        "gateway.store",
        "gateway.store.file",
        "gateway.store.encryption",
    ),
    # the payer profiles load only when a listed case could be approved (none here)
    "cases list": ("mappings.payers", "mappings.loader", "yaml"),
    "report aging": ("gateway.resolve.cms838", "gateway.resolve.render", "yaml"),
}


@pytest.mark.parametrize("argv", [c.split() for c in READ_ONLY_UNWANTED])
def test_a_read_only_command_on_a_current_schema_loads_no_migrations_or_app(
    argv: list[str], tmp_path: Path
) -> None:
    # each in its own interpreter, after the schema exists: the schema check reads the stamped
    # revision, it does not import Alembic; nor does a read load the API, SFTP or reconcile run,
    # nor structlog (nothing is logged, so the logger is never resolved)
    data = tmp_path / "data"
    [upgrade] = _run([["db", "upgrade"]], tmp_path, GATEWAY_DATA_DIR=str(data))
    assert upgrade["exit"] == 0
    [report] = _run([argv], tmp_path, GATEWAY_DATA_DIR=str(data))
    assert report["exit"] == 0, argv
    unwanted: tuple[str, ...] = (
        *HEAVY,
        "alembic",
        "paramiko",
        "gateway.api.app",
        "gateway.reconcile.service",
        "structlog",
        # the key ring is parsed at start-up, but no value is sealed or opened: no AES
        "cryptography",
        *READ_ONLY_UNWANTED[" ".join(argv)],
    )
    assert _loaded(report, unwanted) == [], argv


def test_a_read_only_command_on_an_old_postgres_schema_says_to_upgrade(tmp_path: Path) -> None:
    # the cheap version check still refuses a schema that is not current (PostgreSQL: no
    # auto-upgrade); the SQLite file here is stamped with an older revision and the check is
    # the same code path for both backends, except that SQLite upgrades itself
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    prelude = (
        "import gateway.db.base as b\n"
        "b.Database.is_sqlite = property(lambda self: False)  # behave as PostgreSQL\n"
    )
    [report] = _run([["credits"]], tmp_path, prelude, GATEWAY_DATABASE_URL=f"sqlite:///{db}")
    assert report["exit"] == 2
    assert "alembic" not in report["modules"]


def test_parse_does_not_import_database_or_sftp_stacks(tmp_path: Path) -> None:
    [report] = _run([["parse", str(FIXTURES / "x12" / "medicare-part-a.835")]], tmp_path)
    assert report["exit"] == 0
    assert "claims" in report["out"]
    assert _loaded(report, DATABASE_AND_SFTP + HEAVY) == []


@pytest.mark.parametrize("command", ["parse", "validate"])
def test_a_command_loads_only_its_own_modules(command: str, tmp_path: Path) -> None:
    [report] = _run([[command, "--help"]], tmp_path)
    assert report["exit"] == 0
    assert f"gateway {command}" in report["out"]
    loaded = {
        m.removeprefix("gateway.cli.")
        for m in _loaded(report, tuple(f"gateway.cli.{m}" for m in gateway.cli.COMMAND_MODULES))
    }
    assert loaded == set(modules_for([command, "--help"])) == set(COMMANDS[command][0])


def test_a_command_missing_from_the_index_still_resolves(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stale index (a command added on another branch) falls back to loading every module.
    from gateway.cli.app import LazyGroup

    monkeypatch.setattr(
        sys.modules["gateway.cli.app"],
        "COMMANDS",
        {k: v for k, v in COMMANDS.items() if k != "credits"},
    )
    root = LazyGroup(name="gateway")  # as built before any command module registered
    assert "credits" not in root.list_commands(None)
    cmd = root.get_command(None, "credits")
    assert cmd is not None
    assert "--json" in {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    assert "credits" in root.list_commands(None)


def test_a_command_is_built_alone_not_with_every_command_of_its_modules() -> None:
    # typer reads each command's signature as it builds it; the root builds only the one named
    from gateway.cli.app import LazyGroup

    root = LazyGroup(name="gateway")
    cmd = root.get_command(None, "credits")
    assert cmd is not None
    assert cmd.name == "credits"
    assert set(root.commands) == {"credits"}  # not reconcile, variances, ... of the same module
    group: Any = root.get_command(None, "report")
    assert {"aging", "inventory"} <= set(group.commands)  # a group spans two modules: both in
    assert set(root.commands) == {"credits", "report"}


def test_the_heap_is_frozen_at_exit_after_the_garbage_was_collected(tmp_path: Path) -> None:
    # an exit handler registered before main() runs after main()'s own (last in, first out)
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, gc.isenabled()))\n"
        "from gateway.cli import main\n"
        "sys.argv = ['gateway', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "frozen True True"  # frozen; collection stays on


def test_help_lists_commands_it_has_not_loaded_without_loading_them() -> None:
    from gateway.cli.app import LazyGroup

    root = LazyGroup(name="gateway")
    root._listing = True  # what format_help sets while the command list is rendered
    placeholder = root.get_command(None, "credits")
    assert placeholder is not None
    assert placeholder.help == COMMANDS["credits"][1]
    assert "credits" not in root.commands


def test_app_from_the_package_is_the_typer_app_with_every_command() -> None:
    names = {i.name or (i.callback.__name__ if i.callback else "") for i in app.registered_commands}
    assert {"parse", "validate", "ingest"} <= names
    assert gateway.cli.app is app
