"""Accepting files: store the raw bytes durably, then register them (sha256 is the key).

The order matters: a registry row never points at bytes that are not on disk, and the caller
acknowledges the file to its source (deletes it from the inbox or SFTP server) only after
``accept_*`` returned. Identical bytes are not a new row: they are reported as a duplicate of
the existing file id. The one exception is an ``owner``'s file (a ledger uploaded by a
provider-scoped key, which names no provider in its bytes): its identity is its sha256 *and*
its owner, so each provider's copy is a record of its own that tells nothing of the others.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from gateway import audit
from gateway.db.base import Database
from gateway.db.models import FileEvent, InboundFile
from gateway.db.types import tbl, utcnow
from gateway.logging import get_logger
from gateway.progress import Progress, no_progress
from gateway.store.base import RawStore, TransactionalRawStore
from schemas.states import FileState

log = get_logger("gateway.intake")

SessionSource = Database | sessionmaker[Session]


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """What happened to an offered file. ``duplicate``: same bytes already registered."""

    file_id: int
    sha256: str
    size: int
    duplicate: bool
    state: str


@contextmanager
def write_session(source: SessionSource) -> Iterator[Session]:
    """A committed-on-success transaction from a ``Database`` or a plain session factory."""
    if isinstance(source, Database):
        with source.write() as s:
            yield s
    else:
        with source.begin() as s:
            yield s


_FILES = tbl(InboundFile)
#: built once (statement construction is a good part of an upload's CPU): a new file's row, or
#: nothing when its sha256 is registered already
_NEW_FILE = {
    "postgresql": postgresql.insert(_FILES)
    .on_conflict_do_nothing(index_elements=["identity"])
    .returning(_FILES.c.id),
    "sqlite": sqlite.insert(_FILES)
    .on_conflict_do_nothing(index_elements=["identity"])
    .returning(_FILES.c.id),
}
_NEW_EVENT = insert(tbl(FileEvent))


def identity(sha256: str, owner: str | None = None) -> str:
    """The registry's dedupe key of stored bytes: their sha256, or one per ``owner``."""
    if owner is None:
        return sha256
    return hashlib.sha256(f"{owner}\x1f{sha256}".encode()).hexdigest()


def register(
    session: Session,
    *,
    sha256: str,
    size: int,
    source: str,
    original_name: str,
    actor: str,
    owner: str | None = None,
) -> AcceptResult:
    """Insert the registry row for stored bytes, or find the existing one (same identity)."""
    key = identity(sha256, owner)
    values = {
        "identity": key,
        "sha256": sha256,
        "size": size,
        "source": source[:64],
        "original_name": original_name[:512],
        "kind": "unknown",
        "state": FileState.RECEIVED.value,
        "attempts": 0,
        "claim_count": 0,
        "allow_duplicate_interchange": False,
        "received_at": utcnow(),
    }
    new_id = session.execute(
        _NEW_FILE[session.get_bind().dialect.name], values
    ).scalar_one_or_none()
    if new_id is not None:
        session.execute(
            _NEW_EVENT,
            {
                "file_id": new_id,
                "from_state": None,
                "to_state": FileState.RECEIVED.value,
                "at": utcnow(),
                "actor": actor,
                "reason": f"accepted from {source}",
            },
        )
        audit.record(
            session,
            actor=actor,
            action="accept",
            outcome="received",
            file_id=new_id,
            details={"source": source, "size": size, "sha256": sha256},
        )
        return AcceptResult(new_id, sha256, size, False, FileState.RECEIVED.value)
    row = session.execute(
        select(InboundFile.id, InboundFile.state).where(InboundFile.identity == key)
    ).one()
    audit.record(
        session,
        actor=actor,
        action="accept",
        outcome="duplicate",
        file_id=row.id,
        details={"source": source, "size": size},
    )
    return AcceptResult(row.id, sha256, size, True, row.state)


def accept_stream(
    db: SessionSource,
    store: RawStore,
    stream: BinaryIO,
    *,
    source: str,
    original_name: str,
    actor: str | None = None,
    max_bytes: int | None = None,
) -> AcceptResult:
    """Store ``stream`` durably, then register it. Raises ``FileTooLargeError`` over the cap.

    A store that lives in the registry database (``TransactionalRawStore``) writes the bytes
    in the same transaction as the registry row: both commit, or neither exists.
    """
    if isinstance(store, TransactionalRawStore):
        with write_session(db) as s:
            blob = store.put_in(s, stream, max_bytes=max_bytes)
            result = register(
                s,
                sha256=blob.sha256,
                size=blob.size,
                source=source,
                original_name=original_name,
                actor=audit.current_actor(actor),
            )
    else:
        blob = store.put(stream, max_bytes=max_bytes)
        with write_session(db) as s:
            result = register(
                s,
                sha256=blob.sha256,
                size=blob.size,
                source=source,
                original_name=original_name,
                actor=audit.current_actor(actor),
            )
    log.info(
        "file_accepted",
        file_id=result.file_id,
        sha256=blob.sha256[:12],
        size=blob.size,
        source=source,
        duplicate=result.duplicate,
    )
    return result


def accept_path(
    db: SessionSource,
    store: RawStore,
    path: Path,
    *,
    source: str,
    original_name: str,
    actor: str | None = None,
    max_bytes: int | None = None,
    progress: Progress = no_progress,
) -> AcceptResult:
    """Accept a file on disk (the local inbox, ``gateway ingest``, a downloaded SFTP file).

    ``progress`` hears the bytes read so far out of the file's size.
    """
    with Path(path).open("rb") as fh:
        stream: BinaryIO = fh
        if progress is not no_progress:
            stream = cast(BinaryIO, _Counting(fh, progress, os.fstat(fh.fileno()).st_size))
        return accept_stream(
            db,
            store,
            stream,
            source=source,
            original_name=original_name,
            actor=actor,
            max_bytes=max_bytes,
        )


class _Counting:
    """A read-only stream that reports how many bytes were read through it."""

    def __init__(self, inner: BinaryIO, progress: Progress, total: int) -> None:
        self._inner, self._progress, self._total, self._done = inner, progress, total, 0

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self._done += len(data)
        self._progress(self._done, self._total)
        return data


def accept_bytes(
    db: SessionSource,
    store: RawStore,
    data: bytes,
    *,
    source: str,
    original_name: str,
    actor: str | None = None,
    max_bytes: int | None = None,
) -> AcceptResult:
    """Accept bytes already in memory (HTTP uploads, tests)."""
    return accept_stream(
        db,
        store,
        io.BytesIO(data),
        source=source,
        original_name=original_name,
        actor=actor,
        max_bytes=max_bytes,
    )
