"""SFTP delivery against a real OpenSSH sshd through the database-backed outbound queue:
temp name, rename, receipts, resume after a crash at each step, never a second copy."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from gateway.db.types import utcnow
from gateway.outbound.deliver import finalize, part_name, upload_part
from gateway.outbound.enqueue import enqueue_path, outbound_store
from gateway.outbound.queue import claim_next, drain, queue_rows, requeue_failed
from gateway.outbound.receipts import DbDeliveryLedger, DbFailureLog
from gateway.outbound.tables import OutboundFile
from gateway.sftp import open_sftp
from gateway.store.file import FileRawStore
from mappings.partners import PartnerProfile
from tests.integration.helpers import Gateway
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    sshd_fixture,
    sshd_server_fixture,
)

pytestmark = pytest.mark.sftp


def _payer(server: SshdServer, base: Path, **fields: object) -> PartnerProfile:
    return server.profile(id="test-payer", role="payer", outbound_dir=str(base / "out"), **fields)


def _local(tmp_path: Path, name: str = "refund-0001.txt", size: int = 300_000) -> Path:
    path = tmp_path / "outgoing" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def _store(gw: Gateway) -> FileRawStore:
    return outbound_store(gw.settings.data_dir)


def _crash_mid_delivery(gw: Gateway, row_id: int) -> None:
    """What a worker killed mid-delivery leaves: a claimed row whose lease has run out."""
    assert claim_next(gw.db, "dead-worker", ["test-payer"]) == row_id
    with gw.db.write() as s:
        s.execute(
            update(OutboundFile)
            .where(OutboundFile.id == row_id)
            .values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )


def test_queue_delivers_renames_and_records_once(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    queued = enqueue_path(gw.db, _store(gw), profile, local)

    first = drain(gw.db, _store(gw), {profile.id: profile}, owner="t")
    inode = (base / "out" / local.name).stat().st_ino
    again = enqueue_path(gw.db, _store(gw), profile, local)  # the same file, queued again
    second = drain(gw.db, _store(gw), {profile.id: profile}, owner="t")

    assert [d.already_delivered for d in first.delivered] == [False]
    assert again.id == queued.id
    assert again.state == "delivered"
    assert second.delivered == []
    assert os.listdir(base / "out") == [local.name]
    assert (base / "out" / local.name).read_bytes() == local.read_bytes()
    assert (base / "out" / local.name).stat().st_ino == inode  # not uploaded again
    [receipt] = DbDeliveryLedger(gw.db).receipts()
    assert receipt.remote_path == str(base / "out" / local.name)
    assert receipt.size == local.stat().st_size
    assert [r.state for r in queue_rows(gw.db)] == ["delivered"]


def test_crash_after_upload_before_rename_then_resumed(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    queued = enqueue_path(gw.db, _store(gw), profile, local)
    final = str(base / "out" / local.name)
    _crash_mid_delivery(gw, queued.id)
    with open_sftp(profile) as sftp:  # the worker "died" right after the upload
        upload_part(sftp, profile, local, final)
    assert os.listdir(base / "out") == [Path(part_name(final)).name]

    result = drain(gw.db, _store(gw), {profile.id: profile}, owner="next-worker")

    assert [d.already_delivered for d in result.delivered] == [False]
    assert os.listdir(base / "out") == [local.name]  # exactly one final file, no .part
    assert (base / "out" / local.name).read_bytes() == local.read_bytes()
    assert len(DbDeliveryLedger(gw.db).receipts()) == 1
    assert [(r.state, r.attempts) for r in queue_rows(gw.db)] == [("delivered", 2)]


def test_crash_after_rename_before_receipt_then_resumed(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    queued = enqueue_path(gw.db, _store(gw), profile, local)
    final = str(base / "out" / local.name)
    _crash_mid_delivery(gw, queued.id)
    with open_sftp(profile) as sftp:
        upload_part(sftp, profile, local, final)
        finalize(sftp, profile, final)
    inode = Path(final).stat().st_ino

    drain(gw.db, _store(gw), {profile.id: profile}, owner="next-worker")

    assert os.listdir(base / "out") == [local.name]
    assert Path(final).stat().st_ino == inode  # recognised by size and sha256, not resent
    assert len(DbDeliveryLedger(gw.db).receipts()) == 1
    assert [r.state for r in queue_rows(gw.db)] == ["delivered"]


def test_a_different_file_under_the_name_is_never_overwritten(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("out")
    profile = _payer(sshd, base)
    local = _local(tmp_path)
    sshd.put(base / "out" / local.name, b"the partner's own file")
    queued = enqueue_path(gw.db, _store(gw), profile, local)

    result = drain(gw.db, _store(gw), {profile.id: profile}, owner="t")

    assert [(i, code) for i, code, _ in result.failed] == [(queued.id, "remote_conflict")]
    assert (base / "out" / local.name).read_bytes() == b"the partner's own file"
    assert DbDeliveryLedger(gw.db).receipts() == []
    [failure] = DbFailureLog(gw.db).read()
    assert (failure.error_code, failure.direction) == ("remote_conflict", "outbound")
    assert [r.state for r in queue_rows(gw.db)] == ["failed"]

    # the partner removes its file; the operator re-queues ours: delivered, failure resolved
    (base / "out" / local.name).unlink()
    assert requeue_failed(gw.db, [queued.id]) == 1
    drain(gw.db, _store(gw), {profile.id: profile}, owner="t")
    assert (base / "out" / local.name).read_bytes() == local.read_bytes()
    assert [f.resolved for f in DbFailureLog(gw.db).read()] == [True]


def test_delivery_retries_through_a_server_outage(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("out")
    profile = _payer(
        sshd,
        base,
        retry={"attempts": 12, "initial_seconds": 0.1, "max_seconds": 0.4, "jitter_seconds": 0.05},
    )
    local = _local(tmp_path)
    enqueue_path(gw.db, _store(gw), profile, local)
    sshd.stop()
    timer = threading.Timer(0.5, sshd.start)
    timer.start()
    try:
        result = drain(gw.db, _store(gw), {profile.id: profile}, owner="t")
    finally:
        timer.join(10)
    assert [d.already_delivered for d in result.delivered] == [False]
    assert os.listdir(base / "out") == [local.name]
    assert len(DbDeliveryLedger(gw.db).receipts()) == 1


def test_a_partner_that_stays_down_is_retried_later(
    sshd: SshdServer, gw: Gateway, tmp_path: Path
) -> None:
    base = sshd.make_tree("out")
    profile = _payer(
        sshd,
        base,
        port=1,
        host_key=f"[127.0.0.1]:1 {sshd.host_public_key}",
        retry={"attempts": 2, "initial_seconds": 0.01, "max_seconds": 0.01, "jitter_seconds": 0},
    )
    queued = enqueue_path(gw.db, _store(gw), profile, _local(tmp_path))

    result = drain(gw.db, _store(gw), {profile.id: profile}, owner="t")

    assert result.retrying == [queued.id]
    [row] = queue_rows(gw.db)
    assert (row.state, row.attempts, row.last_error_code) == ("queued", 1, "sftp_transient")
    at = row.next_attempt_at
    assert (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) > utcnow()  # backed off
    assert drain(gw.db, _store(gw), {profile.id: profile}, owner="t").retrying == []
    assert [f.error_code for f in DbFailureLog(gw.db).read()] == ["sftp_transient"]
