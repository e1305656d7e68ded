"""Shared fixtures of the API tests (no tests here): a real uvicorn server on 127.0.0.1 in a
thread, keys of every role, and helpers to process queued files in-process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from gateway.api import create_app
from gateway.api.keys import Role, create_key, revoke_key
from gateway.security.roles import KeyRole
from gateway.settings import Settings
from gateway.worker import run_worker
from tests.integration.helpers import GATEWAY_CMD, ROOT, Gateway


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_process(
    gw: Gateway, log_dir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`gateway serve` as a real subprocess on a free port (its URL and PID), for tests that
    need the CLI's server or its PID; stopped by its PID."""
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*GATEWAY_CMD, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**gw.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"gateway serve did not start: {log_path.read_text()[-2000:]}"
                    )
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a thread; stopped explicitly."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        # proxy_headers off, as `gateway serve` runs it: only the app's trusted list decides
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api-test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the API server did not start within 15 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "the API server did not stop within 15 s"


@dataclass
class Api:
    """A running API with one key per role, a revoked key, and an HTTP client."""

    gw: Gateway
    app: FastAPI
    url: str
    keys: dict[str, str]  # role (or "revoked") -> key
    client: httpx.Client

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def process_queue(self) -> None:
        """Process every queued file in this process (what a worker does)."""
        run_worker(self.gw.db, self.gw.store, self.gw.settings, stop=threading.Event(), once=True)


PROVIDER_NPI = "1234567893"
#: the roles an API key may hold (people are users: gateway.users)
KEY_ROLES_ORDERED = [Role(r.value) for r in KeyRole]


def make_keys(gw: Gateway, pepper: str | None) -> dict[str, str]:
    keys: dict[str, str] = {}
    with gw.db.write() as s:
        for role in KEY_ROLES_ORDERED:
            keys[role.value] = create_key(
                s,
                name=f"test-{role.value}",
                role=role,
                provider=PROVIDER_NPI if role is Role.UPLOADER else None,
                pepper=pepper,
                actor="pytest",
            ).key
        keys["other-uploader"] = create_key(
            s,
            name="test-other-uploader",
            role=Role.UPLOADER,
            provider="1999999992",
            pepper=pepper,
            actor="pytest",
        ).key
        keys["revoked"] = create_key(
            s, name="test-revoked", role=Role.OPS, provider=None, pepper=pepper, actor="pytest"
        ).key
        revoke_key(s, "test-revoked", actor="pytest")
    return keys


def start_api(gw: Gateway, settings: Settings | None = None) -> tuple[FastAPI, ServerThread]:
    app = create_app(settings or gw.settings)
    return app, ServerThread(app).start()


@pytest.fixture(name="api")
def api_fixture(gw: Gateway, request: pytest.FixtureRequest) -> Iterator[Api]:
    """Extra settings of the server: ``@pytest.mark.parametrize("api", [{...}], indirect=True)``."""
    overrides: dict[str, object] = getattr(request, "param", {})
    settings = gw.settings.model_copy(update={"max_upload_bytes": 64 * 1024, **overrides})
    gw.settings = settings
    app, server = start_api(gw, settings)
    keys = make_keys(gw, None)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield Api(gw, app, server.url, keys, client)
    finally:
        server.stop()
