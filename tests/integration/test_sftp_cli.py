"""The SFTP commands against a real sshd and a real database: ``partners check``, ``deliver``,
``transfers``, and ``gateway run --once`` pulling, processing and acknowledging end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app
from gateway.outbound.queue import queue_rows
from gateway.outbound.receipts import DbDeliveryLedger
from tests.integration.helpers import GATEWAY_CMD, ROOT, Gateway
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    keygen,
    sshd_fixture,
    sshd_server_fixture,
)

pytestmark = pytest.mark.sftp
SAMPLES = ROOT / "gateway" / "samples"


def _write_profile(folder: Path, server: SshdServer, base: Path, **changes: object) -> Path:
    folder.mkdir(exist_ok=True)
    fields: dict[str, object] = {
        "inbox_dir": str(base / "inbox"),
        "archive_dir": str(base / "archive"),
        "outbound_dir": str(base / "out"),
    }
    fields.update(changes)
    profile = server.profile(**fields)
    data = profile.model_dump(mode="json", exclude_none=True)
    (folder / f"{profile.id}.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.fixture
def cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """In-process CLI runs against ``gw``'s database and data folder."""
    for key, value in gw.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)
    return CliRunner()


def test_check_reports_ok_and_missing_folders(sshd: SshdServer, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "out")  # no archive folder
    folder = _write_profile(tmp_path / "partners", sshd, base)
    result = CliRunner().invoke(app, ["partners", "check", "--partners-dir", str(folder)])
    assert result.exit_code == 1
    assert "host key matches the pinned one" in result.output
    assert f"archive_dir {base / 'archive'}: does not exist" in result.output

    (base / "archive").mkdir()
    os.chown(base / "archive", sshd.uid, sshd.gid)
    result = CliRunner().invoke(app, ["partners", "check", "--partners-dir", str(folder)])
    assert result.exit_code == 0, result.output


def test_check_explains_a_changed_host_key(sshd: SshdServer, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive", "out")
    impostor = keygen(tmp_path / "impostor")
    folder = _write_profile(
        tmp_path / "partners", sshd, base, host_key=f"[127.0.0.1]:{sshd.port} {impostor}"
    )
    result = CliRunner().invoke(
        app, ["partners", "check", "test-clearinghouse", "--partners-dir", str(folder)]
    )
    assert result.exit_code == 1
    assert "not the one pinned in the profile" in result.output
    assert "Traceback" not in result.output


def test_deliver_command_queues_delivers_and_never_resends(
    sshd: SshdServer, cli: CliRunner, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("inbox", "archive", "out")
    folder = _write_profile(tmp_path / "partners", sshd, base)
    refund = tmp_path / "refund.txt"
    refund.write_bytes(b"refund 0001")
    args = [
        "deliver",
        "--partner",
        "test-clearinghouse",
        "--partners-dir",
        str(folder),
        str(refund),
    ]
    first = cli.invoke(app, args)
    second = cli.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "delivered to test-clearinghouse" in first.output
    assert second.exit_code == 0, second.output
    assert "already delivered" in second.output
    assert os.listdir(base / "out") == ["refund.txt"]
    assert cli.invoke(app, ["transfers", "queue"]).exit_code == 0
    assert [(r.state, r.attempts) for r in queue_rows(gw.db)] == [("delivered", 1)]
    assert len(DbDeliveryLedger(gw.db).receipts()) == 1


def test_failures_are_listed_for_operators(
    sshd: SshdServer, cli: CliRunner, tmp_path: Path
) -> None:
    base = sshd.make_tree("inbox", "archive", "out")
    impostor = keygen(tmp_path / "impostor")
    folder = _write_profile(
        tmp_path / "partners", sshd, base, host_key=f"[127.0.0.1]:{sshd.port} {impostor}"
    )
    poll = cli.invoke(app, ["poll", "--once", "--partners-dir", str(folder)])
    assert poll.exit_code == 1

    listed = cli.invoke(app, ["transfers", "failures", "--json"])
    assert listed.exit_code == 1  # unresolved failures
    assert '"code": "host_key_rejected"' in listed.output
    assert '"direction": "inbound"' in listed.output
    hint = cli.invoke(app, ["failures"])
    assert "1 unresolved SFTP transfer failure(s)" in hint.output

    failure_id = re.search(r'"id": (\d+)', listed.output)
    assert failure_id is not None
    assert cli.invoke(app, ["transfers", "resolve", failure_id.group(1)]).exit_code == 0
    assert cli.invoke(app, ["transfers", "failures"]).exit_code == 0


@pytest.mark.usefixtures("gw")
def test_run_once_pulls_processes_and_acknowledges_exactly_once(
    sshd: SshdServer, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = sshd.make_tree("inbox", "archive", "acks")
    folder = _write_profile(
        tmp_path / "partners",
        sshd,
        base,
        ack_dir=str(base / "acks"),
        send_acks=True,
        outbound_dir=None,
    )
    monkeypatch.setenv("GATEWAY_PARTNERS_DIR", str(folder))
    medicare = (SAMPLES / "medicare-part-a.835").read_bytes()
    sshd.put(base / "inbox" / "medicare.835", medicare)

    first = cli.invoke(app, ["run", "--once"])
    assert first.exit_code == 0, first.output
    assert "processed 1" in first.output
    assert os.listdir(base / "archive") == ["medicare.835"]
    acks = sorted(os.listdir(base / "acks"))
    nines = [n for n in acks if n.endswith(".999")]
    assert len(nines) == 1, acks  # ISA14=1 also asks for a TA1
    ack = (base / "acks" / nines[0]).read_bytes()
    assert ack.startswith(b"ISA")
    assert b"ST*999*" in ack
    assert b"AK9*A" in ack
    numbers = [int(n.split(".")[-2]) for n in acks]

    # the same file arrives again (a partner re-sends it): a duplicate, acknowledged already
    sshd.put(base / "inbox" / "medicare.835", medicare)
    again = cli.invoke(app, ["run", "--once"])
    assert again.exit_code == 0, again.output
    assert sorted(os.listdir(base / "acks")) == acks

    # a new file in a later run: its acknowledgments take the next control numbers
    sshd.put(base / "inbox" / "secondary.835", (SAMPLES / "secondary-payment.835").read_bytes())
    third = cli.invoke(app, ["run", "--once"])
    assert third.exit_code == 0, third.output
    new = sorted(set(os.listdir(base / "acks")) - set(acks))
    assert [n for n in new if n.endswith(".999")]
    assert min(int(n.split(".")[-2]) for n in new) > max(numbers)
    assert not any(n.startswith(".") for n in os.listdir(base / "acks"))  # no .part left
    assert cli.invoke(app, ["transfers", "failures"]).exit_code == 0


def test_gateway_run_polls_and_acknowledges_in_the_background(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("inbox", "archive", "acks")
    folder = _write_profile(
        tmp_path / "partners",
        sshd,
        base,
        ack_dir=str(base / "acks"),
        send_acks=True,
        outbound_dir=None,
        poll_interval_seconds=1,
    )
    sshd.put(base / "inbox" / "medicare.835", (SAMPLES / "medicare-part-a.835").read_bytes())
    env = {**gw.env, "GATEWAY_PARTNERS_DIR": str(folder)}
    proc = subprocess.Popen(
        [*GATEWAY_CMD, "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if any(n.endswith(".999") for n in os.listdir(base / "acks")):
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert [n for n in os.listdir(base / "acks") if n.endswith(".999")], err[-3000:]
    assert os.listdir(base / "archive") == ["medicare.835"]
    assert "Traceback" not in err
