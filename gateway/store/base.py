"""The raw store port: every accepted file's exact bytes, addressed by their sha256.

Backends (``file``, ``postgres``, ``s3``) implement ``RawStore``. ``put`` returns only after the
bytes are durable, because the intake acknowledges a file to its source (deletes it from the
inbox or the SFTP server) as soon as ``put`` and the registry commit have returned.

A backend whose bytes live in the registry database (``postgres``) also implements
``TransactionalRawStore``: intake then writes the bytes and the registry row in ONE transaction,
so a crash mid-upload leaves neither. Readers verify the sha256 as they stream and raise
``CorruptBlobError`` at the end of a stream whose bytes no longer match their address.

``StreamTransform`` is the seam for encryption at rest (a later issue): the database and object
store backends pass the plaintext chunks through ``encode`` after hashing and through
``decode`` before verifying, so the address stays the sha256 of the plaintext.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from gateway.errors import InputError, NotFoundError, PermanentError, TransientError

#: bytes read per chunk while hashing and copying (and the ``postgres`` chunk size)
CHUNK = 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    size: int


class BlobNotFoundError(NotFoundError):
    """No raw file is stored under this sha256."""

    code = "raw_not_found"


class BlobPrunedError(BlobNotFoundError):
    """The raw bytes were pruned under the retention policy; only their hash is kept."""

    code = "raw_pruned"


class BlobCorruptError(PermanentError):
    """The stored raw bytes no longer match their sha256."""

    code = "raw_corrupt"


#: the name the raw-store issue uses; one class, two names
CorruptBlobError = BlobCorruptError


class FileTooLargeError(InputError):
    """The file is larger than the configured maximum."""

    code = "file_too_large"


class StoreUnavailableError(TransientError):
    """The raw store backend could not be reached; retry later."""

    code = "raw_store_unavailable"


def check_sha256(sha256: str) -> str:
    """``sha256`` if it is a lowercase hex sha256, else ``BlobNotFoundError`` (never a path)."""
    if not _SHA256.match(sha256):
        raise BlobNotFoundError(f"{sha256[:70]!r} is not a sha256")
    return sha256


@runtime_checkable
class RawStore(Protocol):
    """Content-addressed, durable storage of raw inbound files."""

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Store the stream's bytes durably; identical bytes are stored once."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A binary stream of the stored bytes; raises ``BlobCorruptError`` at EOF on mismatch."""
        ...

    def read(self, sha256: str) -> bytes:
        """All stored bytes, verified against their sha256."""
        ...

    def exists(self, sha256: str) -> bool: ...


@runtime_checkable
class ManagedRawStore(RawStore, Protocol):
    """What ``gateway store migrate|prune|verify`` needs on top of ``RawStore``."""

    #: a stable name of where the bytes live (``file:/srv/raw``, ``s3://bucket/prefix``)
    @property
    def location(self) -> str: ...

    def delete(self, sha256: str) -> bool:
        """Remove the bytes (retention pruning); False when they were not there."""
        ...

    def dispose(self) -> None:
        """Close pooled connections and clients (a command that made the store ends)."""
        ...


@runtime_checkable
class TransactionalRawStore(RawStore, Protocol):
    """A store that can write inside the caller's database transaction."""

    def put_in(
        self, session: Session, stream: BinaryIO, *, max_bytes: int | None = None
    ) -> StoredBlob:
        """Like ``put``, but the bytes commit (or roll back) with ``session``."""
        ...

    def delete_in(self, session: Session, sha256: str) -> bool:
        """Like ``delete``, inside ``session``'s transaction."""
        ...


class StreamTransform(Protocol):
    """Encoding applied to stored chunks (identity today; encryption at rest later)."""

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]: ...

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]: ...


class IdentityTransform:
    """Stores plaintext."""

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        yield from chunks

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        yield from chunks


IDENTITY = IdentityTransform()


def hashed_chunks(
    stream: BinaryIO,
    digest: hashlib._Hash,
    *,
    max_bytes: int | None,
    size: list[int],
    chunk_size: int = CHUNK,
) -> Iterator[bytes]:
    """Chunks of ``stream`` of ``chunk_size`` bytes, hashed and size-capped on the way through.

    ``size[0]`` holds the running byte count (a one-item list, so the caller sees it).
    """
    while True:
        chunk = _read_full(stream, chunk_size)
        if not chunk:
            return
        size[0] += len(chunk)
        if max_bytes is not None and size[0] > max_bytes:
            raise FileTooLargeError(f"file is larger than the maximum of {max_bytes} bytes")
        digest.update(chunk)
        yield chunk


def prefetched(chunks: Iterator[bytes], depth: int = 2) -> Generator[bytes, None, None]:
    """``chunks`` produced by a helper thread, at most ``depth`` ahead (memory stays bounded).

    Reading and hashing the source overlaps with the backend's write of the previous chunk
    (hashlib and socket I/O release the GIL), which is worth about 1.5x on large files.
    Exceptions of the producer (``FileTooLargeError``, a dropped source) are re-raised here.
    """
    box: queue.Queue[tuple[bytes | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        box.put((chunk, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((None, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            box.put((None, exc))

    worker = threading.Thread(target=produce, name="raw-store-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            chunk, exc = box.get()
            if exc is not None:
                raise exc
            if chunk is None:
                return
            yield chunk
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                box.get_nowait()
        worker.join()


def _read_full(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes; short only at EOF (sockets and pipes may return less per read)."""
    first = stream.read(n)
    if not first or len(first) == n:
        return first
    parts = [first]
    got = len(first)
    while got < n:
        more = stream.read(n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class VerifyingReader(io.RawIOBase):
    """A readable stream over stored chunks that checks their sha256 at the end.

    Holds at most one chunk; ``on_close`` releases the backend's resources (a connection, an
    HTTP response).
    """

    def __init__(
        self, chunks: Iterator[bytes], sha256: str, on_close: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self._chunks = chunks
        self._sha = sha256
        self._hash = hashlib.sha256()
        self._buf = memoryview(b"")
        self._done = False
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            if self._done:
                return 0
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
                if self._hash.hexdigest() != self._sha:
                    raise BlobCorruptError(f"raw file {self._sha[:12]} does not match its sha256")
                return 0
            self._hash.update(chunk)
            self._buf = memoryview(chunk)
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()
