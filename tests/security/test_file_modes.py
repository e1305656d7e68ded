"""Attacks on the data dir from other local users (issue 17, hardening).

- A host with a permissive umask: ``gateway.db`` and its WAL were 0644 and folders 0755, so
  any local account read the PHI in them. Whatever the umask, what the gateway creates is
  0600 (raw blobs 0400) in 0700 folders.
- Inbox names that collide once made safe: ``a\\same.835`` and ``b\\same.835`` were both
  archived as ``same.835``, the first copy overwritten. Archives never overwrite each other.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from gateway.db.base import Database
from gateway.db.migrate import upgrade
from gateway.intake.inbox import scan_inbox
from gateway.store.file import FileRawStore
from tests.integration.helpers import GATEWAY_CMD, ROOT, Gateway
from tests.integration.x12gen import make_835


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _assert_private_tree(root: Path) -> list[Path]:
    """Every folder under ``root`` (and root) is 0700, every file has no group/other bits."""
    seen = [root]
    assert stat.S_IMODE(root.stat().st_mode) == 0o700, root
    for p in root.rglob("*"):
        mode = stat.S_IMODE(p.lstat().st_mode)
        if p.is_dir():
            assert mode == 0o700, (p, oct(mode))
        else:
            assert mode in (0o600, 0o400), (p, oct(mode))
        seen.append(p)
    return seen


def test_cli_under_umask_000_creates_private_files(gw: Gateway, tmp_path: Path) -> None:
    """Attack: ``umask 000`` on the host, then ``gateway run --once`` with a fresh data dir
    (the embedded SQLite default on the SQLite run), an inbox to archive, and a report:
    another local user must be able to read nothing of it."""
    data = tmp_path / "fresh"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.835").write_bytes(make_835(1001, claims=1))
    (inbox / "bad.835").write_bytes(make_835(1002, claims=1).replace(b"SE*", b"XE*", 1))
    env = {
        **gw.env,
        "GATEWAY_DATA_DIR": str(data),
        "GATEWAY_INBOX": str(inbox),
        "GATEWAY_INBOX_SETTLE_SECONDS": "0",
    }
    if gw.db.is_sqlite:
        env.pop("GATEWAY_DATABASE_URL")  # the embedded default: data/gateway.db
    with umask(0):
        proc = subprocess.run(
            [*GATEWAY_CMD, "run", "--once"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        out = tmp_path / "aging.csv"
        proc = subprocess.run(
            [*GATEWAY_CMD, "report", "aging", "--out", str(out)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    seen = {p.relative_to(data).as_posix() for p in _assert_private_tree(data)}
    assert any(p.startswith("raw/") for p in seen), seen
    assert any(p.startswith("inbox-accepted/") for p in seen), seen
    if gw.db.is_sqlite:
        assert "gateway.db" in seen
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # a report the CLI wrote (umask 077)


def test_library_under_umask_000_creates_private_files(gw: Gateway, tmp_path: Path) -> None:
    """Attack: the same umask with the gateway used in-process (API server, worker): the
    SQLite database with its -wal and -shm while open, the raw store, inbox archives and
    rejections with their reasons."""
    data = tmp_path / "lib" / "data"
    with umask(0):
        db = Database.from_url(f"sqlite:///{data / 'gateway.db'}")
        try:
            upgrade(db)
            with db.write() as s:
                s.execute(text("CREATE TABLE t (x INTEGER)"))
            for name in ("gateway.db", "gateway.db-wal", "gateway.db-shm"):
                mode = stat.S_IMODE((data / name).stat().st_mode)
                assert mode == 0o600, (name, oct(mode))
        finally:
            db.dispose()
        store = FileRawStore(data / "raw")
        inbox = tmp_path / "lib" / "inbox"
        (inbox / "sub").mkdir(parents=True)
        (inbox / "sub" / "x.835").write_bytes(make_835(1003, claims=1))
        (inbox / "big.835").write_bytes(b"ISA" + b"*" * 5000)
        scan = scan_inbox(gw.db, store, inbox, data, settle_seconds=0, max_bytes=1000)
        assert len(scan.accepted) == 1
        assert len(scan.rejected) == 1
    _assert_private_tree(tmp_path / "lib" / "data")


def test_inbox_archive_names_never_collide(gw: Gateway, tmp_path: Path) -> None:
    """Attack: ``a\\same.835`` and ``b\\same.835`` (one safe name), the same name in two
    sub-folders, the same bytes dropped twice (one file id), and two rejected files of one
    name: every archived copy survives, byte for byte, next to its own reason."""
    inbox = tmp_path / "inbox"
    data = gw.settings.data_dir
    (inbox / "x").mkdir(parents=True)
    (inbox / "y").mkdir()
    drops = {
        "a\\same.835": make_835(1101, claims=1),
        "b\\same.835": make_835(1102, claims=1),
        "x/same.835": make_835(1103, claims=1),
        "y/same.835": make_835(1104, claims=1),
    }
    for name, content in drops.items():
        (inbox / name).write_bytes(content)
    first = scan_inbox(gw.db, gw.store, inbox, data, settle_seconds=0)
    assert len(first.accepted) == 4
    # the same bytes again under an old name (a duplicate: the same file id, the same name)
    (inbox / "a\\same.835").write_bytes(drops["a\\same.835"])
    second = scan_inbox(gw.db, gw.store, inbox, data, settle_seconds=0)
    assert [r.duplicate for r in second.accepted] == [True]
    archived = [p for p in (data / "inbox-accepted").rglob("*") if p.is_file()]
    assert len(archived) == 5
    assert len({p.name for p in archived}) == 5
    assert sorted(p.read_bytes() for p in archived) == sorted(
        [*drops.values(), drops["a\\same.835"]]
    )
    # two rejected files of one safe name keep two reasons
    for sub in ("x", "y"):
        (inbox / sub / "huge.835").write_bytes(b"ISA" + sub.encode() * 4000)
    rejected = scan_inbox(gw.db, gw.store, inbox, data, settle_seconds=0, max_bytes=1000)
    assert len(rejected.rejected) == 2
    assert len({p.name for p in rejected.rejected}) == 2
    assert sorted(p.read_bytes()[3:4] for p in rejected.rejected) == [b"x", b"y"]
    for p in rejected.rejected:
        assert p.with_name(p.name + ".reason").read_text().startswith("file_too_large")
