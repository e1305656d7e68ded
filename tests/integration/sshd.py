"""A real OpenSSH ``sshd`` for SFTP tests, plus a small real acceptor.

The server binds 127.0.0.1 on a free port with its own config and generated ed25519 host key,
serves ``internal-sftp`` only, and is stopped by PID. Traps handled (see
/work/shared/research/infra.md): /run/sshd must exist, sshd must be started by absolute path,
a ``useradd`` user is locked under ``UsePAM no`` until ``usermod -p '*'``, and StrictModes rejects
anything under /tmp.

Under CI (``CI=true``) a missing sshd fails the tests instead of skipping them. The server is
shared by the session; the ``sshd`` fixture (re)starts it for every test, so a test that stopped
it cannot leak into the next one, whatever the order.

As root we log in as a dedicated unprivileged user (``gwsftp``) so folder permissions are real
(root would bypass a read-only archive folder). Not as root, sshd runs as the current user and we
log in as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mappings.partners import PartnerProfile, parse_partner

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
TEST_USER = "gwsftp"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> str:
    """Generate an ed25519 key pair; return the public key text ('ssh-ed25519 AAAA...')."""
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
        check=True,
        timeout=30,
        capture_output=True,
    )
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])


def _ensure_user() -> tuple[str, int, int]:
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return entry.pw_name, entry.pw_uid, entry.pw_gid
    try:
        entry = pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
            check=True,
            timeout=30,
            capture_output=True,
        )
        entry = pwd.getpwnam(TEST_USER)
    # Unlock for key login without PAM (trap 3); '*' still allows no password.
    subprocess.run(["usermod", "-p", "*", TEST_USER], check=True, timeout=30, capture_output=True)
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (sshd's per-connection processes), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class SshdServer:
    workdir: Path
    root: Path
    port: int
    user: str
    uid: int
    gid: int
    client_key: Path
    host_public_key: str
    config: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host_key_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_public_key}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        log = (self.workdir / "sshd.log").open("ab")
        self.proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.workdir / 'sshd.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("sshd did not accept connections in time")

    def session_pids(self) -> list[int]:
        return _children(self.proc.pid) if self.running and self.proc is not None else []

    def kill_sessions(self) -> int:
        """Drop every open SFTP connection (the listener keeps running)."""
        pids = self.session_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def stop(self) -> None:
        """Stop the listener and its sessions, by PID."""
        if self.proc is None:
            return
        sessions = self.session_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def make_tree(self, *folders: str) -> Path:
        """A fresh per-test folder under the SFTP root, owned by the login user."""
        base = self.root / uuid.uuid4().hex[:12]
        for name in ("", *folders):
            p = base / name
            p.mkdir(parents=True, exist_ok=True)
            os.chown(p, self.uid, self.gid)
        return base

    def put(self, path: Path, data: bytes) -> Path:
        """Place a file on the server side, owned by the login user."""
        path.write_bytes(data)
        os.chown(path, self.uid, self.gid)
        return path

    def profile(self, **fields: Any) -> PartnerProfile:
        data: dict[str, Any] = {
            "id": "test-clearinghouse",
            "name": "Test clearinghouse",
            "role": "clearinghouse",
            "host": "127.0.0.1",
            "port": self.port,
            "username": self.user,
            "auth": {"private_key_path": str(self.client_key)},
            "host_key": self.host_key_line,
            "stable_seconds": 0,
            "poll_interval_seconds": 1,
            "timeouts": {
                "connect_seconds": 5,
                "banner_seconds": 5,
                "auth_seconds": 5,
                "operation_seconds": 10,
            },
            "retry": {
                "attempts": 6,
                "initial_seconds": 0.05,
                "max_seconds": 0.5,
                "jitter_seconds": 0.05,
            },
        }
        data.update(fields)
        return parse_partner(data, "<test>")


def start_sshd() -> SshdServer:
    if not SSHD.exists():
        reason = "OpenSSH sshd is not installed (apt-get install -y openssh-server)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"{reason}: under CI a skipped SFTP test is an untested feature")
        pytest.skip(reason)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # trap 1
    user, uid, gid = _ensure_user()
    workdir = Path(tempfile.mkdtemp(prefix="gw-sshd-"))
    workdir.chmod(0o755)  # the login user must reach the SFTP root below it
    root = workdir / "sftp"
    root.mkdir()
    os.chown(root, uid, gid)
    host_pub = keygen(workdir / "ssh_host_ed25519_key")
    client_pub = keygen(workdir / "client_key")
    ak = workdir / "authorized_keys"
    ak.mkdir()
    (ak / user).write_text(client_pub + "\n")
    port = free_port()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {workdir / 'ssh_host_ed25519_key'}",
                f"PidFile {workdir / 'sshd.pid'}",
                f"AuthorizedKeysFile {ak}/%u",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin no",
                "AllowTcpForwarding no",
                "X11Forwarding no",
                "MaxStartups 100",
                "LogLevel INFO",
                "Subsystem sftp internal-sftp",
                f"ForceCommand internal-sftp -d {root}",
                "",
            ]
        )
    )
    server = SshdServer(
        workdir=workdir,
        root=root,
        port=port,
        user=user,
        uid=uid,
        gid=gid,
        client_key=workdir / "client_key",
        host_public_key=host_pub,
        config=config,
    )
    server.start()
    return server


@pytest.fixture(scope="session", name="sshd_server")
def sshd_server_fixture() -> Iterator[SshdServer]:
    server = start_sshd()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(name="sshd")
def sshd_fixture(sshd_server: SshdServer) -> SshdServer:
    """The session server, running (a previous test may have stopped it)."""
    sshd_server.start()
    return sshd_server
