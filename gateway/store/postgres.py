"""The ``postgres`` raw store: raw bytes in the registry database, in 1 MiB chunks.

Meant for PostgreSQL (``bytea`` chunks, stored out of line without pglz); the same
tables work on SQLite (``BLOB``), which the tests use. Every API and worker process on every
host that can reach the database can read every raw file: that is the point of this backend.

Writing: ``put_in`` inserts a blob row with ``sha256`` NULL, streams the chunks into
``raw_chunks`` (hashing, compressing and encrypting on the way; nothing but a few chunks is
held), then sets the sha256. All of that happens in the caller's transaction, the one that
also inserts the registry row (see ``gateway.intake.service.accept_stream``): until it commits,
nobody sees any of it, and a crash or kill mid-upload rolls everything back. Identical bytes
are stored once: if the sha256 already exists (or a concurrent transaction commits it first,
caught on the unique index inside a savepoint) the new chunks are dropped again.

Reading: one short query per chunk, so a 200 MB file is never held whole, and the sha256 is
verified at the end of the stream (``CorruptBlobError``).

Compression: new blobs are zstd-compressed on this host before they travel
(``GATEWAY_RAW_STORE_COMPRESSION``, gateway/store/compress.py); the blob row records the codec,
so blobs written without it stay readable.

This module is the store object (engine per process, the registry-database check, verified
reads, key rotation, pruning); the write path is ``gateway.store.postgres_write`` and the
chunk streaming ``gateway.store.postgres_read``.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.db.base import Database
from gateway.db.types import utcnow
from gateway.errors import ConfigError
from gateway.logging import get_logger
from gateway.store.base import (
    CHUNK,
    IDENTITY,
    BlobCorruptError,
    StoredBlob,
    StoreUnavailableError,
    StreamTransform,
    VerifyingReader,
    check_sha256,
    hashed_chunks,
)
from gateway.store.compress import ChunkCodec, codec_for, codec_from_setting
from gateway.store.postgres_read import blob_row, plain_stream
from gateway.store.postgres_write import BLOBS, CHUNKS, INSERT_CHUNK, find_blob, write_blob

log = get_logger("gateway.store")


class PostgresRawStore:
    """Raw files as chunked blobs in the registry database."""

    def __init__(
        self,
        url: str,
        *,
        transform: StreamTransform = IDENTITY,
        chunk_size: int = CHUNK,
        compression: str = "zstd",
    ) -> None:
        self._url = make_url(url)
        self._transform = transform
        self._codec: ChunkCodec = codec_from_setting(compression)
        self._chunk_size = chunk_size
        self._db: Database | None = None
        self._pid = 0

    @property
    def db(self) -> Database:
        """This process's engine (rebuilt after a fork: pooled connections are per process)."""
        if self._db is None or self._pid != os.getpid():
            if self._db is not None:
                self._db.engine.dispose(close=False)
            self._db = Database.from_url(self._url.render_as_string(hide_password=False))
            self._pid = os.getpid()
        return self._db

    @property
    def location(self) -> str:
        return f"db:{self._url.render_as_string(hide_password=True)}"

    def dispose(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    # -- writing --------------------------------------------------------------------------

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        """Store the bytes in a transaction of their own."""
        try:
            with self.db.write() as s:
                return self.put_in(s, stream, max_bytes=max_bytes)
        except OperationalError as exc:
            raise StoreUnavailableError(f"raw store database: {type(exc.orig).__name__}") from exc

    def put_in(
        self, session: Session, stream: BinaryIO, *, max_bytes: int | None = None
    ) -> StoredBlob:
        """Store the bytes inside ``session``'s transaction (they commit with it)."""
        self._check_bind(session)
        return write_blob(
            session,
            stream,
            transform=self._transform,
            codec=self._codec,
            chunk_size=self._chunk_size,
            max_bytes=max_bytes,
        )

    def _check_bind(self, session: Session) -> None:
        """Refuse a session on another database: the bytes would land in the wrong place."""
        bound = session.get_bind().engine.url
        if (bound.drivername, bound.host, bound.port, bound.database) != (
            self._url.drivername,
            self._url.host,
            self._url.port,
            self._url.database,
        ):
            raise ConfigError(
                "the postgres raw store must live in the registry database",
                code="raw_store_elsewhere",
            )

    # -- reading --------------------------------------------------------------------------

    def _stream(self, sha256: str) -> tuple[Callable[[], None], Iterator[bytes]]:
        return plain_stream(self.db, sha256, self._transform)

    def open(self, sha256: str) -> BinaryIO:
        close, chunks = self._stream(sha256)
        return io.BufferedReader(VerifyingReader(chunks, sha256, on_close=close), CHUNK)

    def read(self, sha256: str) -> bytes:
        parts = list(self._stream(sha256)[1])
        digest = hashlib.sha256()
        for p in parts:
            digest.update(p)
        if digest.hexdigest() != sha256:
            raise BlobCorruptError(f"raw file {sha256[:12]} does not match its sha256")
        return b"".join(parts)

    def exists(self, sha256: str) -> bool:
        check_sha256(sha256)
        with self.db.read() as s:
            return (
                s.execute(
                    select(BLOBS.c.id).where(BLOBS.c.sha256 == sha256, BLOBS.c.pruned_at.is_(None))
                ).first()
                is not None
            )

    def reencrypt(self, sha256: str) -> bool:
        """Rewrite the blob under the active data key unless it already is; True if rewritten.

        The blob keeps its codec (compressed or not): rotation changes the key, nothing else.

        One transaction: the new chunks are written under a scratch blob row, then swapped onto
        the blob's row in place of the old ones. Readers read one snapshot
        (``gateway.store.postgres_read``), so they see the old or the new chunks, never a mix.
        """
        needs = getattr(self._transform, "needs_rotation", None)
        row = blob_row(self.db, sha256)
        if needs is None or row.chunk_count == 0:
            return False
        with self.db.read() as s:
            head = s.execute(
                select(CHUNKS.c.data).where(CHUNKS.c.blob_id == row.id, CHUNKS.c.seq == 0)
            ).scalar_one_or_none()
        if head is None or not needs(bytes(head[:64])):
            return False
        digest = hashlib.sha256()
        with self.open(sha256) as src, self.db.write() as s:
            scratch: int = s.execute(
                insert(BLOBS)
                .values(sha256=None, size=0, chunk_count=0, created_at=utcnow())
                .returning(BLOBS.c.id)
            ).scalar_one()
            seq = 0
            plain = hashed_chunks(
                src, digest, max_bytes=None, size=[0], chunk_size=self._chunk_size
            )
            for data in self._transform.encode(codec_for(row.codec).encode(plain)):
                s.execute(INSERT_CHUNK, {"blob_id": scratch, "seq": seq, "data": data})
                seq += 1
            if digest.hexdigest() != sha256:  # pragma: no cover - the reader raises first
                raise BlobCorruptError(f"raw file {sha256[:12]} does not match its sha256")
            locked = find_blob(s, sha256)
            if locked is None or locked.pruned_at is not None or locked.codec != row.codec:
                # pruned (or pruned and stored again) meanwhile: drop ours
                s.execute(delete(CHUNKS).where(CHUNKS.c.blob_id == scratch))
                s.execute(delete(BLOBS).where(BLOBS.c.id == scratch))
                return False
            s.execute(delete(CHUNKS).where(CHUNKS.c.blob_id == locked.id))
            s.execute(update(CHUNKS).where(CHUNKS.c.blob_id == scratch).values(blob_id=locked.id))
            s.execute(update(BLOBS).where(BLOBS.c.id == locked.id).values(chunk_count=seq))
            s.execute(delete(BLOBS).where(BLOBS.c.id == scratch))
        return True

    # -- retention ------------------------------------------------------------------------

    def delete(self, sha256: str) -> bool:
        with self.db.write() as s:
            return self.delete_in(s, sha256)

    def delete_in(self, session: Session, sha256: str) -> bool:
        """Drop the chunks, keep the blob row (hash, size) marked pruned."""
        check_sha256(sha256)
        self._check_bind(session)
        row = find_blob(session, sha256)
        if row is None or row.pruned_at is not None:
            return False
        session.execute(delete(CHUNKS).where(CHUNKS.c.blob_id == row.id))
        session.execute(
            update(BLOBS).where(BLOBS.c.id == row.id).values(pruned_at=utcnow(), chunk_count=0)
        )
        return True
