"""Scale-out on PostgreSQL: 2 `gateway serve` + 3 `gateway worker` processes on loopback; 500
files uploaded concurrently over real HTTP, alternating between the two API replicas; every
file is processed exactly once. Processes are stopped by PID; the whole test is bounded."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from gateway.api.keys import Role, create_key
from gateway.db.models import FileEvent, InboundFile
from gateway.db.remittance_rows import ClaimPaymentRow
from tests.integration.helpers import GATEWAY_CMD, ROOT, Gateway
from tests.integration.test_api_support import free_port
from tests.integration.x12gen import make_835

N_FILES = 500
CLIENTS = 16
DEADLINE_S = 240


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            [*GATEWAY_CMD, *args], env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_apis_three_workers_process_500_uploads_exactly_once(
    gw: Gateway, tmp_path: Path
) -> None:
    with gw.db.write() as s:
        key = create_key(
            s,
            name="scale-uploader",
            role=Role.UPLOADER,
            provider="1234567893",
            pepper=None,
            actor="pytest",
        ).key
    env = {**gw.env, "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_WORKER_POLL_SECONDS": "0.05"}
    ports = [free_port(), free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        for i, port in enumerate(ports):
            procs.append(
                _start(
                    ["serve", "--host", "127.0.0.1", "--port", str(port)],
                    env,
                    tmp_path / f"api{i}.log",
                )
            )
        for i in range(3):
            procs.append(_start(["worker"], env, tmp_path / f"worker{i}.log"))
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url in urls:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() - started < 60, "API did not become ready"
                assert all(p.poll() is None for p in procs), "a process died at start"
                time.sleep(0.1)

        clients = [
            httpx.Client(base_url=u, timeout=60, headers={"Authorization": f"Bearer {key}"})
            for u in urls
        ]

        def upload(i: int) -> tuple[int, int, bool]:
            r = clients[i % 2].post(
                f"/v1/files?filename=s{i}.835", content=make_835(50_000 + i, claims=1, plb=False)
            )
            assert r.status_code == 201, r.text
            return i % 2, r.json()["id"], r.json()["duplicate"]

        try:
            with ThreadPoolExecutor(CLIENTS) as pool:
                results = list(pool.map(upload, range(N_FILES)))
        finally:
            for c in clients:
                c.close()
        assert len({fid for _, fid, _ in results}) == N_FILES
        assert not any(dup for _, _, dup in results)
        assert Counter(server for server, _, _ in results) == {0: N_FILES // 2, 1: N_FILES // 2}

        while True:
            with gw.db.read() as s:
                done = s.execute(
                    select(func.count()).where(InboundFile.state.in_(("processed", "failed")))
                ).scalar_one()
            if done == N_FILES:
                break
            assert time.monotonic() - started < DEADLINE_S, f"only {done} processed in time"
            assert all(p.poll() is None for p in procs), "a process died"
            time.sleep(0.25)
    finally:
        _stop(procs)
    # uvicorn re-raises the SIGTERM it handled after a graceful shutdown; workers exit 0
    assert [p.returncode for p in procs] == [-signal.SIGTERM] * 2 + [0] * 3
    with gw.db.read() as s:
        states = dict(
            s.execute(select(InboundFile.state, func.count()).group_by(InboundFile.state)).all()
        )
        per_file = s.execute(
            select(FileEvent.file_id, func.count())
            .where(FileEvent.to_state == "processed")
            .group_by(FileEvent.file_id)
        ).all()
        claims = s.execute(
            select(ClaimPaymentRow.file_id, func.count()).group_by(ClaimPaymentRow.file_id)
        ).all()
        owners = s.execute(
            select(func.count(func.distinct(FileEvent.actor))).where(
                FileEvent.to_state == "processing"
            )
        ).scalar_one()
    assert states == {"processed": N_FILES}
    assert len(per_file) == N_FILES
    assert all(n == 1 for _, n in per_file)
    assert len(claims) == N_FILES
    assert all(n == 1 for _, n in claims)
    assert owners >= 2, "the work was not shared between the workers"
