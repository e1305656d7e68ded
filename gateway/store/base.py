"""The raw store port: every accepted file's exact bytes, addressed by their sha256.

Backends (``file`` here; PostgreSQL and S3 later) implement ``RawStore``. ``put`` returns only
after the bytes are durable, because the intake acknowledges a file to its source (deletes it
from the inbox or the SFTP server) as soon as ``put`` and the registry commit have returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from gateway.errors import InputError, NotFoundError, PermanentError

#: bytes read per chunk while hashing and copying
CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    size: int


class BlobNotFoundError(NotFoundError):
    """No raw file is stored under this sha256."""

    code = "raw_not_found"


class BlobCorruptError(PermanentError):
    """The stored raw bytes no longer match their sha256."""

    code = "raw_corrupt"


class FileTooLargeError(InputError):
    """The file is larger than the configured maximum."""

    code = "file_too_large"


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

    def exists(self, sha256: str) -> bool:
        ...
