"""A throwaway PostgreSQL cluster on 127.0.0.1, for the integration tests and the benchmarks.

``initdb`` as the ``postgres`` user in a fresh temp dir, ``pg_ctl start`` on a free port with the
caller's ``-c`` settings, and a stop by the postmaster's PID (fast shutdown, then SIGKILL if it
lingers). Durability is the caller's choice: the tests run with fsync off, the upload and raw
store benchmarks with the defaults (fsync on).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STOP_TIMEOUT = 30.0


class PostgresMissingError(RuntimeError):
    """No PostgreSQL binaries under /usr/lib/postgresql."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise PostgresMissingError("PostgreSQL binaries not found under /usr/lib/postgresql")
    return found[-1].parent


@contextlib.contextmanager
def throwaway_postgres(*settings: str, parent: Path | None = None) -> Iterator[str]:
    """URL of the new cluster's ``postgres`` database; ``settings`` are ``name=value`` pairs."""
    binaries = bindir()
    tmp = Path(tempfile.mkdtemp(prefix="gw-pg-", dir=parent))
    data = tmp / "data"
    shutil.chown(tmp, "postgres", "postgres")
    tmp.chmod(0o700)
    run_as = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run(
            [
                *run_as,
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        options = " ".join(
            [f"-k {data} -p {port} -c listen_addresses=127.0.0.1", *(f"-c {s}" for s in settings)]
        )
        subprocess.run(
            [
                *run_as,
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(tmp / "pg.log"),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _stop(pid)
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)  # "fast" shutdown
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


__all__ = ["PostgresMissingError", "bindir", "free_port", "throwaway_postgres"]
