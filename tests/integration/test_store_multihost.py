"""Scale-out: several "hosts" (separate processes with separate data directories) share one
PostgreSQL registry and one raw store (``postgres``, then ``s3``).

One ``gateway serve`` process accepts 200 uploads over HTTP; two ``gateway worker`` processes
on other data directories process them, 100 each (``--max-files``), so both must read bytes
that a third process wrote. Every file reaches a final state exactly once. A quarantined file
(a repeated interchange) is replayed by the worker host that did not process it. Finally an
API process is killed mid-upload of a large file: no raw bytes under its address and no
registry row remain.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gateway.db.base import Database
from gateway.db.models import FileEvent, InboundFile
from gateway.settings import get_settings
from gateway.store import store_from_settings
from gateway.store.tables import RawBlob, RawChunk
from tests.integration.helpers import GATEWAY_CMD, ROOT
from tests.integration.storekit import (
    free_port,
    moto_endpoint,  # noqa: F401  fixture
    new_bucket,
    pg_database,
    s3_overrides,
)
from tests.integration.x12gen import make_835

pytestmark = pytest.mark.postgres
NPI = "1234567893"


def _env(data_dir: Path, overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({f"GATEWAY_{k.upper()}": v for k, v in overrides.items()})
    env.update(
        {
            "GATEWAY_DATA_DIR": str(data_dir),
            "GATEWAY_LOG_FORMAT": "json",
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_LEASE_SECONDS": "60",
            "GATEWAY_WORKER_POLL_SECONDS": "0.05",
            "GATEWAY_MAX_ATTEMPTS": "100",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY_CMD, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


@contextlib.contextmanager
def _api(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[Any], str]]:
    """``gateway serve`` on 127.0.0.1 and a free port, stopped by its PID."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*GATEWAY_CMD, "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5),
                ):
                    break
                assert proc.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "gateway serve did not start"
                time.sleep(0.1)
            yield proc, f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


@pytest.fixture(params=["postgres", "s3"])
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, dict[str, str]]]:
    """Environments of three hosts sharing one registry and one raw store."""
    with pg_database(request.getfixturevalue("pg_server")) as url:
        shared = {"database_url": url, "raw_store": request.param}
        if request.param == "s3":
            endpoint = request.getfixturevalue("moto_endpoint")
            shared.update(s3_overrides(endpoint, new_bucket(endpoint)))
        yield {name: _env(tmp_path / name, shared) for name in ("api", "worker_a", "worker_b")}


def _upload_key(env: dict[str, str]) -> str:
    proc = _cli(env, "keys", "create", "--role", "uploader", "--name", "clinic", "--provider", NPI)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


def _files() -> list[tuple[str, bytes]]:
    files = [(f"f{i:03d}.835", make_835(9000 + i, claims=2, npi=NPI)) for i in range(198)]
    # same sender and interchange control number, other bytes: TA1 025 for whichever is second
    files += [
        ("dup0.835", make_835(9000, claims=2, seed=1, npi=NPI)),
        ("dup1.835", make_835(9001, claims=2, seed=1, npi=NPI)),
    ]
    return files


def _settings(env: dict[str, str]) -> Any:
    return get_settings(
        **{k[len("GATEWAY_") :].lower(): v for k, v in env.items() if k.startswith("GATEWAY_")}
    )


def test_two_worker_hosts_share_the_raw_store(
    hosts: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    api_env = hosts["api"]
    key = _upload_key(api_env)
    workers = {
        name: subprocess.Popen(
            [*GATEWAY_CMD, "worker", "--max-files", "100"],
            env=hosts[name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("worker_a", "worker_b")
    }
    try:
        with (
            _api(api_env, tmp_path / "api.log") as (_, base),
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
            ) as http,
        ):
            for name, data in _files():
                r = http.post("/v1/files", files={"file": (name, data)})
                assert r.status_code == 201, r.text
        outputs = {name: proc.communicate(timeout=180) for name, proc in workers.items()}
    finally:
        for proc in workers.values():
            _stop(proc)
    for name, proc in workers.items():
        assert proc.returncode == 0, outputs[name][1][-3000:]

    settings = _settings(api_env)
    db = Database.from_settings(settings)
    try:
        with db.read() as s:
            states = Counter(s.execute(select(InboundFile.state)).scalars())
            finals = s.execute(
                select(FileEvent.file_id, FileEvent.actor).where(
                    FileEvent.to_state.in_(("processed", "failed"))
                )
            ).all()
            failed = s.execute(
                select(InboundFile.id, InboundFile.error_code).where(InboundFile.state == "failed")
            ).all()
        assert states == {"processed": 198, "failed": 2}
        per_file = Counter(fid for fid, _ in finals)
        assert len(per_file) == 200
        assert set(per_file.values()) == {1}  # exactly once
        pids = {name: str(proc.pid) for name, proc in workers.items()}
        by_host = Counter(
            next(n for n, pid in pids.items() if actor.split(":")[1] == pid) for _, actor in finals
        )
        assert by_host == {"worker_a": 100, "worker_b": 100}
        for name in ("worker_a", "worker_b"):  # nothing came from (or went to) local disk
            assert not (Path(hosts[name]["GATEWAY_DATA_DIR"]) / "raw").exists()
        assert {code for _, code in failed} == {"duplicate_interchange"}

        victim = failed[0].id
        owner = next(actor for fid, actor in finals if fid == victim).split(":")[1]
        other = "worker_b" if owner == pids["worker_a"] else "worker_a"
        replayed = _cli(hosts[other], "replay", str(victim), "--force", "--reason", "test")
        assert replayed.returncode == 0, replayed.stdout[-2000:] + replayed.stderr[-2000:]
        with db.read() as s:
            assert (
                s.execute(select(InboundFile.state).where(InboundFile.id == victim)).scalar_one()
                == "processed"
            )
    finally:
        db.dispose()


def test_killed_mid_upload_leaves_nothing(hosts: dict[str, dict[str, str]], tmp_path: Path) -> None:
    api_env = hosts["api"]
    key = _upload_key(api_env)
    big = make_835(9500, claims=60_000, npi=NPI)  # about 20 MB: several chunks and parts
    assert len(big) > 17 * 1024 * 1024
    sha = hashlib.sha256(big).hexdigest()
    crash = "raw_part:1" if api_env["GATEWAY_RAW_STORE"] == "s3" else "raw_chunk:8"
    with (
        _api({**api_env, "GATEWAY_TEST_CRASH_AT": crash}, tmp_path / "api.log") as (proc, base),
        httpx.Client(
            base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
        ) as http,
    ):
        with pytest.raises(httpx.TransportError):
            http.post("/v1/files", files={"file": ("big.835", big)})
        assert proc.wait(30) == -signal.SIGKILL

    settings = _settings(api_env)
    db = Database.from_settings(settings)
    store = store_from_settings(settings)
    try:
        assert not store.exists(sha)
        with db.read() as s:
            assert s.execute(select(func.count()).select_from(InboundFile)).scalar_one() == 0
            assert s.execute(select(func.count()).select_from(RawBlob)).scalar_one() == 0
            assert s.execute(select(func.count()).select_from(RawChunk)).scalar_one() == 0
        if api_env["GATEWAY_RAW_STORE"] == "s3":
            from gateway.store.s3 import S3RawStore

            assert isinstance(store, S3RawStore)
            listed = store.client.list_objects_v2(Bucket=store.bucket)
            assert listed.get("KeyCount", 0) == 0  # the incomplete multipart upload is invisible
        # the same upload on a healthy API process succeeds and is then visible
        with (
            _api(api_env, tmp_path / "api2.log") as (_, base),
            httpx.Client(
                base_url=base, timeout=120, headers={"Authorization": f"Bearer {key}"}
            ) as http,
        ):
            r = http.post("/v1/files", files={"file": ("big.835", big)})
            assert r.status_code == 201, r.text
        assert store.exists(sha)
        with store.open(sha) as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == sha
    finally:
        db.dispose()
