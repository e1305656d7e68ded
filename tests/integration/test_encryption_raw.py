"""Encryption at rest of raw files, on every raw-store backend (file, postgres on SQLite and
PostgreSQL, s3 on moto): no plaintext at rest, dedupe by plaintext sha256, streaming, rotation,
fail-closed on a missing or wrong key, tamper detection."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import delete, func, insert, select, update

from gateway.db.base import Database
from gateway.security.crypto import DataKeyMismatchError, DataKeyMissingError, KeyRing
from gateway.settings import get_settings
from gateway.store import store_from_settings
from gateway.store.base import BlobCorruptError, ManagedRawStore
from gateway.store.encryption import MAGIC, EncryptingTransform, RawDecryptionError, header_key_id
from gateway.store.file import FileRawStore
from gateway.store.postgres import PostgresRawStore
from gateway.store.s3 import S3RawStore
from gateway.store.tables import RawBlob, RawChunk
from tests.integration.phikit import X12_MARKER, fixture_files, leaks
from tests.integration.storekit import moto_endpoint, new_bucket, s3_overrides

__all__ = ["moto_endpoint"]

K1 = base64.b64encode(b"1" * 16 + os.urandom(16)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()
RING1 = KeyRing.parse(f"k1:{K1}", "k1")
RING12 = KeyRing.parse(f"k1:{K1},k2:{K2}", "k2")
BACKENDS = ["file", "db-sqlite", pytest.param("db-postgres", marks=pytest.mark.postgres), "s3"]


@dataclass
class Rig:
    """One backend: a store factory for a key ring, and a dump of the bytes at rest."""

    name: str
    make: Callable[[KeyRing], ManagedRawStore]
    at_rest: Callable[[], list[bytes]]
    tamper: Callable[[str, Callable[[list[bytes]], list[bytes]]], None]


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    name: str = request.param
    if name == "file":
        root = tmp_path / "raw"

        def file_dump() -> list[bytes]:
            return [p.read_bytes() for p in root.rglob("*") if p.is_file()]

        def file_tamper(sha: str, edit: Callable[[list[bytes]], list[bytes]]) -> None:
            path = FileRawStore(root).path_for(sha)
            path.chmod(0o640)
            path.write_bytes(b"".join(edit([path.read_bytes()])))

        yield Rig(
            name,
            lambda ring: FileRawStore(root, transform=EncryptingTransform(ring)),
            file_dump,
            file_tamper,
        )
        return
    if name.startswith("db-"):
        url = _db_url(request, tmp_path, name)
        db = Database.from_url(url)
        stores: list[PostgresRawStore] = []

        def make_db(ring: KeyRing) -> ManagedRawStore:
            store = PostgresRawStore(url, transform=EncryptingTransform(ring), chunk_size=64 * 1024)
            stores.append(store)
            return store

        def db_dump() -> list[bytes]:
            with db.read() as s:
                return [bytes(d) for d in s.execute(select(RawChunk.data)).scalars()]

        def db_tamper(sha: str, edit: Callable[[list[bytes]], list[bytes]]) -> None:
            with db.write() as s:
                blob_id = s.execute(select(RawBlob.id).where(RawBlob.sha256 == sha)).scalar_one()
                rows = s.execute(
                    select(RawChunk.seq, RawChunk.data)
                    .where(RawChunk.blob_id == blob_id)
                    .order_by(RawChunk.seq)
                ).all()
                new = edit([bytes(r.data) for r in rows])
                s.execute(delete(RawChunk).where(RawChunk.blob_id == blob_id))
                for seq, data in enumerate(new):
                    s.execute(insert(RawChunk).values(blob_id=blob_id, seq=seq, data=data))
                s.execute(update(RawBlob).where(RawBlob.id == blob_id).values(chunk_count=len(new)))

        try:
            yield Rig(name, make_db, db_dump, db_tamper)
        finally:
            for st in stores:
                st.dispose()
            db.dispose()
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = new_bucket(endpoint)
    base = cast(
        S3RawStore,
        store_from_settings(get_settings(data_dir=tmp_path, **s3_overrides(endpoint, bucket))),
    )

    def make_s3(ring: KeyRing) -> ManagedRawStore:
        settings = get_settings(data_dir=tmp_path, **s3_overrides(endpoint, bucket))
        st = cast(S3RawStore, store_from_settings(settings))
        st._transform = EncryptingTransform(ring)
        return st

    def s3_keys() -> list[str]:
        pages = base.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [o["Key"] for p in pages for o in p.get("Contents", [])]

    def s3_dump() -> list[bytes]:
        return [base.client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in s3_keys()]

    def s3_tamper(sha: str, edit: Callable[[list[bytes]], list[bytes]]) -> None:
        key = base.key_for(sha)
        data = base.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        base.client.put_object(Bucket=bucket, Key=key, Body=b"".join(edit([data])))

    yield Rig(name, make_s3, s3_dump, s3_tamper)


def _db_url(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    import shutil
    import uuid

    from sqlalchemy.engine import make_url

    from tests.integration.conftest import TEMPLATE_DB, _admin

    if name == "db-sqlite":
        path = tmp_path / "gateway.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    base = request.getfixturevalue("pg_server")
    db = f"t_{uuid.uuid4().hex[:12]}"
    _admin(base, f"CREATE DATABASE {db} TEMPLATE {TEMPLATE_DB}")
    request.addfinalizer(lambda: _admin(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
    return make_url(base).set(database=db).render_as_string(False)


def _put_fixtures(store: ManagedRawStore) -> dict[str, bytes]:
    stored: dict[str, bytes] = {}
    for path in fixture_files():
        data = path.read_bytes()
        blob = store.put(io.BytesIO(data))
        assert blob.sha256 == hashlib.sha256(data).hexdigest()  # address = plaintext sha256
        stored[blob.sha256] = data
    return stored


def test_no_plaintext_at_rest_and_dedupe(rig: Rig) -> None:
    store = rig.make(RING1)
    stored = _put_fixtures(store)
    again = _put_fixtures(store)  # identical bytes: same addresses, nothing new at rest
    assert again.keys() == stored.keys()
    blobs = [b for b in rig.at_rest() if b]
    assert len(blobs) >= len(stored)
    dump = b"\n".join(blobs)
    assert X12_MARKER not in dump
    assert leaks(dump) == []
    assert b"account_id" not in dump  # the ledger CSV header
    for sha, data in stored.items():
        assert store.read(sha) == data
        with store.open(sha) as fh:
            assert fh.read() == data
    if rig.name != "db-sqlite" and rig.name != "db-postgres":
        assert all(b.startswith(MAGIC) for b in blobs)
        assert {header_key_id(b) for b in blobs} == {"k1"}


def test_large_file_streams_in_records(rig: Rig) -> None:
    """12 MiB: many records (64 KiB db chunks, 1 MiB file chunks, two 8 MiB s3 parts)."""
    store = rig.make(RING1)
    data = (X12_MARKER + os.urandom(1024)) * (12 * 1024)
    blob = store.put(io.BytesIO(data))
    h = hashlib.sha256()
    with store.open(blob.sha256) as fh:
        while part := fh.read(1024 * 1024):
            h.update(part)
    assert h.hexdigest() == blob.sha256 == hashlib.sha256(data).hexdigest()
    assert X12_MARKER not in b"".join(rig.at_rest())


def test_rotation_keeps_everything_readable(rig: Rig) -> None:
    old = rig.make(RING1)
    legacy = rig.make(KeyRing())  # written before keys were configured: plaintext
    stored = _put_fixtures(old)
    plain = b"ISA*00*legacy plaintext file " + os.urandom(8)
    stored[legacy.put(io.BytesIO(plain)).sha256] = plain
    both = rig.make(RING12)
    assert all(both.read(sha) == data for sha, data in stored.items())  # readable mid-way
    done = [both.reencrypt(sha) for sha in stored]  # type: ignore[attr-defined]
    assert all(done)
    assert not any(both.reencrypt(sha) for sha in stored)  # type: ignore[attr-defined]
    dump = rig.at_rest()
    heads = {header_key_id(b) for b in dump if b.startswith(MAGIC)}
    assert heads == {"k2"}
    assert X12_MARKER not in b"".join(dump)
    only_new = rig.make(KeyRing.parse(f"k2:{K2}", None))  # old key removed from the ring
    assert all(only_new.read(sha) == data for sha, data in stored.items())


def test_missing_or_wrong_key_fails_closed(rig: Rig) -> None:
    sha = rig.make(RING1).put(io.BytesIO(b"ISA*00*secret bytes")).sha256
    with pytest.raises(DataKeyMissingError) as missing:
        rig.make(KeyRing.parse(f"k2:{K2}", None)).read(sha)
    assert "'k1'" in missing.value.message
    assert K1 not in missing.value.message
    with pytest.raises(DataKeyMissingError):
        rig.make(KeyRing()).read(sha)  # encryption switched off: still refuses, names k1
    with pytest.raises(DataKeyMismatchError) as wrong:
        rig.make(KeyRing.parse(f"k1:{K2}", None)).read(sha)
    assert "'k1'" in wrong.value.message
    assert K2 not in wrong.value.message


def _flip(parts: list[bytes]) -> list[bytes]:
    whole = bytearray(b"".join(parts))
    whole[-20] ^= 0x01
    return [bytes(whole)]


def test_tampered_ciphertext_is_detected(rig: Rig) -> None:
    store = rig.make(RING1)
    data = os.urandom(300 * 1024)
    sha = store.put(io.BytesIO(data)).sha256
    rig.tamper(sha, _flip)
    with pytest.raises(RawDecryptionError):
        store.read(sha)


def test_truncated_or_reordered_records_are_detected(tmp_path: Path) -> None:
    store = FileRawStore(tmp_path / "raw", transform=EncryptingTransform(RING1))
    data = os.urandom(3 * 1024 * 1024 + 5)
    sha = store.put(io.BytesIO(data)).sha256
    path = store.path_for(sha)
    blob = path.read_bytes()
    t = EncryptingTransform(RING1)
    records = list(t.encode([b"a" * 10, b"b" * 10, b"c" * 10]))
    for bad in (records[0] + records[2] + records[1], records[0] + records[1]):
        with pytest.raises(BlobCorruptError):
            b"".join(t.decode([bad]))
    path.chmod(0o640)
    path.write_bytes(blob[:-100])
    with pytest.raises(BlobCorruptError):
        store.read(sha)
    # a whole file swapped in under another address fails the plaintext sha256 check
    other = store.put(io.BytesIO(b"other"))
    path.write_bytes(store.path_for(other.sha256).read_bytes())
    with pytest.raises(BlobCorruptError):
        store.read(sha)


def test_db_chunks_hold_no_plaintext_count(tmp_path: Path, sqlite_template: Path) -> None:
    """Sanity: the db rig really wrote chunks (so an empty dump cannot pass the leak check)."""
    import shutil

    path = tmp_path / "g.db"
    shutil.copy(sqlite_template, path)
    store = PostgresRawStore(f"sqlite:///{path}", transform=EncryptingTransform(RING1))
    store.put(io.BytesIO(b"ISA*00*x" * 1000))
    db = Database.from_url(f"sqlite:///{path}")
    with db.read() as s:
        first = s.execute(select(RawChunk.data).where(RawChunk.seq == 0)).scalar_one()
        assert s.execute(select(func.count()).select_from(RawChunk)).scalar_one() == 1
    assert bytes(first).startswith(MAGIC)
    store.dispose()
    db.dispose()
