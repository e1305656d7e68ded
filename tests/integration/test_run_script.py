"""The README's main command, ``scripts/run.sh``, run for real against a temp data dir.

It must end green with every credit of the demo month matching ``answers.json`` (checked here
again from the database, not only from the script's own summary), and a second run must change
nothing: no new files registered, no new credits, still green, one active demo key.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from gateway.api.keys import list_keys
from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.settings import get_settings
from tests.integration.helpers import GATEWAY_CMD, ROOT

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


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "run.sh")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _db_state(data: Path) -> tuple[int, int]:
    """(registered files, active demo keys) straight from the database."""
    db = Database.from_settings(get_settings(data_dir=data))
    try:
        with db.read() as s:
            files = s.execute(select(func.count()).select_from(InboundFile)).scalar_one()
            keys = sum(
                1 for k in list_keys(s) if k.name.startswith("demo-ops") and k.revoked_at is None
            )
    finally:
        db.dispose()
    return int(files), keys


def _credits(env: dict[str, str]) -> list[str]:
    proc = subprocess.run(
        [*GATEWAY_CMD, "credits", "--json", "--status", "all"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return sorted(
        json.dumps({k: r[k] for k in CONTRACT}, sort_keys=True) for r in json.loads(proc.stdout)
    )


def test_run_script_ends_green_and_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATA_DIR": str(data), "GATEWAY_LOG_LEVEL": "WARNING"}

    first = _run(env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    answers = json.loads((data / "demo" / "answers.json").read_text(encoding="utf-8"))
    total = len(answers["credits"])
    assert total > 0
    assert f"{total} of {total} credits match answers.json" in first.stdout
    assert "http://127.0.0.1:8000/console" in first.stdout
    assert re.search(r"^\s+gw_\S+$", first.stdout, re.MULTILINE), "no ops key printed"
    assert (data / "reports" / "credits.json").is_file()

    want = sorted(json.dumps(r, sort_keys=True) for r in answers["credits"])
    assert _credits(env) == want
    files_after_first, keys = _db_state(data)
    assert files_after_first == len(
        json.loads((data / "demo" / "manifest.json").read_text(encoding="utf-8"))["files"]
    )
    assert keys == 1

    second = _run(env)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-3000:]
    assert f"{total} of {total} credits match answers.json" in second.stdout
    assert _credits(env) == want
    assert _db_state(data) == (files_after_first, 1)
