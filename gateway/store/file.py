"""The ``file`` raw store: ``<root>/ab/cd/<sha256>`` on the local filesystem.

Durability recipe: write to a unique temp name under ``<root>/.tmp`` (same filesystem), fsync
the file, rename it to its final name, fsync the directories that changed. Only then does
``put`` return. A crash before the rename leaves only a temp file (swept by ``sweep_temp``).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from gateway.security.fsmodes import DIR_MODE, private_dir
from gateway.store.base import (
    CHUNK,
    IDENTITY,
    BlobCorruptError,
    BlobNotFoundError,
    StoredBlob,
    StreamTransform,
    VerifyingReader,
    hashed_chunks,
)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: stored files are read-only, for their owner only (they hold PHI); folders 0700
BLOB_MODE = 0o400
WRITEBACK_STEP = 8 << 20  # start writing a large file to disk every this many bytes


def _writeback_starter() -> Callable[[int, int, int], object] | None:
    """Linux ``sync_file_range(fd, offset, nbytes, SYNC_FILE_RANGE_WRITE)``, or None.

    Starting the disk write of what a large put has written so far (without waiting for it)
    lets the device work while the rest still arrives, so the final fsync, which the
    durability recipe needs anyway, finds little left to do. Python's ``os`` has no binding.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    fn.restype = ctypes.c_int
    write = 2  # SYNC_FILE_RANGE_WRITE

    def start(fd: int, offset: int, nbytes: int) -> object:
        return fn(fd, offset, nbytes, write)

    return start


_start_writeback = _writeback_starter() if sys.platform.startswith("linux") else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _VerifyingReader(io.RawIOBase):
    """Reads a stored file and checks its sha256 when the end is reached."""

    def __init__(self, path: Path, sha256: str) -> None:
        self._fh = path.open("rb")
        self._hash = hashlib.sha256()
        self._sha = sha256
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._fh.readinto(buffer)
        if n:
            self._hash.update(memoryview(buffer)[:n])
        elif not self._checked:
            self._checked = True
            if self._hash.hexdigest() != self._sha:
                raise BlobCorruptError(f"raw file {self._sha[:12]} does not match its sha256")
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


class FileRawStore:
    """Content-addressed raw store on a local (or mounted) filesystem."""

    def __init__(self, root: Path, *, transform: StreamTransform = IDENTITY) -> None:
        self.root = root
        self._tmp = root / ".tmp"
        #: applied after hashing (encryption at rest); the address stays the plaintext sha256
        self.transform = transform

    @property
    def location(self) -> str:
        return f"file:{self.root.resolve()}"

    def dispose(self) -> None:
        """Nothing to close: every read and write opens and closes its own file."""

    @property
    def staging_dir(self) -> Path:
        """Where ``put`` writes before the rename (``/readyz`` probes it)."""
        return self._tmp

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise BlobNotFoundError(f"{sha256[:70]!r} is not a sha256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        private_dir(self._tmp)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                size_box = [0]
                plain = hashed_chunks(stream, digest, max_bytes=max_bytes, size=size_box)
                written = started = 0
                for data in self.transform.encode(plain):
                    out.write(data)
                    written += len(data)
                    if written - started >= WRITEBACK_STEP and _start_writeback is not None:
                        out.flush()
                        _start_writeback(out.fileno(), started, written - started)
                        started = written
                size = size_box[0]
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.exists():
                tmp.unlink()
                return StoredBlob(sha, size)
            self._make_dirs(final.parent)
            os.chmod(tmp, BLOB_MODE)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return StoredBlob(sha, size)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _make_dirs(self, directory: Path) -> None:
        """Create ``ab/cd`` and fsync each parent whose entries changed."""
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            d.mkdir(mode=DIR_MODE, exist_ok=True)
            os.chmod(d, DIR_MODE)
            _fsync_dir(d.parent)

    def open(self, sha256: str) -> BinaryIO:
        path = self.path_for(sha256)
        if not path.is_file():
            raise BlobNotFoundError(f"raw file {sha256[:12]} is not in the store")
        if self.transform is not IDENTITY:
            fh = path.open("rb")
            chunks = self.transform.decode(iter(lambda: fh.read(CHUNK), b""))
            return io.BufferedReader(VerifyingReader(chunks, sha256, on_close=fh.close), CHUNK)
        return io.BufferedReader(_VerifyingReader(path, sha256), CHUNK)

    def read(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        if self.transform is not IDENTITY:
            if not path.is_file():
                raise BlobNotFoundError(f"raw file {sha256[:12]} is not in the store")
            with self.open(sha256) as fh:
                return fh.read()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(f"raw file {sha256[:12]} is not in the store") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobCorruptError(f"raw file {sha256[:12]} does not match its sha256")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def reencrypt(self, sha256: str) -> bool:
        """Rewrite the file under the active data key unless it already is; True if rewritten.

        The new ciphertext is written and fsynced under a temp name and renamed over the old
        file, so readers see the old or the new file whole (an open reader keeps the old one).
        """
        needs = getattr(self.transform, "needs_rotation", None)
        path = self.path_for(sha256)
        try:
            with path.open("rb") as fh:
                head = fh.read(64)
        except FileNotFoundError:
            raise BlobNotFoundError(f"raw file {sha256[:12]} is not in the store") from None
        if needs is None or not needs(head):
            return False
        private_dir(self._tmp)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, self.open(sha256) as src:
                for data in self.transform.encode(
                    hashed_chunks(src, digest, max_bytes=None, size=[0])
                ):
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:  # pragma: no cover - the reader raises first
                raise BlobCorruptError(f"raw file {sha256[:12]} does not match its sha256")
            os.chmod(tmp, BLOB_MODE)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    def delete(self, sha256: str) -> bool:
        """Remove the bytes (retention pruning); False when they were not there."""
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def sweep_temp(self, older_than_seconds: float = 3600.0) -> int:
        """Remove temp files left by a crash mid-``put`` (old enough not to be in use)."""
        if not self._tmp.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        n = 0
        for p in self._tmp.glob("put-*"):
            with contextlib.suppress(FileNotFoundError):
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    n += 1
        return n
