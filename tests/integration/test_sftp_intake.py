"""SFTP intake against a real OpenSSH sshd, into the real ingest pipeline (raw store + registry).

Pulls, stability, outages, cuts, refusals, the size check, and several partners at once.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import threading
from pathlib import Path
from typing import BinaryIO

import paramiko
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from gateway.db.models import AuditEntry, InboundFile
from gateway.intake import accept_bytes
from gateway.intake.poller import PartnerPoller
from gateway.intake.pull import AcceptResultLike, PollResult, poll_partner
from gateway.outbound.receipts import DbFailureLog
from gateway.partners import make_acceptor
from gateway.sftp import RemoteFileChangedError, RemoteReader, download, open_sftp
from gateway.sftp.connect import _QuickAckSocket
from gateway.store.file import FileRawStore
from mappings.partners import PartnerProfile
from tests.integration import sshd as sshd_module
from tests.integration.helpers import Gateway
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    free_port,
    keygen,
    sshd_fixture,
    sshd_server_fixture,
    start_sshd,
)

pytestmark = pytest.mark.sftp


class Pipe:
    """The real acceptor of ``gw`` plus ways to look at what it registered."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.accept = make_acceptor(gw.db, gw.store, gw.settings)
        self.failures = DbFailureLog(gw.db)

    def __call__(self, stream: BinaryIO, *, source: str, original_name: str) -> AcceptResultLike:
        return self.accept(stream, source=source, original_name=original_name)

    def registered(self) -> dict[str, str]:
        """original name → sha256 of every registered file."""
        with self.gw.db.read() as s:
            return {
                r.original_name: r.sha256
                for r in s.execute(select(InboundFile.original_name, InboundFile.sha256))
            }

    def accepts(self, outcome: str) -> int:
        with self.gw.db.read() as s:
            return int(
                s.execute(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "accept", AuditEntry.outcome == outcome)
                ).scalar_one()
            )

    def content(self, sha256: str) -> bytes:
        return self.gw.store.read(sha256)

    def failure_codes(self) -> list[str]:
        return [f.error_code for f in self.failures.read()]


@pytest.fixture
def pipe(gw: Gateway) -> Pipe:
    return Pipe(gw)


def _profile(server: SshdServer, base: Path, **fields: object) -> PartnerProfile:
    values: dict[str, object] = {
        "inbox_dir": str(base / "inbox"),
        "archive_dir": str(base / "archive"),
        "filename_pattern": "*.835",
    }
    values.update(fields)
    return server.profile(**values)


def _files(n: int, prefix: str = "remit") -> dict[str, bytes]:
    return {f"{prefix}-{i}.835": f"ISA*{prefix}*{i}*".encode() * (100 + i) for i in range(n)}


def _no_temp_left(store: FileRawStore) -> bool:
    tmp = store.root / ".tmp"
    return not tmp.exists() or not any(tmp.iterdir())


def test_pull_several_files_then_archive(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    files = _files(9)  # enough for the extra parallel session
    files["big.835"] = os.urandom(700_000)  # prefetched, several 32 KiB requests
    for name, data in files.items():
        sshd.put(base / "inbox" / name, data)
    sshd.put(base / "inbox" / "notes.txt", b"not for us")

    result = poll_partner(_profile(sshd, base, max_connections=3), pipe, failures=pipe.failures)

    assert result.ok, result
    assert sorted(p.remote_name for p in result.pulled) == sorted(files)
    assert all(p.disposition == "archived" and not p.duplicate for p in result.pulled)
    registered = pipe.registered()
    assert sorted(registered) == sorted(files)
    assert {name: pipe.content(sha) for name, sha in registered.items()} == files
    assert sorted(os.listdir(base / "inbox")) == ["notes.txt"]
    assert sorted(os.listdir(base / "archive")) == sorted(files)
    assert _no_temp_left(pipe.gw.store)
    assert pipe.failure_codes() == []


def test_file_still_growing_is_skipped_until_stable(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "done.835", b"ISA*complete*~")
    growing = sshd.put(base / "inbox" / "growing.835", b"ISA*")
    stop_writer = threading.Event()

    def writer() -> None:
        with growing.open("ab") as fh:
            while not stop_writer.wait(0.02):
                fh.write(b"CLP*1*1*10*10~")
                fh.flush()

    profile = _profile(sshd, base, stable_seconds=0.3)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        first = poll_partner(profile, pipe)
    finally:
        stop_writer.set()
        thread.join(10)
    assert [p.remote_name for p in first.pulled] == ["done.835"]
    assert first.pending == ["growing.835"]
    assert (base / "inbox" / "growing.835").exists()

    second = poll_partner(profile, pipe)
    assert [p.remote_name for p in second.pulled] == ["growing.835"]
    assert pipe.content(second.pulled[0].sha256) == (base / "archive" / "growing.835").read_bytes()
    assert os.listdir(base / "inbox") == []


def test_size_changed_during_the_read_registers_nothing(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    path = sshd.put(base / "inbox" / "late.835", b"ISA*first part*~" * 1000)
    appended: list[bool] = []

    def acceptor(stream: BinaryIO, *, source: str, original_name: str) -> AcceptResultLike:
        if not appended:  # the writer was not done after all: it appends after our listing
            with path.open("ab") as fh:
                fh.write(b"SE*more*~" * 100)
            appended.append(True)
        return pipe(stream, source=source, original_name=original_name)

    profile = _profile(sshd, base)
    first = poll_partner(profile, acceptor)
    assert first.pulled == []
    assert first.pending == ["late.835"]
    assert pipe.registered() == {}  # the size check failed before anything committed
    assert _no_temp_left(pipe.gw.store)
    assert os.listdir(base / "inbox") == ["late.835"]

    second = poll_partner(profile, acceptor)
    assert [p.remote_name for p in second.pulled] == ["late.835"]
    assert pipe.content(second.pulled[0].sha256) == (base / "archive" / "late.835").read_bytes()


def test_sshd_stopped_mid_poll_then_restarted(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    files = _files(3)
    for name, data in files.items():
        sshd.put(base / "inbox" / name, data)
    restarter: list[threading.Timer] = []

    def acceptor(stream: BinaryIO, *, source: str, original_name: str) -> AcceptResultLike:
        accepted = pipe(stream, source=source, original_name=original_name)
        if len(pipe.registered()) == 2 and not restarter:
            sshd.stop()  # the server dies after our copy is durable, before the archive move
            timer = threading.Timer(0.5, sshd.start)
            restarter.append(timer)
            timer.start()
        return accepted

    profile = _profile(
        sshd,
        base,
        retry={"attempts": 12, "initial_seconds": 0.1, "max_seconds": 0.4, "jitter_seconds": 0.05},
    )
    with capture_logs() as logs:
        result = poll_partner(profile, acceptor, failures=pipe.failures)
    restarter[0].join(10)

    assert result.error is None, result
    assert any(e["event"] == "sftp_retry" for e in logs)
    assert sorted(pipe.registered()) == sorted(files)  # each registered exactly once
    assert pipe.accepts("received") == 3
    assert os.listdir(base / "inbox") == []
    assert sorted(os.listdir(base / "archive")) == sorted(files)


def test_connection_cut_mid_download_is_retried(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    data = os.urandom(32 << 20)  # well past what the window and socket buffers hold
    sshd.put(base / "inbox" / "big.835", data)
    cut: list[int] = []

    def on_progress(_name: str, received: int) -> None:
        if not cut and received >= 1 << 20:
            cut.append(sshd.kill_sessions())

    with capture_logs() as logs:
        result = poll_partner(_profile(sshd, base), pipe, on_progress=on_progress)

    assert cut
    assert cut[0] >= 1  # a live session was really killed mid-transfer
    assert result.error is None, result
    assert any(e["event"] == "sftp_retry" and e["operation"] == "poll" for e in logs), logs
    assert pipe.accepts("received") == 1  # registered once, and only complete
    assert pipe.accepts("duplicate") == 0
    assert result.pulled[0].sha256 == hashlib.sha256(data).hexdigest()
    assert pipe.content(result.pulled[0].sha256) == data
    assert _no_temp_left(pipe.gw.store)
    assert os.listdir(base / "archive") == ["big.835"]


def test_permission_denied_on_archive(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "a.835", b"ISA*a*~")
    (base / "archive").chmod(0o555)
    profile = _profile(sshd, base)
    try:
        first = poll_partner(profile, pipe, failures=pipe.failures)
        second = poll_partner(profile, pipe, failures=pipe.failures)
    finally:
        (base / "archive").chmod(0o755)

    assert [(p.disposition, p.duplicate) for p in first.pulled] == [("kept", False)]
    assert [(p.disposition, p.duplicate) for p in second.pulled] == [("kept", True)]
    assert [f.code for f in first.failures] == ["remote_permission_denied"]
    assert pipe.failure_codes() == ["remote_permission_denied"] * 2
    assert os.listdir(base / "inbox") == ["a.835"]  # not lost
    assert len(pipe.registered()) == 1

    third = poll_partner(profile, pipe, failures=pipe.failures)
    assert [(p.disposition, p.duplicate) for p in third.pulled] == [("archived", True)]
    assert os.listdir(base / "archive") == ["a.835"]
    assert len(pipe.registered()) == 1


def test_crash_after_accept_before_archive_is_finished_next_poll(
    sshd: SshdServer, pipe: Pipe
) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "x.835", b"ISA*x*~")
    # a poll that died after the file was durable and registered, before the archive move
    accept_bytes(pipe.gw.db, pipe.gw.store, b"ISA*x*~", source="sftp:test", original_name="x.835")

    result = poll_partner(_profile(sshd, base), pipe)
    assert [(p.disposition, p.duplicate) for p in result.pulled] == [("archived", True)]
    assert len(pipe.registered()) == 1
    assert os.listdir(base / "archive") == ["x.835"]


def test_archive_never_overwrites_an_archived_file(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "archive" / "daily.835", b"ISA*yesterday*~")
    sshd.put(base / "inbox" / "daily.835", b"ISA*today*~")
    result = poll_partner(_profile(sshd, base), pipe)
    assert result.ok
    archived = sorted(os.listdir(base / "archive"))
    assert len(archived) == 2
    assert archived[0] == "daily.835"
    assert (base / "archive" / "daily.835").read_bytes() == b"ISA*yesterday*~"
    assert (base / "archive" / archived[1]).read_bytes() == b"ISA*today*~"


def test_after_pull_delete(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox")
    sshd.put(base / "inbox" / "d.835", b"ISA*d*~")
    profile = _profile(sshd, base, after_pull="delete", archive_dir=None)
    result = poll_partner(profile, pipe)
    assert [p.disposition for p in result.pulled] == ["deleted"]
    assert os.listdir(base / "inbox") == []
    assert len(pipe.registered()) == 1


def test_wrong_host_key_is_refused_without_retry(
    sshd: SshdServer, pipe: Pipe, tmp_path: Path
) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "a.835", b"ISA*a*~")
    other = keygen(tmp_path / "impostor")
    profile = _profile(sshd, base, host_key=f"[127.0.0.1]:{sshd.port} {other}")

    with capture_logs() as logs:
        result = poll_partner(profile, pipe, failures=pipe.failures)

    assert result.error == "host_key_rejected"
    assert pipe.failure_codes() == ["host_key_rejected"]
    assert [f.direction for f in pipe.failures.read()] == ["inbound"]
    assert not any(e["event"] == "sftp_retry" for e in logs)
    alerts = [e for e in logs if e["log_level"] == "critical"]
    assert alerts
    assert alerts[0]["alert"] is True
    assert alerts[0]["code"] == "host_key_rejected"
    assert pipe.registered() == {}
    assert os.listdir(base / "inbox") == ["a.835"]


def test_wrong_credentials_are_refused_without_retry(
    sshd: SshdServer, pipe: Pipe, tmp_path: Path
) -> None:
    base = sshd.make_tree("inbox", "archive")
    keygen(tmp_path / "not_authorized")
    profile = _profile(sshd, base, auth={"private_key_path": str(tmp_path / "not_authorized")})

    with capture_logs() as logs:
        result = poll_partner(profile, pipe, failures=pipe.failures)

    assert result.error == "auth_failed"
    assert pipe.failure_codes() == ["auth_failed"]
    assert not any(e["event"] == "sftp_retry" for e in logs)
    assert any(e["log_level"] == "critical" and e["code"] == "auth_failed" for e in logs)


def test_two_partners_one_down_the_other_is_pulled(sshd: SshdServer, pipe: Pipe) -> None:
    base = sshd.make_tree("inbox", "archive")
    files = _files(3)
    for name, data in files.items():
        sshd.put(base / "inbox" / name, data)
    good = _profile(sshd, base, id="good")
    dead_port = free_port()  # nothing listens here: connection refused
    down = _profile(
        sshd,
        base,
        id="down",
        port=dead_port,
        host_key=f"[127.0.0.1]:{dead_port} {sshd.host_public_key}",
        retry={"attempts": 50, "initial_seconds": 0.2, "max_seconds": 1, "jitter_seconds": 0.1},
    )
    results: dict[str, PollResult] = {}
    good_done = threading.Event()

    def on_result(result: PollResult) -> None:
        results[result.partner_id] = result
        if result.partner_id == "good":
            good_done.set()

    poller = PartnerPoller([down, good], pipe, failures=pipe.failures, on_result=on_result)
    with capture_logs() as logs:
        poller.start()
        try:
            assert good_done.wait(30), "the healthy partner was never polled"
        finally:
            stopped = poller.shutdown(timeout=15)

    assert stopped
    assert sorted(p.remote_name for p in results["good"].pulled) == sorted(files)
    assert sorted(pipe.registered()) == sorted(files)
    assert any(e["event"] == "sftp_retry" and e["partner"] == "down" for e in logs)
    assert results.get("down") is None or results["down"].error is not None


def test_a_missing_sshd_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sshd_module, "SSHD", tmp_path / "no-sshd")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="untested feature"):
        start_sshd()


@pytest.mark.parametrize("size", [0, 1, 261119, 261120, 261121, 5 * 261120 + 7])
def test_pipelined_reader_adapts_to_the_servers_largest_answer(sshd: SshdServer, size: int) -> None:
    """Asking for more than the server answers (OpenSSH caps a read at 255 KiB) still reads
    every byte in order, with or without a listed size, and later requests shrink to fit."""
    base = sshd.make_tree("inbox")
    data = os.urandom(size)
    sshd.put(base / "inbox" / "f.835", data)
    profile = _profile(sshd, base)
    path = str(base / "inbox" / "f.835")
    with open_sftp(profile) as sftp:
        for expected in (size, None):
            with sftp.open(path, "rb") as fh:
                reader = RemoteReader(fh, expected_size=expected, request_size=1 << 20)
                pieces = []
                while piece := reader.read(100_000):
                    pieces.append(piece)
                reader.close()
            assert b"".join(pieces) == data
            assert reader.total == size
            if expected is not None and size > 261120:
                assert reader.request_size == 261120  # what this OpenSSH answers at most
        # the session is still in step after both readers: a plain request works
        assert sftp.stat(path).st_size == size


def test_sessions_acknowledge_what_they_receive_at_once(sshd: SshdServer) -> None:
    """The SSH socket re-arms TCP_QUICKACK after each read (see ``_QuickAckSocket``): without
    it every connection waited 40 ms for a delayed ACK before its channel opened."""
    base = sshd.make_tree("inbox")
    with open_sftp(_profile(sshd, base)) as sftp:
        sock = sftp.get_channel().get_transport().sock
        assert isinstance(sock, _QuickAckSocket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert sftp.listdir(str(base / "inbox")) == []


def test_pipelined_reader_refuses_a_file_longer_than_listed(sshd: SshdServer) -> None:
    base = sshd.make_tree("inbox")
    sshd.put(base / "inbox" / "f.835", os.urandom(600_000))
    with (
        open_sftp(_profile(sshd, base)) as sftp,
        sftp.open(str(base / "inbox" / "f.835"), "rb") as fh,
    ):
        reader = RemoteReader(fh, expected_size=500_000)

        def read_all() -> None:
            while reader.read(1 << 20):
                pass

        with pytest.raises(RemoteFileChangedError):
            read_all()
        reader.close()


def test_a_dropped_connection_never_reads_as_the_end_of_a_file(sshd: SshdServer) -> None:
    """Without a listed size, only the server's EOF status ends a file; a cut raises."""
    base = sshd.make_tree("inbox")
    sshd.put(base / "inbox" / "f.835", os.urandom(32 << 20))
    sink = io.BytesIO()
    cut: list[int] = []

    def on_progress(received: int) -> None:
        if not cut and received >= 1 << 20:
            cut.append(sshd.kill_sessions())

    dropped = (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError)
    with open_sftp(_profile(sshd, base)) as sftp, pytest.raises(dropped):
        download(
            sftp, str(base / "inbox" / "f.835"), sink, expected_size=None, on_progress=on_progress
        )
    assert cut
    assert cut[0] >= 1
    assert sink.tell() < 32 << 20
