"""The database raw store compresses new blobs (zstd, on the writing host) and still reads the
ones it stored as they were; on PostgreSQL and on SQLite."""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from gateway.db.base import Database
from gateway.security.crypto import KeyRing
from gateway.store import BlobCorruptError
from gateway.store.encryption import MAGIC, EncryptingTransform
from gateway.store.postgres import PostgresRawStore
from gateway.store.tables import RawBlob, RawChunk
from tests.integration.phikit import fixture_files
from tests.integration.storekit import pg_database

CHUNK = 64 * 1024
X12 = b"".join(p.read_bytes() for p in fixture_files() if p.suffix in {".835", ".837"})
BIG = (X12 * (600_000 // len(X12) + 1))[:600_000]  # ten 64 KiB chunks of real X12 text


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "postgres":
        with pg_database(request.getfixturevalue("pg_server")) as url:
            yield url
    else:
        shutil.copy(sqlite_template, tmp_path / "gateway.db")
        yield f"sqlite:///{tmp_path / 'gateway.db'}"


def _at_rest(db: Database, sha: str) -> tuple[str | None, list[bytes]]:
    with db.read() as s:
        blob = s.execute(select(RawBlob.id, RawBlob.codec).where(RawBlob.sha256 == sha)).one()
        chunks = (
            s.execute(
                select(RawChunk.data).where(RawChunk.blob_id == blob.id).order_by(RawChunk.seq)
            )
            .scalars()
            .all()
        )
    return blob.codec, [bytes(c) for c in chunks]


def test_new_blobs_are_stored_compressed(db_url: str) -> None:
    store = PostgresRawStore(db_url, chunk_size=CHUNK)
    db = Database.from_url(db_url)
    try:
        big = store.put(io.BytesIO(BIG))
        small = store.put(io.BytesIO(X12[:2048]))
        for blob, data in ((big, BIG), (small, X12[:2048])):
            codec, chunks = _at_rest(db, blob.sha256)
            assert codec == "zstd"
            assert sum(map(len, chunks)) * 2 < len(data)
            assert store.read(blob.sha256) == data
            with store.open(blob.sha256) as fh:
                assert fh.read() == data
        assert len(_at_rest(db, big.sha256)[1]) == 10
        noise = os.urandom(200_000)  # does not compress: stored as is, no CPU spent on it
        blob = store.put(io.BytesIO(noise))
        assert _at_rest(db, blob.sha256) == (
            None,
            [noise[i : i + CHUNK] for i in range(0, len(noise), CHUNK)],
        )
        assert store.read(blob.sha256) == noise
    finally:
        store.dispose()
        db.dispose()


def test_blobs_stored_as_is_stay_readable_and_dedupe(db_url: str) -> None:
    # a blob of a gateway before compression and encryption (settings now always encrypt)
    plain = PostgresRawStore(db_url, chunk_size=CHUNK, compression="none")
    zstd = PostgresRawStore(db_url, chunk_size=CHUNK)
    db = Database.from_url(db_url)
    try:
        blob = plain.put(io.BytesIO(BIG))
        codec, chunks = _at_rest(db, blob.sha256)
        assert codec is None
        assert b"".join(chunks) == BIG  # what a blob written before compression looks like
        assert zstd.read(blob.sha256) == BIG
        assert zstd.put(io.BytesIO(BIG)) == blob  # same bytes: the stored blob is kept
        with db.read() as s:
            assert s.execute(select(func.count()).select_from(RawBlob)).scalar_one() == 1
        assert _at_rest(db, blob.sha256)[0] is None
    finally:
        plain.dispose()
        zstd.dispose()
        db.dispose()


def test_compressed_then_encrypted_and_rotated(db_url: str) -> None:
    k1 = base64.b64encode(os.urandom(32)).decode()
    k2 = base64.b64encode(os.urandom(32)).decode()
    old = PostgresRawStore(
        db_url, chunk_size=CHUNK, transform=EncryptingTransform(KeyRing.parse(f"k1:{k1}", "k1"))
    )
    new = PostgresRawStore(
        db_url,
        chunk_size=CHUNK,
        transform=EncryptingTransform(KeyRing.parse(f"k1:{k1},k2:{k2}", "k2")),
    )
    db = Database.from_url(db_url)
    try:
        blob = old.put(io.BytesIO(BIG))
        codec, chunks = _at_rest(db, blob.sha256)
        assert codec == "zstd"
        assert chunks[0].startswith(MAGIC)
        assert sum(map(len, chunks)) * 2 < len(BIG)  # compressed before it was encrypted
        assert new.reencrypt(blob.sha256)
        codec, rotated = _at_rest(db, blob.sha256)
        assert codec == "zstd"
        assert rotated[0].startswith(MAGIC)
        assert rotated != chunks
        assert new.read(blob.sha256) == BIG
    finally:
        old.dispose()
        new.dispose()
        db.dispose()


def test_a_damaged_compressed_chunk_is_a_corrupt_blob(db_url: str) -> None:
    store = PostgresRawStore(db_url, chunk_size=CHUNK)
    db = Database.from_url(db_url)
    try:
        blob = store.put(io.BytesIO(BIG))
        with db.write() as s:
            blob_id = s.execute(
                select(RawBlob.id).where(RawBlob.sha256 == blob.sha256)
            ).scalar_one()
            s.execute(
                update(RawChunk)
                .where(RawChunk.blob_id == blob_id, RawChunk.seq == 4)
                .values(data=b"\xff" * 300)
            )
        with pytest.raises(BlobCorruptError, match="damaged at stored chunk 4"):
            store.read(blob.sha256)
        with pytest.raises(BlobCorruptError), store.open(blob.sha256) as fh:
            fh.read()
        # a whole frame gone, and the count made to agree: still caught (by the sha256)
        other = store.put(io.BytesIO(BIG[::-1]))
        with db.write() as s:
            other_id = s.execute(
                select(RawBlob.id).where(RawBlob.sha256 == other.sha256)
            ).scalar_one()
            s.execute(delete(RawChunk).where(RawChunk.blob_id == other_id, RawChunk.seq == 9))
            s.execute(update(RawBlob).where(RawBlob.id == other_id).values(chunk_count=9))
        with pytest.raises(BlobCorruptError, match="does not match its sha256"):
            store.read(other.sha256)
    finally:
        store.dispose()
        db.dispose()


@pytest.mark.postgres
def test_a_reader_closed_early_gives_its_connection_back(pg_server: str) -> None:
    """Chunks are fetched ahead on a helper thread; closing mid-file stops it and returns the
    connection to the pool (else every abandoned download would hold one)."""
    with pg_database(pg_server) as url:
        store = PostgresRawStore(url, chunk_size=CHUNK)
        try:
            blob = store.put(io.BytesIO(BIG))
            pool = store.db.engine.pool
            for _ in range(3):
                with store.open(blob.sha256) as fh:
                    assert fh.read(1000) == BIG[:1000]
                assert pool.checkedout() == 0  # type: ignore[attr-defined]
            with store.open(blob.sha256) as fh:
                assert fh.read() == BIG
            assert pool.checkedout() == 0  # type: ignore[attr-defined]
        finally:
            store.dispose()
