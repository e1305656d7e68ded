"""Hostile file names (``../``, absolute, NUL, very long, unicode look-alikes) never become paths.

Inbox files and SFTP files (against the real sshd) keep their name only as data
(``original_name``); every local path the gateway builds goes through
``gateway.security.filenames.safe_component``, and a name an SFTP server lists that would steer a
rename or delete out of the partner's inbox is refused.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paramiko import SFTPAttributes
from sqlalchemy import select

from gateway.db.models import InboundFile
from gateway.intake.inbox import scan_inbox
from gateway.intake.remote_inbox import list_inbox
from gateway.security.filenames import MAX_COMPONENT_BYTES, is_plain_remote_name, safe_component
from tests.integration.helpers import Gateway

HOSTILE = [
    "../../etc/passwd",
    "../escape.835",
    "/etc/shadow",
    "/abs/path.835",
    "a\x00b.835",
    "x" * 1000 + ".835",
    "．．∕．．∕etc∕passwd",  # fullwidth dots + division slash
    "..∕..∕outside.835",
    "a⁄b.835",
    "..\\..\\win.835",
    "C:\\Windows\\x.835",
    "..",
    ".",
    "",
    "\u202etxt.exe",
    "name\nwith-newline.835",
    "-rf.835",
    "~/.ssh/authorized_keys",
]


def _inside(directory: Path, name: str) -> bool:
    target = (directory / name).resolve()
    return target.parent == directory.resolve()


@pytest.mark.parametrize("name", HOSTILE)
def test_safe_component_stays_one_component(tmp_path: Path, name: str) -> None:
    out = safe_component(name)
    assert out
    assert out not in {".", ".."}
    assert not out.startswith(".")
    assert "/" not in out
    assert "\\" not in out
    assert "\x00" not in out
    assert len(out.encode()) <= MAX_COMPONENT_BYTES
    assert out.isascii()
    assert _inside(tmp_path, out)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(name=st.text(max_size=400))
def test_safe_component_any_text(name: str) -> None:
    out = safe_component(name)
    assert out.isascii()
    assert "/" not in out
    assert out not in {".", ".."}
    assert 0 < len(out.encode()) <= MAX_COMPONENT_BYTES
    assert safe_component(out) == out  # idempotent: already safe names stay as they are


@pytest.mark.parametrize("name", ["remit-1.835", "ERA_2024-01-02.835", "a b.835", "é.835"])
def test_ordinary_remote_names_are_plain(name: str) -> None:
    assert is_plain_remote_name(name)


@pytest.mark.parametrize(
    "name", [n for n in HOSTILE if n not in {"-rf.835", "\u202etxt.exe"} and len(n) < 255]
)
def test_hostile_remote_names_are_not_plain(name: str) -> None:
    assert not is_plain_remote_name(name)


def test_inbox_hostile_names_are_moved_under_safe_names(gw: Gateway, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [
        "．．∕．．∕x.835",
        "a∕b.835",
        "y" * 250 + ".835",
        "x..y.835",
        "\u202etxt.835",
        "name\nnl.835",
    ]
    for i, name in enumerate(names):
        (inbox / name).write_bytes(f"ISA*{i}*".encode() * 40)
    old = time.time() - 60
    for p in inbox.iterdir():
        os.utime(p, (old, old))
    scan = scan_inbox(gw.db, gw.store, inbox, gw.settings.data_dir, settle_seconds=0)
    assert len(scan.accepted) == len(names)
    assert list(inbox.iterdir()) == []
    moved = [p for p in (gw.settings.data_dir / "inbox-accepted").rglob("*") if p.is_file()]
    assert len(moved) == len(names)
    for p in moved:
        assert p.name.isascii()
        assert len(p.name.encode()) <= MAX_COMPONENT_BYTES
        assert p.resolve().is_relative_to(gw.settings.data_dir.resolve())
    with gw.db.read() as s:  # the original names survive as data
        stored = set(s.execute(select(InboundFile.original_name)).scalars())
    assert stored == set(names)


def test_inbox_symlink_to_outside_is_not_read(gw: Gateway, tmp_path: Path) -> None:
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("do not ingest")
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "link.835").symlink_to(secret)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.835").write_text("nor this")
    (inbox / "sub" / "dirlink").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    scan = scan_inbox(gw.db, gw.store, inbox, gw.settings.data_dir, settle_seconds=0)
    assert scan.accepted == []
    assert scan.rejected == []
    assert secret.read_text() == "do not ingest"
    with gw.db.read() as s:
        assert s.execute(select(InboundFile.id)).first() is None


class _ListingOnly:
    """Fault injection: a server that lists names no OpenSSH server could produce."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def listdir_attr(self, _path: str) -> list[SFTPAttributes]:
        out = []
        for n in self.names:
            a = SFTPAttributes()
            a.filename, a.st_mode, a.st_size, a.st_mtime = n, stat.S_IFREG | 0o644, 10, 1
            out.append(a)
        return out


@pytest.mark.sftp
def test_sftp_listing_with_traversal_names_is_refused(sshd: object) -> None:
    from tests.integration.sshd import SshdServer

    assert isinstance(sshd, SshdServer)
    profile = sshd.profile(inbox_dir="/in", archive_dir="/arch", filename_pattern="*")
    hostile = [
        "../../etc/cron.d/x.835",
        "a/../../b.835",
        "/etc/passwd",
        "ok.835",
        "x\x00.835",
        "..∕y.835",
    ]
    listed = list_inbox(_ListingOnly(hostile), profile)
    assert sorted(listed) == ["ok.835"]


@pytest.mark.sftp
def test_sftp_lookalike_and_long_names_from_real_sshd(gw: Gateway, sshd: object) -> None:
    """Real sshd: look-alike, very long and newline names. Plain ones are pulled (name kept
    as data only), look-alike separators and control characters are refused, and nothing is
    written outside the raw store."""
    from gateway.intake.pull import poll_partner
    from gateway.partners import make_acceptor
    from tests.integration.sshd import SshdServer

    assert isinstance(sshd, SshdServer)
    base = sshd.make_tree("inbox", "archive")
    plain = ["．．_．．_etc.835", "z" * 240 + ".835", "-rf.835"]
    refused = ["a∕b.835", "evil\nname.835"]  # a separator look-alike, a control character
    for i, name in enumerate([*plain, *refused]):
        sshd.put(base / "inbox" / name, f"ISA*{i}*".encode() * 30)
    before = set(gw.settings.data_dir.rglob("*")) if gw.settings.data_dir.exists() else set()
    profile = sshd.profile(
        inbox_dir=str(base / "inbox"), archive_dir=str(base / "archive"), filename_pattern="*.835"
    )
    result = poll_partner(profile, make_acceptor(gw.db, gw.store, gw.settings))
    assert sorted(p.remote_name for p in result.pulled) == sorted(plain)
    with gw.db.read() as s:
        stored = set(s.execute(select(InboundFile.original_name)).scalars())
    assert stored == set(plain)
    assert sorted(os.listdir(base / "inbox")) == sorted(refused)  # left alone, not touched
    created = set(gw.settings.data_dir.rglob("*")) - before
    store_root = gw.store.root.resolve()
    assert all(p.resolve().is_relative_to(store_root) for p in created)
    assert not any(name.split(".")[0] in str(p) for p in created for name in plain)
