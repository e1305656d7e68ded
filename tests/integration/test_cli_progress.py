"""Progress bars: drawn on a terminal, never on a pipe or with ``--json``; services report.

The CLI runs in a fresh interpreter, once with its stdio on a pseudo-terminal (``pty``; bounded
by a deadline) and once with captured pipes, on the embedded SQLite default in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.ingest.replay import process_now
from gateway.intake.service import accept_path
from gateway.progress import no_progress
from gateway.settings import get_settings
from gateway.store import store_from_settings
from gateway.store.admin import verify
from tests.conftest import FIXTURES, ROOT

TWO_CLAIMS = FIXTURES / "x12" / "two-claims-single-provider.837i"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: what the ingest bars say; none of it may reach a pipe
LABELS = ("claims loaded", "bytes read")


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        PYTHONPATH=str(ROOT),
        GATEWAY_DATA_DIR=str(data),
        GATEWAY_LOG_LEVEL="WARNING",
        COLUMNS="120",
        TERM="xterm-256color",
    )
    return env


def _argv(*args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from gateway.cli import main; sys.argv[0] = 'gateway'; main()",
        *args,
    ]


def _on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Exit code and everything written to the terminal (stdin, stdout, stderr on one pty)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        _argv(*args), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, close_fds=True
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, ANSI.sub("", out.decode("utf-8", "replace"))


def test_ingest_on_a_terminal_shows_claims_loaded(tmp_path: Path) -> None:
    code, screen = _on_a_terminal(["ingest", str(TWO_CLAIMS)], _env(tmp_path / "data"))
    assert code == 0, screen
    assert "claims loaded" in screen
    assert "bytes read" in screen
    assert "processed" in screen  # and the summary table follows


def test_ingest_on_a_pipe_prints_no_progress(tmp_path: Path) -> None:
    proc = subprocess.run(
        _argv("ingest", str(TWO_CLAIMS)),
        capture_output=True,
        text=True,
        env=_env(tmp_path / "data"),
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "processed" in proc.stdout
    for label in LABELS:
        assert label not in proc.stdout + proc.stderr
    assert "\x1b[?25l" not in proc.stderr  # no live display hid the cursor either


def test_validate_json_on_a_terminal_prints_no_progress(tmp_path: Path) -> None:
    code, screen = _on_a_terminal(["validate", "--json", str(TWO_CLAIMS)], _env(tmp_path / "data"))
    assert code == 0, screen
    assert "bytes read" not in screen
    assert "claims read" not in screen
    assert json.loads(screen)["file"].endswith(TWO_CLAIMS.name)  # the JSON alone


def test_validate_on_a_terminal_shows_bytes_read(tmp_path: Path) -> None:
    code, screen = _on_a_terminal(["validate", str(TWO_CLAIMS)], _env(tmp_path / "data"))
    assert code == 0, screen
    assert "bytes read" in screen
    assert "claims read" in screen


def test_services_report_progress_to_their_callback(tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path / "data")
    db = Database.from_settings(settings)
    try:
        upgrade(db)
        store = store_from_settings(settings)
        read: list[tuple[int, int | None]] = []
        loaded: list[int] = []
        res = accept_path(
            db,
            store,
            TWO_CLAIMS,
            source="cli",
            original_name=TWO_CLAIMS.name,
            progress=lambda done, total=None: read.append((done, total)),
        )
        size = TWO_CLAIMS.stat().st_size
        assert read[-1] == (size, size)
        rep = process_now(
            db, store, settings, res.file_id, progress=lambda done, _total=None: loaded.append(done)
        )
        assert rep.state == "processed"
        assert loaded
        assert loaded[-1] == rep.claims == 2
        checked: list[tuple[int, int | None]] = []
        report = verify(db, store, progress=lambda done, total=None: checked.append((done, total)))
        assert report.checked == 1
        assert checked == [(1, 1)]
    finally:
        db.dispose()


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def test_bars_only_for_a_terminal_without_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.cli.progress import progress

    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    with progress() as bars:
        assert not bars.enabled
        assert bars.task("claims loaded") is no_progress
    monkeypatch.setattr(sys, "stderr", _Stream(tty=True))
    with progress(as_json=True) as bars:
        assert not bars.enabled
    monkeypatch.setenv("TERM", "dumb")
    with progress() as bars:
        assert not bars.enabled
    monkeypatch.setenv("TERM", "xterm")
    with progress() as bars:
        assert bars.enabled
