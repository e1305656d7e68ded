"""Every ```sh runnable block in README.md and docs/*.md runs, so the guides cannot rot.

Per document: a fresh temp data dir; its blocks run in order, each in a fresh ``bash`` with
``set -euo pipefail``, a timeout, ``.venv/bin`` first on ``PATH`` and the repository root as
working directory. ``GATEWAY_*`` variables from the outer environment are scrubbed and replaced
by ``GATEWAY_DATA_DIR`` (the temp dir) and ``GATEWAY_PARTNERS_DIR``.

The clearinghouse guide runs against the real sshd fixture: its placeholders (``SFTP_HOST``,
``SFTP_PORT``, ``SFTP_USER``, ``SFTP_KEY``, ``SFTP_INBOX``/``ARCHIVE``/``ACKS``,
``SFTP_FINGERPRINT``) come from the fixture, a sample 835 waits in the partner's inbox, and
afterwards the test checks what a newcomer would: the file was pulled, processed, archived on
the server, and its acknowledgment delivered to the ack folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import ROOT
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SSH_KEYGEN,
    SshdServer,
    sshd_fixture,
    sshd_server_fixture,
)

BLOCK = re.compile(r"^```sh runnable[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
BLOCK_TIMEOUT = 180
CLEARINGHOUSE = "docs/onboarding-clearinghouse.md"


def documents() -> list[str]:
    docs = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    return [d for d in ["README.md", *docs] if BLOCK.search((ROOT / d).read_text("utf-8"))]


def blocks(doc: str) -> list[str]:
    return [m.group(1) for m in BLOCK.finditer((ROOT / doc).read_text("utf-8"))]


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["GATEWAY_DATA_DIR"] = str(tmp_path / "var")
    env["GATEWAY_PARTNERS_DIR"] = str(tmp_path / "partners")
    env["GATEWAY_LOG_LEVEL"] = "WARNING"
    return env


def run_blocks(doc: str, env: dict[str, str]) -> list[str]:
    outputs = []
    for n, body in enumerate(blocks(doc), start=1):
        proc = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + body],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
        assert proc.returncode == 0, (
            f"{doc} block {n} exited {proc.returncode}:\n{body}\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n"
            f"--- stderr\n{proc.stderr[-3000:]}"
        )
        outputs.append(proc.stdout)
    return outputs


def test_some_documents_have_runnable_blocks() -> None:
    assert CLEARINGHOUSE in documents()
    assert len(documents()) >= 4


@pytest.mark.parametrize("doc", [d for d in documents() if d != CLEARINGHOUSE])
def test_runnable_blocks(doc: str, tmp_path: Path) -> None:
    run_blocks(doc, base_env(tmp_path))


@pytest.mark.sftp
def test_clearinghouse_guide_pulls_files_from_the_sshd_fixture(
    sshd: SshdServer, tmp_path: Path
) -> None:
    base = sshd.make_tree("inbox", "archive", "acks")
    sample = (ROOT / "gateway" / "samples" / "5010-835-example-1.txt").read_bytes()
    sshd.put(base / "inbox" / "remit-0001.835", sample)
    fingerprint = subprocess.run(
        [SSH_KEYGEN, "-lf", str(sshd.workdir / "ssh_host_ed25519_key.pub")],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()[1]
    env = base_env(tmp_path) | {
        "SFTP_HOST": "127.0.0.1",
        "SFTP_PORT": str(sshd.port),
        "SFTP_USER": sshd.user,
        "SFTP_KEY": str(sshd.client_key),
        "SFTP_INBOX": str(base / "inbox"),
        "SFTP_ARCHIVE": str(base / "archive"),
        "SFTP_ACKS": str(base / "acks"),
        "SFTP_FINGERPRINT": fingerprint,
        "STABLE_SECONDS": "0",
    }
    outputs = run_blocks(CLEARINGHOUSE, env)

    assert "host key matches the pinned one" in "".join(outputs)
    assert list((base / "inbox").iterdir()) == []
    assert [p.name for p in (base / "archive").iterdir()] == ["remit-0001.835"]
    acks = list((base / "acks").iterdir())
    assert acks, "no acknowledgment delivered to the partner's ack folder"
    assert all(a.read_bytes().startswith(b"ISA") for a in acks)
    assert "remit-0001.835" in outputs[-1]
    assert acks[0].name in outputs[-1]
