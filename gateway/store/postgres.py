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
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO

from sqlalchemy import LargeBinary, delete, insert, literal, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway.crashpoints import crash_point
from gateway.db.base import Database
from gateway.db.models import tbl, utcnow
from gateway.errors import ConfigError
from gateway.logging import get_logger
from gateway.store.base import (
    CHUNK,
    IDENTITY,
    BlobCorruptError,
    BlobNotFoundError,
    BlobPrunedError,
    StoredBlob,
    StoreUnavailableError,
    StreamTransform,
    VerifyingReader,
    check_sha256,
    hashed_chunks,
    prefetched,
)
from gateway.store.compress import ChunkCodec, codec_for, codec_for_data, codec_from_setting
from gateway.store.tables import RawBlob, RawChunk

log = get_logger("gateway.store")
BLOBS = tbl(RawBlob)
CHUNKS = tbl(RawChunk)
_INSERT_CHUNK = insert(CHUNKS)


#: chunk INSERTs sent before waiting for their results (memory: this many chunks in flight)
PIPELINE_DEPTH = 4
_PG_INSERT_CHUNK = "INSERT INTO raw_chunks (blob_id, seq, data) VALUES (%s, %s, %b)"


def _pipelined_chunks(session: Session, blob_id: int, chunks: Iterator[bytes]) -> int:
    """Insert the chunks on the session's own connection in psycopg's pipeline mode; the count.

    One INSERT at a time leaves the server idle while the next chunk travels and the client
    idle while the server writes it. Sending ``PIPELINE_DEPTH`` before waiting overlaps the
    two: 50 MB puts 7-15 % faster here (the server's TOAST and WAL work is most of the time,
    about 3 ms of its CPU per MB). The bytes go in binary (``%b``). Same transaction as the
    caller's, so nothing is visible before it commits.
    """
    import psycopg

    conn = session.connection().connection.driver_connection
    assert isinstance(conn, psycopg.Connection)
    seq = 0
    try:
        with conn.pipeline() as pipe, conn.cursor() as cur:
            for data in chunks:
                cur.execute(_PG_INSERT_CHUNK, (blob_id, seq, data))
                seq += 1
                crash_point("raw_chunk")
                if seq % PIPELINE_DEPTH == 0:
                    pipe.sync()
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(f"raw store database: {type(exc).__name__}") from exc
    return seq


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
        digest = hashlib.sha256()
        size = [0]
        plain = hashed_chunks(
            stream, digest, max_bytes=max_bytes, size=size, chunk_size=self._chunk_size
        )
        first = next(plain, None)
        codec = codec_for_data(self._codec, first or b"")
        on_postgres = session.get_bind().dialect.name == "postgresql"
        if first is not None and len(first) < self._chunk_size and on_postgres:
            small = self._put_small(session, codec, first, digest.hexdigest())
            if small is not None:
                return small
        blob_id: int = session.execute(
            insert(BLOBS)
            .values(sha256=None, size=0, chunk_count=0, created_at=utcnow(), codec=codec.name)
            .returning(BLOBS.c.id)
        ).scalar_one()
        if first is not None and len(first) == self._chunk_size:
            # large: reading+hashing, compressing and sending overlap in threads (hashlib,
            # zstd and the socket release the GIL)
            plain = itertools.chain([first], prefetched(plain))
        elif first is not None:
            plain = iter([first])
        encoded = self._transform.encode(codec.encode(plain))
        seq = 0
        if on_postgres:
            seq = _pipelined_chunks(session, blob_id, encoded)
        else:
            for data in encoded:
                session.execute(_INSERT_CHUNK, {"blob_id": blob_id, "seq": seq, "data": data})
                seq += 1
                crash_point("raw_chunk")
        sha = digest.hexdigest()
        existing = self._find(session, sha)
        if existing is None:
            try:
                with session.begin_nested():
                    session.execute(
                        update(BLOBS)
                        .where(BLOBS.c.id == blob_id)
                        .values(sha256=sha, size=size[0], chunk_count=seq)
                    )
            except IntegrityError:  # the same bytes were committed concurrently
                existing = self._find(session, sha)
                if existing is None:
                    raise
        if existing is not None:
            if existing.pruned_at is not None:  # pruned bytes offered again: keep them again
                session.execute(
                    update(CHUNKS).where(CHUNKS.c.blob_id == blob_id).values(blob_id=existing.id)
                )
                session.execute(
                    update(BLOBS)
                    .where(BLOBS.c.id == existing.id)
                    .values(size=size[0], chunk_count=seq, pruned_at=None, codec=codec.name)
                )
            else:
                session.execute(delete(CHUNKS).where(CHUNKS.c.blob_id == blob_id))
            session.execute(delete(BLOBS).where(BLOBS.c.id == blob_id))
        return StoredBlob(sha, size[0])

    def _put_small(
        self, session: Session, codec: ChunkCodec, data: bytes, sha: str
    ) -> StoredBlob | None:
        """A one-chunk file in one statement (blob row and chunk), deduplicated by sha256.

        Small files are the commonest upload; the general path's NULL-then-update dance costs
        five round trips more. None: the transform made several chunks, use the general path.
        """
        encoded = list(self._transform.encode(iter([codec.encode_one(data)])))
        if len(encoded) != 1:
            return None
        blob = (
            postgresql.insert(BLOBS)
            .values(
                sha256=sha, size=len(data), chunk_count=1, created_at=utcnow(), codec=codec.name
            )
            .on_conflict_do_nothing(index_elements=[BLOBS.c.sha256])
            .returning(BLOBS.c.id)
            .cte("new_blob")
        )
        stored = session.execute(
            insert(CHUNKS)
            .from_select(
                ["blob_id", "seq", "data"],
                select(blob.c.id, literal(0), literal(encoded[0], LargeBinary)),
            )
            .returning(CHUNKS.c.blob_id)
        ).first()
        if stored is None:  # the same bytes are already stored (or pruned: store them again)
            existing = self._find(session, sha)
            if existing is not None and existing.pruned_at is not None:
                session.execute(delete(CHUNKS).where(CHUNKS.c.blob_id == existing.id))
                session.execute(insert(CHUNKS).values(blob_id=existing.id, seq=0, data=encoded[0]))
                session.execute(
                    update(BLOBS)
                    .where(BLOBS.c.id == existing.id)
                    .values(size=len(data), chunk_count=1, pruned_at=None, codec=codec.name)
                )
        crash_point("raw_chunk")
        return StoredBlob(sha, len(data))

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

    @staticmethod
    def _find(session: Session, sha: str) -> Any:
        return session.execute(
            select(BLOBS.c.id, BLOBS.c.pruned_at, BLOBS.c.codec)
            .where(BLOBS.c.sha256 == sha)
            .with_for_update()
        ).one_or_none()

    # -- reading --------------------------------------------------------------------------

    def _blob(self, sha256: str) -> Any:
        check_sha256(sha256)
        try:
            with self.db.read() as s:
                row = s.execute(
                    select(BLOBS.c.id, BLOBS.c.chunk_count, BLOBS.c.pruned_at, BLOBS.c.codec).where(
                        BLOBS.c.sha256 == sha256
                    )
                ).one_or_none()
        except OperationalError as exc:
            raise StoreUnavailableError(f"raw store database: {type(exc.orig).__name__}") from exc
        if row is None:
            raise BlobNotFoundError(f"raw file {sha256[:12]} is not in the store")
        if row.pruned_at is not None:
            raise BlobPrunedError(
                f"raw file {sha256[:12]} was pruned on "
                f"{row.pruned_at:%Y-%m-%d} under the retention policy"
            )
        return row

    def _chunks(self, sha256: str, blob_id: int, count: int) -> Generator[bytes, None, None]:
        """SQLite: the blob's chunks in order, in ONE read transaction (a WAL snapshot), so a
        concurrent ``reencrypt`` swapping the chunks is seen entirely or not at all."""
        stmt = select(CHUNKS.c.data).where(CHUNKS.c.blob_id == blob_id)
        with self.db.read() as s:
            for seq in range(count):
                data = s.execute(stmt.where(CHUNKS.c.seq == seq)).scalar_one_or_none()
                if data is None:
                    raise BlobCorruptError(f"raw file {sha256[:12]} lost chunk {seq} of {count}")
                yield bytes(data)

    def _pg_chunks(self, sha256: str, meta: dict[str, Any]) -> Generator[bytes, None, None]:
        """PostgreSQL: look the blob up and stream its chunks on ONE pooled connection.

        A binary-format cursor returns bytea as raw bytes (about 3x faster than hex text);
        one query per chunk keeps memory flat. The generator runs to its first ``yield``
        before it is handed out, so a missing blob raises at ``open`` (and ``meta`` holds the
        blob's ``codec`` and chunk ``count`` by then); the connection goes back to the pool
        when the stream ends or is closed.
        """
        import psycopg

        conn = self.db.engine.raw_connection()
        try:
            cur = conn.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
            conn.rollback()  # a fresh transaction whose first statement sets a snapshot:
            # every chunk is read from ONE snapshot, so a concurrent ``reencrypt`` swapping the
            # chunks is seen entirely or not at all
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute(
                "SELECT id, chunk_count, pruned_at, codec FROM raw_blobs WHERE sha256 = %s",
                (sha256,),
            )
            row = cur.fetchone()
            if row is None:
                raise BlobNotFoundError(f"raw file {sha256[:12]} is not in the store")
            blob_id, count, pruned_at, meta["codec"] = row
            meta["count"] = count
            if pruned_at is not None:
                raise BlobPrunedError(
                    f"raw file {sha256[:12]} was pruned on "
                    f"{pruned_at:%Y-%m-%d} under the retention policy"
                )
            yield b""
            for seq in range(count):
                cur.execute(
                    "SELECT data FROM raw_chunks WHERE blob_id = %s AND seq = %s", (blob_id, seq)
                )
                chunk = cur.fetchone()
                if chunk is None:
                    raise BlobCorruptError(f"raw file {sha256[:12]} lost chunk {seq} of {count}")
                yield bytes(chunk[0])
            conn.rollback()
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"raw store database: {type(exc).__name__}") from exc
        finally:
            conn.close()

    def _stream(self, sha256: str) -> tuple[Callable[[], None], Iterator[bytes]]:
        """The plaintext chunks, and what releases the connection behind them."""
        if self.db.is_sqlite:
            row = self._blob(sha256)
            raw = self._chunks(sha256, row.id, row.chunk_count)
            return raw.close, codec_for(row.codec).decode(self._transform.decode(raw))
        check_sha256(sha256)
        meta: dict[str, Any] = {}
        raw = self._pg_chunks(sha256, meta)
        next(raw)  # lookup now: not-found and pruned raise here
        plain = codec_for(meta["codec"]).decode(self._transform.decode(raw))
        if meta["count"] < 2:
            return raw.close, plain
        # fetching, decrypting and decompressing the next chunks overlap with the reader's
        # hashing of this one (psycopg, AES and zstd release the GIL)
        ahead = prefetched(plain)

        def close() -> None:
            ahead.close()  # stops and joins the helper first: then ``raw`` is idle
            raw.close()

        return close, ahead

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
        the blob's row in place of the old ones. Readers read one snapshot (see ``_chunks``), so
        they see the old or the new chunks, never a mix.
        """
        needs = getattr(self._transform, "needs_rotation", None)
        row = self._blob(sha256)
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
                s.execute(_INSERT_CHUNK, {"blob_id": scratch, "seq": seq, "data": data})
                seq += 1
            if digest.hexdigest() != sha256:  # pragma: no cover - the reader raises first
                raise BlobCorruptError(f"raw file {sha256[:12]} does not match its sha256")
            locked = self._find(s, sha256)
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
        row = self._find(session, sha256)
        if row is None or row.pruned_at is not None:
            return False
        session.execute(delete(CHUNKS).where(CHUNKS.c.blob_id == row.id))
        session.execute(
            update(BLOBS).where(BLOBS.c.id == row.id).values(pruned_at=utcnow(), chunk_count=0)
        )
        return True
