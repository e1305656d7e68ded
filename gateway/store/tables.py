"""Tables of gateway.store (registered through gateway.registry).

``raw_blobs``/``raw_chunks`` hold the ``postgres`` backend's bytes: one blob row per distinct
sha256 and its bytes in 1 MiB chunks (``bytea`` on PostgreSQL, ``BLOB`` on SQLite). A blob row
is inserted with ``sha256`` NULL while its chunks stream in and gets its sha256 just before the
transaction commits, so a half-written blob is never visible to anyone (it only ever exists
inside an uncommitted transaction). Its ``codec`` says how its chunks are compressed. Pruned
blobs keep their row (hash, size, ``pruned_at``) and lose their chunks.

``raw_prunes`` records every pruned file for every backend (hash kept, bytes gone), and
``raw_migrations`` records which raw files ``gateway store migrate`` has already copied to
which target, so a killed migration resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.base import Base
from gateway.db.types import utcnow

#: SQLite only auto-increments an INTEGER PRIMARY KEY, so the BigInteger id is INTEGER there
BLOB_ID = BigInteger().with_variant(Integer(), "sqlite")


class RawBlob(Base):
    """One distinct raw file stored in the database (``postgres`` backend)."""

    __tablename__ = "raw_blobs"

    id: Mapped[int] = mapped_column(BLOB_ID, primary_key=True)
    #: NULL only while the blob is being written, inside its (uncommitted) transaction
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    pruned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: how the chunks are compressed (``zstd``); NULL: stored as is (see gateway.store.compress)
    codec: Mapped[str | None] = mapped_column(String(16))


class RawChunk(Base):
    """One chunk of a blob's bytes (after the store's stream transform)."""

    __tablename__ = "raw_chunks"

    blob_id: Mapped[int] = mapped_column(
        BLOB_ID, ForeignKey("raw_blobs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RawPrune(Base):
    """A raw file whose bytes were removed under the retention policy (any backend)."""

    __tablename__ = "raw_prunes"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    pruned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    location: Mapped[str] = mapped_column(String(512))
    actor: Mapped[str] = mapped_column(String(128))


class RawMigration(Base):
    """Progress of ``gateway store migrate``: this raw file is verified at this target."""

    __tablename__ = "raw_migrations"

    target: Mapped[str] = mapped_column(String(512), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    copied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = ["RawBlob", "RawChunk", "RawMigration", "RawPrune"]
