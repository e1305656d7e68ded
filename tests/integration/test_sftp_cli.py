"""``gateway partners check``, ``gateway deliver`` and ``gateway poll`` against a real sshd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    keygen,
    sshd_fixture,
    sshd_server_fixture,
)

pytestmark = pytest.mark.sftp


def _write_profile(folder: Path, server: SshdServer, base: Path, **changes: object) -> Path:
    folder.mkdir(exist_ok=True)
    profile = server.profile(inbox_dir=str(base / "inbox"), archive_dir=str(base / "archive"),
                             outbound_dir=str(base / "out"), **changes)
    data = profile.model_dump(mode="json", exclude_none=True)
    (folder / f"{profile.id}.yaml").write_text(yaml.safe_dump(data))
    return folder


def test_check_reports_ok_and_missing_folders(sshd: SshdServer, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "out")  # no archive folder
    folder = _write_profile(tmp_path / "partners", sshd, base)
    result = CliRunner().invoke(app, ["partners", "check", "--partners-dir", str(folder)])
    assert result.exit_code == 1
    assert "host key matches the pinned one" in result.output
    assert f"archive_dir {base / 'archive'}: does not exist" in result.output

    (base / "archive").mkdir()
    result = CliRunner().invoke(app, ["partners", "check", "--partners-dir", str(folder)])
    assert result.exit_code == 0, result.output


def test_check_explains_a_changed_host_key(sshd: SshdServer, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive", "out")
    impostor = keygen(tmp_path / "impostor")
    folder = _write_profile(tmp_path / "partners", sshd, base,
                            host_key=f"[127.0.0.1]:{sshd.port} {impostor}")
    result = CliRunner().invoke(app, ["partners", "check", "test-clearinghouse",
                                      "--partners-dir", str(folder)])
    assert result.exit_code == 1
    assert "not the one pinned in the profile" in result.output
    assert "Traceback" not in result.output


def test_deliver_command_writes_a_receipt(sshd: SshdServer, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    base = sshd.make_tree("inbox", "archive", "out")
    folder = _write_profile(tmp_path / "partners", sshd, base)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    refund = tmp_path / "refund.txt"
    refund.write_bytes(b"refund 0001")
    args = ["deliver", "--partner", "test-clearinghouse", "--partners-dir", str(folder),
            str(refund)]
    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "delivered to test-clearinghouse" in first.output
    assert "already delivered" in second.output
    assert os.listdir(base / "out") == ["refund.txt"]
    assert len((tmp_path / "var" / "deliveries.jsonl").read_text().splitlines()) == 1


def test_poll_once_feeds_the_ingest_pipeline(sshd: SshdServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gateway.intake.service")
    base = sshd.make_tree("inbox", "archive", "out")
    sample = Path(__file__).resolve().parents[2] / "gateway" / "samples" / "medicare-part-a.835"
    sshd.put(base / "inbox" / "medicare.835", sample.read_bytes())
    folder = _write_profile(tmp_path / "partners", sshd, base, filename_pattern="*.835")
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    args = ["poll", "--once", "--partners-dir", str(folder)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "pulled 1 file(s) (0 already known)" in first.output
    assert os.listdir(base / "archive") == ["medicare.835"]
