"""The file raw store: content addressing, durability recipe, verification on read."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from gateway.store import BlobCorruptError, BlobNotFoundError, FileRawStore, FileTooLargeError


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = FileRawStore(tmp_path / "raw")
    data = b"ISA*hello~" * 1000
    sha = hashlib.sha256(data).hexdigest()
    first = store.put(io.BytesIO(data))
    second = store.put(io.BytesIO(data))
    assert first.sha256 == second.sha256 == sha
    assert first.size == len(data)
    assert store.path_for(sha) == tmp_path / "raw" / sha[:2] / sha[2:4] / sha
    assert store.read(sha) == data
    assert store.open(sha).read() == data
    assert store.exists(sha)
    assert list((tmp_path / "raw" / ".tmp").iterdir()) == []


def test_corruption_is_detected_on_read(tmp_path: Path) -> None:
    store = FileRawStore(tmp_path / "raw")
    blob = store.put(io.BytesIO(b"original bytes"))
    path = store.path_for(blob.sha256)
    path.chmod(0o640)
    path.write_bytes(b"tampered bytes")
    with pytest.raises(BlobCorruptError):
        store.read(blob.sha256)
    with pytest.raises(BlobCorruptError), store.open(blob.sha256) as fh:
        fh.read()


def test_missing_and_malformed_keys(tmp_path: Path) -> None:
    store = FileRawStore(tmp_path / "raw")
    with pytest.raises(BlobNotFoundError):
        store.read("0" * 64)
    with pytest.raises(BlobNotFoundError):
        store.read("../../etc/passwd")
    assert not store.exists("f" * 64)


def test_size_cap_leaves_nothing_behind(tmp_path: Path) -> None:
    store = FileRawStore(tmp_path / "raw")
    with pytest.raises(FileTooLargeError):
        store.put(io.BytesIO(b"x" * 5000), max_bytes=4096)
    assert list((tmp_path / "raw" / ".tmp").iterdir()) == []
    assert [p for p in (tmp_path / "raw").iterdir() if p.name != ".tmp"] == []
