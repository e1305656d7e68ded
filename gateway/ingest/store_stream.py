"""The raw store as the parser's input stream, its read failures told apart from the loader's.

Processing parses a stored X12 file from the store's stream (memory flat at any size). A store
error raised while the parser reads is wrapped as ``StoreReadError``, so that the ingest service
quarantines it under the store's own code rather than as a parse or load failure; ``drain``
reads a refused stream to its end so that the store still checks the blob's sha256.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from gateway.errors import GatewayError
from gateway.store.base import RawStore


class StoreReadError(Exception):
    """The raw store failed while the parser read from it (told apart from loader errors)."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message)
        self.error = error


class _StoreStream(io.RawIOBase):
    """``store.open(sha256)`` for the parser: store errors surface as ``StoreReadError``."""

    def __init__(self, store: RawStore, sha256: str) -> None:
        self._inner = store.open(sha256)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            chunk = self._inner.read(len(buffer))
        except GatewayError as exc:
            raise StoreReadError(exc) from exc
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_stream(store: RawStore, sha256: str) -> BinaryIO:
    """The stored blob as a buffered stream (1 MiB reads) whose store errors are wrapped."""
    return io.BufferedReader(_StoreStream(store, sha256), 1 << 20)


def drain(src: bytes | BinaryIO) -> None:
    """Read a stream to its end, so the store checks the sha256 of what the parser refused.

    The hash of a streamed blob is checked at its end; an X12 error found earlier would
    otherwise hide that the stored bytes are corrupt (a replay cannot fix those).
    """
    if not isinstance(src, bytes):
        while src.read(1 << 20):
            pass
