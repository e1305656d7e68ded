"""Helpers of the raw-store tests: a local S3-compatible server (moto) and store builders.

``moto_endpoint`` starts ``moto_server`` on 127.0.0.1 and a free port once per session and
stops it by its PID. Each test gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.integration.conftest import TEMPLATE_DB, _admin

MOTO = Path(sys.executable).parent / "moto_server"
S3_KEYS = {
    "s3_access_key_id": "testing",
    "s3_secret_access_key": "testing",
    "s3_region": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server process on 127.0.0.1 (stopped by PID at the end)."""
    if not MOTO.exists():
        pytest.fail("moto_server not installed: pip install 'moto[server]' (CI must not skip)")
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start (exit {proc.poll()})")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def new_bucket(endpoint: str) -> str:
    import boto3

    name = f"gw-{uuid.uuid4().hex[:16]}"
    boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=name)
    return name


def s3_overrides(endpoint: str, bucket: str) -> dict[str, str]:
    """Settings of an s3 raw store on the moto server (as ``get_settings`` overrides)."""
    return {
        "raw_store": "s3",
        "s3_endpoint_url": endpoint,
        "s3_bucket": bucket,
        "s3_prefix": "gw/raw",
        **S3_KEYS,
    }


@contextlib.contextmanager
def pg_database(base: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database (copied from the session's template)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(base, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    try:
        yield make_url(base).set(database=name).render_as_string(False)
    finally:
        _admin(base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class PatternStream:
    """A readable stream of ``size`` deterministic bytes that never exist whole in memory."""

    def __init__(self, size: int, seed: int = 0) -> None:
        block = bytes((i * 131 + seed) % 251 for i in range(65536))
        self._block = block
        self._left = size
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self._left
        n = min(n, self._left)
        out = bytearray()
        while len(out) < n:
            take = min(n - len(out), len(self._block) - self._pos)
            out += self._block[self._pos : self._pos + take]
            self._pos = (self._pos + take) % len(self._block)
        self._left -= n
        return bytes(out)


def pattern_sha256(size: int, seed: int = 0) -> str:
    import hashlib

    h = hashlib.sha256()
    s = PatternStream(size, seed)
    while chunk := s.read(1 << 20):
        h.update(chunk)
    return h.hexdigest()
