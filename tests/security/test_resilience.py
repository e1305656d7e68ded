"""Faults of the environment: a locked database, a full disk, a corrupt stored file.

A held lock or a full disk must never turn into a 500 or a dead worker: the API answers
503/507 problem+json with Retry-After, authentication needs no write, the worker waits the
fault out and carries on. A stored file whose bytes no longer match their sha256 is never
served as a clean 200. Everything runs against a real server on 127.0.0.1, on SQLite and
PostgreSQL where the fault exists on both.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from structlog.testing import capture_logs

from gateway.api.keys import Role
from gateway.api.routes import files as file_routes
from gateway.api.tables import ApiKey
from gateway.db.base import Database
from gateway.db.faults import Fault, classify
from gateway.db.models import InboundFile
from gateway.intake import accept_bytes
from gateway.intake.pull import AcceptResultLike, poll_partner
from gateway.partners import make_acceptor
from gateway.settings import Settings, get_settings
from gateway.store.base import CHUNK, RawStore
from gateway.store.file import FileRawStore
from gateway.worker import run_worker
from tests.integration.helpers import Gateway
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    sshd_fixture,
    sshd_server_fixture,
)
from tests.integration.test_api_support import Api, make_keys, start_api
from tests.integration.x12gen import make_835

PROBLEM = "application/problem+json"
LOCK_TIMEOUT = 0.5  # seconds a request waits for a lock before it answers 503
WAIT = 60.0  # bound of every wait for a background thread (never an assertion on time)


# -- fixtures -----------------------------------------------------------------------------------


@contextmanager
def running_api(gw: Gateway, **overrides: object) -> Iterator[Api]:
    """A real server over ``gw``'s database with a short lock timeout (and ``overrides``)."""
    settings = gw.settings.model_copy(
        update={"db_lock_timeout_seconds": LOCK_TIMEOUT, "max_upload_bytes": 64 * 1024, **overrides}
    )
    original = gw.db
    gw.settings, gw.db = settings, Database.from_settings(settings)
    app, server = start_api(gw, settings)
    try:
        keys = make_keys(gw, None)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield Api(gw, app, server.url, keys, client)
    finally:
        server.stop()
        gw.db.dispose()
        gw.db = original


@pytest.fixture
def busy_api(gw: Gateway) -> Iterator[Api]:
    with running_api(gw) as api:
        yield api


@contextmanager
def locked(db_url: str, table: str) -> Iterator[None]:
    """Hold the write lock from another connection: SQLite ``BEGIN IMMEDIATE`` (the whole
    database), PostgreSQL ``LOCK TABLE table IN ACCESS EXCLUSIVE MODE``."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        return
    engine = create_engine(db_url)
    try:
        with engine.connect() as pg:
            pg.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield
            pg.rollback()
    finally:
        engine.dispose()


@contextmanager
def locked_until(db_url: str, table: str, release: threading.Event) -> Iterator[None]:
    """``locked`` held by a thread of its own until ``release`` is set (or the block ends)."""
    ready = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with locked(db_url, table):
                ready.set()
                release.wait(WAIT)
        except BaseException as exc:  # reported below
            errors.append(exc)
            ready.set()

    holder = threading.Thread(target=hold, name="test-lock-holder", daemon=True)
    holder.start()
    assert ready.wait(WAIT)
    assert not errors, errors
    try:
        yield
    finally:
        release.set()
        holder.join(WAIT)


@contextmanager
def tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tiny tmpfs mounted on ``where`` (skipped when this host does not allow mounting)."""
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("disk-full tests need the mount command")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(
            f"disk-full tests mount a {size} tmpfs, which needs root/CAP_SYS_ADMIN "
            f"here: {proc.stderr.strip() or proc.returncode}"
        )
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the filesystem is full; returns it (delete it to free)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"\0" * (256 * 1024)
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: max(1, len(block) // 16)]
    finally:
        os.close(fd)
    return filler


def padded_835(seed: int, size: int) -> bytes:
    """A sniffable 835 of exactly ``size`` bytes (trailing newlines)."""
    data = make_835(seed)
    assert len(data) < size
    return data + b"\n" * (size - len(data))


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {WAIT} s")
        time.sleep(0.05)


def file_state(db: Database, file_id: int) -> str:
    with db.read() as s:
        state: str = s.execute(
            select(InboundFile.state).where(InboundFile.id == file_id)
        ).scalar_one()
    return state


def assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == code


# -- a locked database --------------------------------------------------------------------------


def test_locked_database_upload_is_503_with_retry_after_and_reads_still_work(
    busy_api: Api, db_url: str
) -> None:
    """Attack/fault: another connection holds the write lock (a long migration, a stuck
    transaction, an operator's open shell) while clients upload and read. The upload must be a
    503 ``database_busy`` with Retry-After and leave no registry row, never a 500; reads and
    authentication (even a key whose last-used time is due) need no write and keep working."""
    api = busy_api
    first = api.client.post("/v1/files", content=make_835(1), headers=api.auth("ops"))
    assert first.status_code == 201, first.text
    data = make_835(2)
    with locked(db_url, "api_uploads"):
        r = api.client.post("/v1/files", content=data, headers=api.auth("uploader"))
        assert_problem(r, 503, "database_busy")
        assert int(r.headers["retry-after"]) >= 1
        # a key never used before (its last_used_at refresh is due) still authenticates
        listed = api.client.get("/v1/files", headers=api.auth("auditor"))
        assert listed.status_code == 200, listed.text
        assert [f["id"] for f in listed.json()["items"]] == [first.json()["id"]]
        detail = api.client.get(f"/v1/files/{first.json()['id']}", headers=api.auth("ops"))
        assert detail.status_code == 200, detail.text
        assert api.client.get("/healthz").status_code == 200
    # nothing of the refused upload was registered: the same bytes are new now
    again = api.client.post("/v1/files", content=data, headers=api.auth("uploader"))
    assert again.status_code == 201, again.text
    assert again.json()["duplicate"] is False


def test_last_used_time_is_written_in_the_background(busy_api: Api) -> None:
    """Fault: the key's last-used bookkeeping used to be a write inside authentication. It is
    now coalesced and written off the request path; it must still be written."""
    api = busy_api
    assert api.client.get("/v1/files", headers=api.auth("auditor")).status_code == 200
    assert api.app.state.ctx.keys.toucher.flush(WAIT)
    with api.gw.db.read() as s:
        used = s.execute(
            select(ApiKey.last_used_at).where(ApiKey.role == Role.AUDITOR.value)
        ).scalar_one()
    assert used is not None


class BackgroundWorker:
    """``run_worker`` in a thread, noting each fault it backs off from (``on_retry``)."""

    def __init__(self, db: Database, store: RawStore, settings: Settings) -> None:
        self.stop, self.retried = threading.Event(), threading.Event()
        self.faults: list[Fault | None] = []
        self.result: dict[str, object] = {}
        self.thread = threading.Thread(
            target=self._work, args=(db, store, settings), name="test-worker", daemon=True
        )

    def _on_retry(self, exc: BaseException) -> None:
        self.faults.append(classify(exc))
        self.retried.set()

    def _work(self, db: Database, store: RawStore, settings: Settings) -> None:
        try:
            self.result["stats"] = run_worker(
                db, store, settings, stop=self.stop, on_retry=self._on_retry
            )
        except BaseException as exc:  # reported by the test
            self.result["error"] = exc

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(WAIT)


def test_worker_keeps_running_through_a_locked_database(busy_api: Api, db_url: str) -> None:
    """Fault: the registry is locked while a file waits (SQLite: the write lock; PostgreSQL:
    ACCESS EXCLUSIVE on inbound_files). The worker must not exit: it waits the lock out with
    backoff (at least one retry observed while locked) and processes the file after release."""
    api = busy_api
    up = api.client.post("/v1/files", content=make_835(3), headers=api.auth("ops"))
    assert up.status_code == 201, up.text
    file_id = up.json()["id"]
    worker = BackgroundWorker(api.gw.db, api.gw.store, api.gw.settings)
    try:
        with locked(db_url, "inbound_files"):
            worker.thread.start()
            assert worker.retried.wait(WAIT), f"the worker never hit the lock: {worker.result!r}"
            assert worker.thread.is_alive(), f"the worker exited: {worker.result.get('error')!r}"
        wait_for(lambda: file_state(api.gw.db, file_id) == "processed", "the file processed")
    finally:
        worker.finish()
    assert "error" not in worker.result, worker.result
    assert Fault.BUSY in worker.faults
    stats = worker.result["stats"]
    assert getattr(stats, "processed", 0) == 1
    assert getattr(stats, "retries", 0) >= 1


@pytest.mark.sftp
def test_sftp_poll_waits_out_a_locked_database(sshd: SshdServer, gw: Gateway, db_url: str) -> None:
    """Fault: the registry is locked while the SFTP poller accepts a partner's file. The poll
    must not crash: the acceptance failure is transient, the session is retried with backoff
    (tenacity), the file stays on the partner's server until it is registered, and it is
    registered once the lock is gone."""
    settings = gw.settings.model_copy(update={"db_lock_timeout_seconds": LOCK_TIMEOUT})
    db = Database.from_settings(settings)
    try:
        accept = make_acceptor(db, gw.store, settings)
        base = sshd.make_tree("inbox", "archive")
        data = make_835(9)
        sshd.put(base / "inbox" / "remit.835", data)
        release = threading.Event()
        faults: list[Fault | None] = []

        def acceptor(stream: BinaryIO, *, source: str, original_name: str) -> AcceptResultLike:
            try:
                return accept(stream, source=source, original_name=original_name)
            except Exception as exc:
                faults.append(classify(exc))
                assert os.listdir(base / "inbox") == ["remit.835"]  # not taken yet
                release.set()  # the lock goes away while the poll backs off
                raise

        profile = sshd.profile(
            inbox_dir=str(base / "inbox"),
            archive_dir=str(base / "archive"),
            filename_pattern="*.835",
            retry={
                "attempts": 6,
                "initial_seconds": 0.1,
                "max_seconds": 0.4,
                "jitter_seconds": 0.05,
            },
        )
        with locked_until(db_url, "inbound_files", release), capture_logs() as logs:
            result = poll_partner(profile, acceptor)
        assert result.error is None, result
        assert faults[:1] == [Fault.BUSY]
        assert any(e["event"] == "sftp_retry" and e.get("code") == "database_busy" for e in logs), (
            logs
        )
        assert [p.remote_name for p in result.pulled] == ["remit.835"]
        with db.read() as s:
            names = s.execute(select(InboundFile.original_name)).scalars().all()
        assert names == ["remit.835"]
        assert os.listdir(base / "archive") == ["remit.835"]
    finally:
        db.dispose()


# -- a full disk --------------------------------------------------------------------------------


def test_full_disk_upload_is_507_leaves_nothing_and_readyz_says_not_ready(gw: Gateway) -> None:
    """Fault: the disk holding the data dir and raw store fills up (a 2 MiB tmpfs) during a
    3 MiB upload. The upload must be a 507 ``insufficient_storage`` leaving no partial file and
    no registry row; /readyz must report not ready while nothing can be written, and ready
    again once space returns."""
    with (
        tmpfs(gw.settings.data_dir) as disk,
        running_api(gw, max_upload_bytes=8 * 1024 * 1024) as api,
    ):
        ok = api.client.get("/readyz")
        assert ok.status_code == 200, ok.text
        r = api.client.post(
            "/v1/files", content=padded_835(4, 3 * 1024 * 1024), headers=api.auth("ops")
        )
        assert_problem(r, 507, "insufficient_storage")
        assert "retry-after" in r.headers
        staging = disk / "raw" / ".tmp"
        assert list(staging.iterdir()) == []  # the temp file is gone
        blobs = [p for p in (disk / "raw").rglob("*") if p.is_file()]
        assert blobs == []
        listed = api.client.get("/v1/files", headers=api.auth("ops")).json()
        assert listed["total"] == 0
        filler = fill(disk)
        r = api.client.get("/readyz")
        assert_problem(r, 503, "storage_not_writable")
        assert "ENOSPC" in r.json()["detail"]
        small = api.client.post("/v1/files", content=make_835(5), headers=api.auth("ops"))
        assert_problem(small, 507, "insufficient_storage")
        filler.unlink()
        assert api.client.get("/readyz").status_code == 200
        small = api.client.post("/v1/files", content=make_835(5), headers=api.auth("ops"))
        assert small.status_code == 201, small.text


def test_worker_resumes_when_disk_space_returns(tmp_path: Path, sqlite_template: Path) -> None:
    """Fault: the embedded SQLite database shares a full disk with the raw store (the default
    layout: everything under the data dir). The worker's writes fail with "database or disk is
    full"; it must keep running, and process the waiting file once space is freed. (SQLite
    only: a PostgreSQL server's disk is not the gateway's.)"""
    with tmpfs(tmp_path / "data") as disk:
        shutil.copy(sqlite_template, disk / "gateway.db")
        db = Database.from_url(f"sqlite:///{disk / 'gateway.db'}", LOCK_TIMEOUT)
        store = FileRawStore(disk / "raw")
        try:
            settings = get_settings(
                data_dir=disk,
                worker_poll_seconds=0.05,
                lease_seconds=30,
                max_attempts=100,
                db_lock_timeout_seconds=LOCK_TIMEOUT,
            )
            file_id = accept_bytes(
                db, store, make_835(6), source="test", original_name="a.835"
            ).file_id
            # empty the WAL, so that the worker's next write needs new space
            raw = sqlite3.connect(disk / "gateway.db", isolation_level=None)
            try:
                busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                assert busy == 0
            finally:
                raw.close()
            filler = fill(disk)
            worker = BackgroundWorker(db, store, settings)
            worker.thread.start()
            try:
                assert worker.retried.wait(WAIT), "the worker never hit the full disk"
                assert worker.thread.is_alive(), (
                    f"the worker exited: {worker.result.get('error')!r}"
                )
                assert file_state(db, file_id) == "received"
                filler.unlink()
                wait_for(lambda: file_state(db, file_id) == "processed", "the file processed")
            finally:
                worker.finish()
            assert "error" not in worker.result, worker.result
            assert Fault.STORAGE in worker.faults
            assert getattr(worker.result["stats"], "processed", 0) == 1
        finally:
            db.dispose()


# -- a corrupt stored file ----------------------------------------------------------------------


def _corrupt_file_blob(gw: Gateway, sha256: str, how: str) -> None:
    path = FileRawStore(gw.settings.data_dir / "raw").path_for(sha256)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    if how == "truncate":
        del data[len(data) // 2 + 1 :]
    else:
        data[len(data) // 2] ^= 0x01  # same length: only the digest can tell
    path.write_bytes(bytes(data))


def _corrupt_db_blob(gw: Gateway, sha256: str, how: str) -> None:
    with gw.db.write() as s:
        blob_id = s.execute(
            text("SELECT id FROM raw_blobs WHERE sha256 = :h"), {"h": sha256}
        ).scalar_one()
        if how == "truncate":
            s.execute(
                text(
                    "DELETE FROM raw_chunks WHERE blob_id = :b AND seq = "
                    "(SELECT max(seq) FROM raw_chunks WHERE blob_id = :b)"
                ),
                {"b": blob_id},
            )
            return
        seq, data = s.execute(
            text("SELECT seq, data FROM raw_chunks WHERE blob_id = :b ORDER BY seq LIMIT 1"),
            {"b": blob_id},
        ).one()
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x01
        s.execute(
            text("UPDATE raw_chunks SET data = :d WHERE blob_id = :b AND seq = :s"),
            {"d": bytes(flipped), "b": blob_id, "s": seq},
        )


@pytest.mark.parametrize("how", ["flip", "truncate"])
@pytest.mark.parametrize("backend", ["file", "postgres"])
def test_corrupt_stored_file_is_never_a_clean_200(
    gw: Gateway, backend: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack/fault: the stored raw bytes are altered or cut short on disk (file backend) or in
    the database (postgres backend: a flipped byte in a chunk, a lost chunk). A download must
    be a problem+json ``stored_file_corrupt`` before any body byte (small files), or a transfer
    the client can tell failed (large streamed files: fewer bytes than Content-Length), never a
    200 with the wrong bytes. A sound file still downloads whole on both paths."""
    size = 2 * CHUNK  # an exact multiple of the chunk size: every byte could go out clean
    with running_api(
        gw, raw_store=backend, raw_store_compression="none", max_upload_bytes=4 * CHUNK
    ) as api:
        good = padded_835(7, size)
        bad = padded_835(8, size)
        ids = {}
        for name, data in (("good", good), ("bad", bad)):
            r = api.client.post("/v1/files", content=data, headers=api.auth("ops"))
            assert r.status_code == 201, r.text
            ids[name] = (r.json()["id"], r.json()["sha256"])
        (_corrupt_file_blob if backend == "file" else _corrupt_db_blob)(gw, ids["bad"][1], how)

        r = api.client.get(f"/v1/files/{ids['good'][0]}/raw", headers=api.auth("ops"))
        assert r.status_code == 200
        assert r.content == good
        r = api.client.get(f"/v1/files/{ids['bad'][0]}/raw", headers=api.auth("ops"))
        assert_problem(r, 500, "stored_file_corrupt")

        # large files are streamed: the corruption shows only at the end
        monkeypatch.setattr(file_routes, "VERIFY_FIRST_BYTES", 0)
        r = api.client.get(f"/v1/files/{ids['good'][0]}/raw", headers=api.auth("ops"))
        assert r.status_code == 200
        assert r.content == good
        received = b""
        with (  # noqa: PT012  the stream must be read inside the raises block
            pytest.raises(httpx.RemoteProtocolError),
            api.client.stream(
                "GET", f"/v1/files/{ids['bad'][0]}/raw", headers=api.auth("ops")
            ) as resp,
        ):
            assert int(resp.headers["content-length"]) == size
            for part in resp.iter_bytes():
                received += part
        assert len(received) < size
