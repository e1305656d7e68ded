"""SFTP delivery against a real OpenSSH sshd: temp name, rename, receipts, resume, no resend."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gateway.intake.sftp import JsonlFailureLog, open_sftp
from gateway.outbound.deliver import (
    RemoteConflictError,
    deliver_file,
    finalize,
    part_name,
    upload_part,
)
from gateway.outbound.ledger import JsonlDeliveryLedger, Receipt
from mappings.partners import PartnerProfile
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    sshd_fixture,
    sshd_server_fixture,
)

pytestmark = pytest.mark.sftp


def _payer(server: SshdServer, base: Path) -> PartnerProfile:
    return server.profile(id="test-payer", role="payer", outbound_dir=str(base / "out"))


def _local(tmp_path: Path, name: str = "refund-0001.txt", size: int = 300_000) -> Path:
    path = tmp_path / "outgoing" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def test_deliver_uploads_renames_and_records_once(sshd: SshdServer, tmp_path: Path) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    ledger = JsonlDeliveryLedger(tmp_path / "receipts.jsonl")

    first = deliver_file(profile, local, ledger=ledger)
    inode = (base / "out" / local.name).stat().st_ino
    second = deliver_file(profile, local, ledger=JsonlDeliveryLedger(ledger.path))

    assert not first.already_delivered
    assert second.already_delivered
    assert os.listdir(base / "out") == [local.name]
    assert (base / "out" / local.name).read_bytes() == local.read_bytes()
    assert (base / "out" / local.name).stat().st_ino == inode  # not uploaded again
    [receipt] = ledger.receipts()
    assert receipt.remote_path == str(base / "out" / local.name)
    assert receipt.size == local.stat().st_size
    assert receipt == second.receipt


def test_interrupted_after_upload_before_rename_then_resumed(sshd: SshdServer,
                                                             tmp_path: Path) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    final = str(base / "out" / local.name)
    with open_sftp(profile) as sftp:  # the process "dies" right after the upload
        upload_part(sftp, profile, local, final)
    assert os.listdir(base / "out") == [Path(part_name(final)).name]

    ledger = JsonlDeliveryLedger(tmp_path / "receipts.jsonl")  # a fresh process
    result = deliver_file(profile, local, ledger=ledger)

    assert not result.already_delivered
    assert os.listdir(base / "out") == [local.name]  # exactly one final file, no .part
    assert (base / "out" / local.name).read_bytes() == local.read_bytes()
    assert len(ledger.receipts()) == 1


def test_interrupted_after_rename_before_receipt_then_resumed(sshd: SshdServer,
                                                              tmp_path: Path) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    final = str(base / "out" / local.name)
    with open_sftp(profile) as sftp:
        upload_part(sftp, profile, local, final)
        finalize(sftp, profile, final)
    inode = Path(final).stat().st_ino

    ledger = JsonlDeliveryLedger(tmp_path / "receipts.jsonl")
    deliver_file(profile, local, ledger=ledger)

    assert os.listdir(base / "out") == [local.name]
    assert Path(final).stat().st_ino == inode  # recognised by size and sha256, not resent
    assert [r.sha256 for r in ledger.receipts()] == [ledger.receipts()[0].sha256]


def test_a_different_file_under_the_name_is_never_overwritten(sshd: SshdServer,
                                                               tmp_path: Path) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    sshd.put(base / "out" / local.name, b"the partner's own file")
    ledger = JsonlDeliveryLedger(tmp_path / "receipts.jsonl")
    failures = JsonlFailureLog(tmp_path / "failures.jsonl")

    with pytest.raises(RemoteConflictError):
        deliver_file(profile, local, ledger=ledger, failures=failures)

    assert (base / "out" / local.name).read_bytes() == b"the partner's own file"
    assert ledger.receipts() == []
    assert [f.code for f in failures.read()] == ["remote_conflict"]


def test_delivery_retries_through_a_server_outage(sshd: SshdServer, tmp_path: Path) -> None:
    base = sshd.make_tree("out")
    profile = sshd.profile(id="test-payer", role="payer", outbound_dir=str(base / "out"),
                           retry={"attempts": 12, "initial_seconds": 0.1, "max_seconds": 0.4,
                                  "jitter_seconds": 0.05})
    local = _local(tmp_path)
    ledger = JsonlDeliveryLedger(tmp_path / "receipts.jsonl")
    sshd.stop()
    timer = threading.Timer(0.5, sshd.start)
    timer.start()
    try:
        result = deliver_file(profile, local, ledger=ledger)
    finally:
        timer.join(10)
    assert not result.already_delivered
    assert os.listdir(base / "out") == [local.name]
    assert len(ledger.receipts()) == 1


def test_ledger_ignores_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    path.write_bytes(b'{"partner_id": "p", "remote_pa')  # a crash mid-append
    ledger = JsonlDeliveryLedger(path)
    assert ledger.receipts() == []
    ledger.record(Receipt("p", "/out/a", 1, "ab" * 32))
    assert [r.remote_path for r in JsonlDeliveryLedger(path).receipts()] == ["/out/a"]
