"""Raw store: the exact bytes of every accepted file, content-addressed by sha256."""

from __future__ import annotations

from gateway.errors import ConfigError
from gateway.logging import get_logger
from gateway.settings import Settings
from gateway.store.base import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobPrunedError,
    CorruptBlobError,
    FileTooLargeError,
    ManagedRawStore,
    RawStore,
    StoredBlob,
    StoreUnavailableError,
    StreamTransform,
    TransactionalRawStore,
)
from gateway.store.file import FileRawStore

BACKENDS = ("file", "postgres", "s3")


_warned_unencrypted = False


def raw_transform(settings: Settings) -> StreamTransform:
    """Encryption at rest from ``GATEWAY_DATA_KEYS`` (always able to read encrypted data and
    legacy plaintext; writes plaintext only when no key is configured, with a warning)."""
    global _warned_unencrypted
    from gateway.security.crypto import KeyRing
    from gateway.store.encryption import EncryptingTransform

    ring = KeyRing.from_settings(settings)
    if not ring.enabled and not _warned_unencrypted:
        _warned_unencrypted = True
        get_logger("gateway.store").warning(
            "raw_store_unencrypted",
            backend=settings.raw_store,
            hint="set GATEWAY_DATA_KEYS to encrypt raw files and PHI columns at rest",
        )
    return EncryptingTransform(ring)


def store_from_settings(settings: Settings, backend: str | None = None) -> ManagedRawStore:
    """The configured raw store backend (or ``backend``, for ``gateway store migrate``)."""
    name = backend or settings.raw_store
    transform = raw_transform(settings)
    if name == "file":
        return FileRawStore(settings.data_dir / "raw", transform=transform)
    if name == "postgres":
        from gateway.store.postgres import PostgresRawStore

        return PostgresRawStore(
            settings.resolved_database_url,
            transform=transform,
            compression=settings.raw_store_compression,
        )
    if name == "s3":
        from gateway.store.s3 import S3RawStore

        secret = settings.s3_secret_access_key
        return S3RawStore(
            bucket=settings.s3_bucket or "",
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            transform=transform,
        )
    raise ConfigError(
        f"raw store backend {name!r} is not one of {', '.join(BACKENDS)}", code="raw_store_unknown"
    )


__all__ = [
    "BACKENDS",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobPrunedError",
    "CorruptBlobError",
    "FileRawStore",
    "FileTooLargeError",
    "ManagedRawStore",
    "RawStore",
    "StoreUnavailableError",
    "StoredBlob",
    "StreamTransform",
    "TransactionalRawStore",
    "store_from_settings",
]
