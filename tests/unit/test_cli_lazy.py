"""``gateway parse`` loads only its own command module; everything else still sees every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gateway.cli
from gateway.cli import LIGHT_COMMANDS, app

HEAVY = ("sqlalchemy", "alembic", "paramiko", "pydantic_settings")


@pytest.mark.parametrize("command", sorted(LIGHT_COMMANDS))
def test_loading_only_the_light_module_registers_its_command(command: str) -> None:
    # A fresh interpreter: this process has every module loaded already.
    code = (
        "import sys, typer.main\n"
        "from gateway.cli import _app_module, load_commands\n"
        "load_commands(sys.argv[1:])\n"
        "print(sorted(typer.main.get_command(_app_module.app).commands))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, command, "--help"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert f"'{command}'" in out.strip().splitlines()[-1]


def test_app_from_the_package_is_the_typer_app_with_every_command() -> None:
    names = {i.name or (i.callback.__name__ if i.callback else "") for i in app.registered_commands}
    assert {"parse", "validate", "ingest"} <= names
    assert gateway.cli.app is app


def test_parse_does_not_import_database_or_sftp_stacks(tmp_path: Path) -> None:
    sample = Path(__file__).parents[1] / "fixtures" / "x12" / "medicare-part-a.835"
    code = (
        "import sys; sys.argv = ['gateway', 'parse', sys.argv[1]]\n"
        "from gateway.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(sample)], capture_output=True,
                         text=True, timeout=60, check=True, cwd=tmp_path).stdout
    assert out.strip().splitlines()[-1] == "[]"
