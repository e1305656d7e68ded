"""Compression of raw files kept in the database (``postgres`` backend), on the client side.

In the database every stored byte is written twice (WAL, then the table), replicated and
backed up, and the one server that all API and worker hosts share spends about 3 ms of CPU per
MB on it. X12 text compresses about 4x with zstd level 1, so the hosts that scale out compress
and the shared database stores a quarter of the bytes (bench/README.md).

Format (codec ``zstd``): every stored chunk, after the stream transform's ``decode``
(decryption), is one complete zstd frame of one plaintext chunk. Independent frames let a
large file's chunks be compressed on two threads at once (zstd releases the GIL) and keep
memory at a few chunks. The codec is recorded on the blob row: rows written before it existed
(codec NULL) are read as stored, and so are files whose first bytes do not compress.
Compression comes before encryption, which would leave nothing to compress. Integrity is the
sha256 the readers verify; a frame that does not decode is reported as a corrupt blob.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

import zstandard

from gateway.errors import ConfigError
from gateway.store.base import BlobCorruptError

#: zstd level 1: 4.1x on generated 835s at ~400 MB/s a thread here; level 3: 4.0x at ~300
ZSTD_LEVEL = 1
#: threads compressing one large file, and chunks each may have in hand
THREADS = 2
IN_FLIGHT = THREADS + 1
CODECS = ("none", "zstd")


class ChunkCodec(Protocol):
    """A per-blob encoding of the plaintext chunks; ``name`` is what the blob row records."""

    name: str | None

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]: ...

    def encode_one(self, data: bytes) -> bytes: ...

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]: ...


class StoredAsIs:
    """No compression (``GATEWAY_RAW_STORE_COMPRESSION=none``, and every pre-codec blob)."""

    name: str | None = None

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        yield from chunks

    def encode_one(self, data: bytes) -> bytes:
        return data

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        yield from chunks


class ZstdCodec:
    """One zstd frame per chunk; a large file's chunks compressed on ``THREADS`` threads."""

    name: str | None = "zstd"

    def __init__(self, level: int = ZSTD_LEVEL) -> None:
        self._level = level
        self._local = threading.local()  # a compression context is not thread-safe

    def encode_one(self, data: bytes) -> bytes:
        cctx: zstandard.ZstdCompressor | None = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = self._local.cctx = zstandard.ZstdCompressor(level=self._level)
        out: bytes = cctx.compress(data)
        return out

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The frames in order; at most ``IN_FLIGHT`` chunks are being compressed at once."""
        it = iter(chunks)
        first = next(it, None)
        if first is None:
            return
        second = next(it, None)
        if second is None:  # one chunk: no threads
            yield self.encode_one(first)
            return
        pending: deque[Future[bytes]] = deque()
        with ThreadPoolExecutor(THREADS, thread_name_prefix="raw-zstd") as pool:
            try:
                for chunk in itertools.chain((first, second), it):
                    pending.append(pool.submit(self.encode_one, chunk))
                    if len(pending) >= IN_FLIGHT:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for job in pending:
                    job.cancel()

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The plaintext of the frames, however the stored bytes are cut into chunks."""
        dctx = zstandard.ZstdDecompressor()
        frame = None
        index = -1
        for index, chunk in enumerate(chunks):
            data = chunk
            while data:
                if frame is None:
                    frame = dctx.decompressobj()
                try:
                    out = frame.decompress(data)
                except zstandard.ZstdError as exc:
                    raise BlobCorruptError(
                        f"compressed raw file is damaged at stored chunk {index}: {exc}"
                    ) from None
                if out:
                    yield out
                if not frame.eof:
                    break
                data, frame = frame.unused_data, None
        if frame is not None:
            raise BlobCorruptError(
                f"compressed raw file is truncated (stored chunk {index} ends inside a frame)"
            )


STORED_AS_IS = StoredAsIs()
ZSTD = ZstdCodec()


#: a file whose first 128 KiB do not shrink by a tenth (zipped, encrypted, images) is stored
#: as is: compressing it would cost the writer's CPU for nothing
SAMPLE = 128 * 1024
MIN_SAVING = 0.10


def codec_for_data(codec: ChunkCodec, head: bytes) -> ChunkCodec:
    """``codec``, or no compression when the file's first bytes show it does not compress."""
    if codec.name is None or not head:
        return codec
    sample = head[:SAMPLE]
    if len(codec.encode_one(sample)) > (1 - MIN_SAVING) * len(sample):
        return STORED_AS_IS
    return codec


def codec_for(name: str | None) -> ChunkCodec:
    """The codec a blob row names (None: stored as is)."""
    if name is None or name == "none":
        return STORED_AS_IS
    if name == "zstd":
        return ZSTD
    raise BlobCorruptError(f"raw file is stored with an unknown codec {name!r}")


def codec_from_setting(name: str) -> ChunkCodec:
    """The codec ``GATEWAY_RAW_STORE_COMPRESSION`` selects for new blobs."""
    if name not in CODECS:
        raise ConfigError(
            f"raw store compression {name!r} is not one of {', '.join(CODECS)}",
            code="raw_store_compression_unknown",
        )
    return codec_for(name)


__all__ = [
    "CODECS",
    "STORED_AS_IS",
    "ZSTD",
    "ChunkCodec",
    "ZstdCodec",
    "codec_for",
    "codec_for_data",
    "codec_from_setting",
]
