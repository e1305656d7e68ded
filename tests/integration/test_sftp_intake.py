"""SFTP intake against a real OpenSSH sshd: pulls, stability, outages, cuts, refusals."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.intake.poller import PartnerPoller
from gateway.intake.sftp import (
    JsonlFailureLog,
    PollResult,
    PulledFile,
    download,
    open_sftp,
    poll_partner,
)
from gateway.outbound.ledger import JsonlDeliveryLedger
from mappings.partners import PartnerProfile
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    ContentStoreAcceptor,
    SshdServer,
    free_port,
    keygen,
    sshd_fixture,
    sshd_server_fixture,
)

pytestmark = pytest.mark.sftp


@pytest.fixture
def store(tmp_path: Path) -> ContentStoreAcceptor:
    return ContentStoreAcceptor(tmp_path / "store")


@pytest.fixture
def failures(tmp_path: Path) -> JsonlFailureLog:
    return JsonlFailureLog(tmp_path / "failures.jsonl")


def _profile(server: SshdServer, base: Path, **fields: object) -> PartnerProfile:
    values: dict[str, object] = {"inbox_dir": str(base / "inbox"),
                                 "archive_dir": str(base / "archive"),
                                 "filename_pattern": "*.835"}
    values.update(fields)
    return server.profile(**values)


def _files(n: int, prefix: str = "remit") -> dict[str, bytes]:
    return {f"{prefix}-{i}.835": f"ISA*{prefix}*{i}*".encode() * (100 + i) for i in range(n)}


def test_pull_several_files_then_archive(sshd: SshdServer, store: ContentStoreAcceptor,
                                         failures: JsonlFailureLog, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    files = _files(5)
    for name, data in files.items():
        sshd.put(base / "inbox" / name, data)
    sshd.put(base / "inbox" / "notes.txt", b"not for us")

    result = poll_partner(_profile(sshd, base), store, staging_dir=tmp_path / "staging",
                          failures=failures)

    assert result.ok, result
    assert sorted(p.remote_name for p in result.pulled) == sorted(files)
    assert all(p.disposition == "archived" and not p.duplicate for p in result.pulled)
    assert {store.content(p.sha256) for p in result.pulled} == set(files.values())
    assert sorted(os.listdir(base / "inbox")) == ["notes.txt"]
    assert sorted(os.listdir(base / "archive")) == sorted(files)
    assert list((tmp_path / "staging").iterdir()) == []
    assert failures.read() == []


def test_file_still_growing_is_skipped_until_stable(sshd: SshdServer,
                                                    store: ContentStoreAcceptor,
                                                    tmp_path: Path) -> None:
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
        first = poll_partner(profile, store, staging_dir=tmp_path / "staging")
    finally:
        stop_writer.set()
        thread.join(10)
    assert [p.remote_name for p in first.pulled] == ["done.835"]
    assert first.pending == ["growing.835"]
    assert (base / "inbox" / "growing.835").exists()

    second = poll_partner(profile, store, staging_dir=tmp_path / "staging")
    assert [p.remote_name for p in second.pulled] == ["growing.835"]
    assert store.content(second.pulled[0].sha256) == (base / "archive" / "growing.835").read_bytes()
    assert os.listdir(base / "inbox") == []


def test_sshd_stopped_mid_poll_then_restarted(sshd: SshdServer, store: ContentStoreAcceptor,
                                              failures: JsonlFailureLog,
                                              tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    files = _files(4)
    for name, data in files.items():
        sshd.put(base / "inbox" / name, data)
    restarter: list[threading.Timer] = []

    def acceptor(path: Path, *, source: str, original_name: str) -> object:
        accepted = store(path, source=source, original_name=original_name)
        if len(store.calls) == 2 and not restarter:
            sshd.stop()  # the server dies after our copy is durable, before the archive move
            timer = threading.Timer(0.5, sshd.start)
            restarter.append(timer)
            timer.start()
        return accepted

    profile = _profile(sshd, base, retry={"attempts": 12, "initial_seconds": 0.1,
                                          "max_seconds": 0.4, "jitter_seconds": 0.05})
    with capture_logs() as logs:
        result = poll_partner(profile, acceptor, staging_dir=tmp_path / "staging",  # type: ignore[arg-type]
                              failures=failures)
    restarter[0].join(10)

    assert result.error is None, result
    assert any(e["event"] == "sftp_retry" for e in logs)
    new = [c for c in store.calls if not c[2]]
    assert sorted(name for name, _, _ in new) == sorted(files)  # each ingested exactly once
    assert len(store.files) == 4
    assert os.listdir(base / "inbox") == []
    assert sorted(os.listdir(base / "archive")) == sorted(files)


def test_connection_cut_mid_download_is_retried(sshd: SshdServer, store: ContentStoreAcceptor,
                                                tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    data = os.urandom(8 << 20)
    sshd.put(base / "inbox" / "big.835", data)
    cut: list[int] = []

    def on_progress(name: str, received: int) -> None:
        if not cut and received >= 1 << 20:
            cut.append(sshd.kill_sessions())

    with capture_logs() as logs:
        result = poll_partner(_profile(sshd, base), store, staging_dir=tmp_path / "staging",
                              on_progress=on_progress)

    assert cut
    assert cut[0] >= 1  # a live session was really killed mid-transfer
    assert result.error is None, result
    assert any(e["event"] == "sftp_retry" and e["operation"] == "poll" for e in logs)
    assert [c[2] for c in store.calls] == [False]  # accepted once, and only complete
    assert store.content(result.pulled[0].sha256) == data
    assert result.pulled[0].sha256 == hashlib.sha256(data).hexdigest()
    assert os.listdir(base / "archive") == ["big.835"]


def test_permission_denied_on_archive(sshd: SshdServer, store: ContentStoreAcceptor,
                                      failures: JsonlFailureLog, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "a.835", b"ISA*a*~")
    (base / "archive").chmod(0o555)
    profile = _profile(sshd, base)
    try:
        first = poll_partner(profile, store, staging_dir=tmp_path / "s", failures=failures)
        second = poll_partner(profile, store, staging_dir=tmp_path / "s", failures=failures)
    finally:
        (base / "archive").chmod(0o755)

    assert [(p.disposition, p.duplicate) for p in first.pulled] == [("kept", False)]
    assert [(p.disposition, p.duplicate) for p in second.pulled] == [("kept", True)]
    assert [f.code for f in first.failures] == ["remote_permission_denied"]
    assert [f.code for f in failures.read()] == ["remote_permission_denied"] * 2
    assert os.listdir(base / "inbox") == ["a.835"]  # not lost
    assert len(store.files) == 1

    third = poll_partner(profile, store, staging_dir=tmp_path / "s", failures=failures)
    assert [(p.disposition, p.duplicate) for p in third.pulled] == [("archived", True)]
    assert os.listdir(base / "archive") == ["a.835"]
    assert len(store.files) == 1


def test_crash_after_accept_before_archive_is_finished_next_poll(
        sshd: SshdServer, store: ContentStoreAcceptor, tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "x.835", b"ISA*x*~")
    profile = _profile(sshd, base)
    tmp = tmp_path / "half.part"
    with open_sftp(profile) as sftp, tmp.open("wb") as out:  # a poll that dies after accept
        download(sftp, str(base / "inbox" / "x.835"), out, expected_size=7)
    store(tmp, source="sftp:test", original_name="x.835")

    result = poll_partner(profile, store, staging_dir=tmp_path / "s")
    assert [(p.disposition, p.duplicate) for p in result.pulled] == [("archived", True)]
    assert len(store.files) == 1
    assert os.listdir(base / "archive") == ["x.835"]


def test_archive_never_overwrites_an_archived_file(sshd: SshdServer,
                                                   store: ContentStoreAcceptor,
                                                   tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "archive" / "daily.835", b"ISA*yesterday*~")
    sshd.put(base / "inbox" / "daily.835", b"ISA*today*~")
    result = poll_partner(_profile(sshd, base), store, staging_dir=tmp_path / "s")
    assert result.ok
    archived = sorted(os.listdir(base / "archive"))
    assert len(archived) == 2
    assert archived[0] == "daily.835"
    assert (base / "archive" / "daily.835").read_bytes() == b"ISA*yesterday*~"
    assert (base / "archive" / archived[1]).read_bytes() == b"ISA*today*~"


def test_after_pull_delete(sshd: SshdServer, store: ContentStoreAcceptor,
                           tmp_path: Path) -> None:
    base = sshd.make_tree("inbox")
    sshd.put(base / "inbox" / "d.835", b"ISA*d*~")
    profile = _profile(sshd, base, after_pull="delete", archive_dir=None)
    result = poll_partner(profile, store, staging_dir=tmp_path / "s")
    assert [p.disposition for p in result.pulled] == ["deleted"]
    assert os.listdir(base / "inbox") == []
    assert len(store.files) == 1


def test_wrong_host_key_is_refused_without_retry(sshd: SshdServer, store: ContentStoreAcceptor,
                                                 failures: JsonlFailureLog,
                                                 tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    sshd.put(base / "inbox" / "a.835", b"ISA*a*~")
    other = keygen(tmp_path / "impostor")
    profile = _profile(sshd, base, host_key=f"[127.0.0.1]:{sshd.port} {other}")

    with capture_logs() as logs:
        result = poll_partner(profile, store, staging_dir=tmp_path / "s", failures=failures)

    assert result.error == "host_key_rejected"
    assert [f.code for f in failures.read()] == ["host_key_rejected"]
    assert not any(e["event"] == "sftp_retry" for e in logs)
    alerts = [e for e in logs if e["log_level"] == "critical"]
    assert alerts
    assert alerts[0]["alert"] is True
    assert alerts[0]["code"] == "host_key_rejected"
    assert store.calls == []
    assert os.listdir(base / "inbox") == ["a.835"]


def test_wrong_credentials_are_refused_without_retry(sshd: SshdServer,
                                                     store: ContentStoreAcceptor,
                                                     failures: JsonlFailureLog,
                                                     tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    keygen(tmp_path / "not_authorized")
    profile = _profile(sshd, base, auth={"private_key_path": str(tmp_path / "not_authorized")})

    with capture_logs() as logs:
        result = poll_partner(profile, store, staging_dir=tmp_path / "s", failures=failures)

    assert result.error == "auth_failed"
    assert [f.code for f in failures.read()] == ["auth_failed"]
    assert not any(e["event"] == "sftp_retry" for e in logs)
    assert any(e["log_level"] == "critical" and e["code"] == "auth_failed" for e in logs)


def test_two_partners_one_down_the_other_is_pulled(sshd: SshdServer,
                                                   store: ContentStoreAcceptor,
                                                   tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive")
    files = _files(3)
    for name, data in files.items():
        sshd.put(base / "inbox" / name, data)
    good = _profile(sshd, base, id="good")
    dead_port = free_port()  # nothing listens here: connection refused
    down = _profile(sshd, base, id="down", port=dead_port,
                    host_key=f"[127.0.0.1]:{dead_port} {sshd.host_public_key}",
                    retry={"attempts": 50, "initial_seconds": 0.2, "max_seconds": 1,
                           "jitter_seconds": 0.1})
    results: dict[str, PollResult] = {}
    good_done = threading.Event()

    def on_result(result: PollResult) -> None:
        results[result.partner_id] = result
        if result.partner_id == "good":
            good_done.set()

    poller = PartnerPoller([down, good], store, staging_dir=tmp_path / "s", on_result=on_result)
    with capture_logs() as logs:
        poller.start()
        try:
            assert good_done.wait(30), "the healthy partner was never polled"
        finally:
            stopped = poller.shutdown(timeout=15)

    assert stopped
    assert sorted(p.remote_name for p in results["good"].pulled) == sorted(files)
    assert len(store.files) == 3
    assert any(e["event"] == "sftp_retry" and e["partner"] == "down" for e in logs)
    assert results.get("down") is None or results["down"].error is not None


def test_acknowledgments_are_delivered_to_the_ack_folder(sshd: SshdServer,
                                                         store: ContentStoreAcceptor,
                                                         tmp_path: Path) -> None:
    base = sshd.make_tree("inbox", "archive", "acks")
    sshd.put(base / "inbox" / "r.835", b"ISA*r*~")
    profile = _profile(sshd, base, ack_dir=str(base / "acks"), send_acks=True)

    def acks(profile: PartnerProfile, pulled: PulledFile) -> Sequence[Path]:
        ack = tmp_path / "acks" / f"{pulled.remote_name}.999"
        ack.parent.mkdir(exist_ok=True)
        ack.write_bytes(b"ISA*999 for " + pulled.sha256[:8].encode() + b"~")
        return [ack]

    ledger = JsonlDeliveryLedger(tmp_path / "receipts.jsonl")
    poller = PartnerPoller([profile], store, staging_dir=tmp_path / "s", acks=acks,
                           ledger=ledger)
    [result] = poller.poll_once()
    assert result.ok, result
    assert os.listdir(base / "acks") == ["r.835.999"]
    assert [r.remote_path for r in ledger.receipts()] == [str(base / "acks" / "r.835.999")]
