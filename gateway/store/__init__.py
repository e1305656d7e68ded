"""Raw store: the exact bytes of every accepted file, content-addressed by sha256."""

from __future__ import annotations

from gateway.errors import ConfigError
from gateway.settings import Settings
from gateway.store.base import (
    BlobCorruptError,
    BlobNotFoundError,
    FileTooLargeError,
    RawStore,
    StoredBlob,
)
from gateway.store.file import FileRawStore


def store_from_settings(settings: Settings) -> RawStore:
    """The configured raw store backend."""
    if settings.raw_store == "file":
        return FileRawStore(settings.data_dir / "raw")
    raise ConfigError(f"raw store backend {settings.raw_store!r} is not available")


__all__ = [
    "BlobCorruptError",
    "BlobNotFoundError",
    "FileRawStore",
    "FileTooLargeError",
    "RawStore",
    "StoredBlob",
    "store_from_settings",
]
