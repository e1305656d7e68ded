"""Putting files on the outbound queue: the bytes into the outbound blob store
(content-addressed, fsynced), then one ``queued`` row per partner, remote path and content.

Adding is idempotent: the same content for the same remote path of a partner is one row, so
a retried caller (an acknowledgment owed twice, a batch delivered again) queues nothing new.
Split from ``gateway.outbound.queue``, which claims and delivers the rows; this side needs no
SFTP, so queueing does not import the transport.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.base import Database
from gateway.db.types import tbl, utcnow
from gateway.errors import InputError
from gateway.logging import get_logger
from gateway.outbound.receipts import insert_ignore
from gateway.outbound.tables import OutboundFile, OutboundState
from gateway.store.file import FileRawStore
from mappings.partners import PartnerProfile

log = get_logger("gateway.outbound")


def outbound_store(data_dir: Path) -> FileRawStore:
    """Where queued files' bytes live until (and after) delivery."""
    return FileRawStore(data_dir / "outbound")


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    partner_id: str
    remote_path: str
    sha256: str
    size: int
    state: str
    new: bool


def _safe_name(name: str, source: str) -> str:
    if not name or "/" in name or name.startswith(".") or "\x00" in name or len(name) > 255:
        raise InputError(f"{name!r} cannot be a remote file name", location={"path": source})
    return name


def enqueue(
    db: Database,
    store: FileRawStore,
    profile: PartnerProfile,
    stream: BinaryIO,
    *,
    remote_name: str,
    remote_dir: str | None = None,
    kind: str = "file",
    source_file_id: int | None = None,
) -> Queued:
    """Queue ``stream`` for delivery to ``remote_dir`` (default: the outbound folder)."""
    folder = remote_dir or profile.outbound_dir
    if folder is None:
        raise InputError(
            f"partner {profile.id} has no outbound_dir to deliver to",
            location={"partner": profile.id},
        )
    name = _safe_name(remote_name, remote_name)
    blob = store.put(stream)
    with db.write() as s:
        return _add(s, profile.id, folder, name, blob.sha256, blob.size, kind, source_file_id)


def enqueue_path(
    db: Database,
    store: FileRawStore,
    profile: PartnerProfile,
    path: Path,
    *,
    remote_name: str | None = None,
    remote_dir: str | None = None,
) -> Queued:
    """Queue a local file (``gateway deliver``); the queue keeps its own copy."""
    name = _safe_name(remote_name or path.name, str(path))
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}", location={"path": str(path)}
        ) from None
    with fh:
        return enqueue(db, store, profile, fh, remote_name=name, remote_dir=remote_dir)


def add_to_queue(
    session: Session,
    partner_id: str,
    remote_dir: str,
    remote_name: str,
    sha256: str,
    size: int,
    kind: str,
    source_file_id: int | None,
) -> Queued:
    """Insert a queue row in the caller's transaction (the bytes are already in the store)."""
    return _add(
        session,
        partner_id,
        remote_dir,
        _safe_name(remote_name, remote_name),
        sha256,
        size,
        kind,
        source_file_id,
    )


def _add(
    s: Session,
    partner_id: str,
    folder: str,
    name: str,
    sha256: str,
    size: int,
    kind: str,
    source_file_id: int | None,
) -> Queued:
    now = utcnow()
    new_id = insert_ignore(
        s,
        tbl(OutboundFile),
        {
            "partner_id": partner_id,
            "kind": kind[:16],
            "remote_dir": folder,
            "remote_name": name,
            "sha256": sha256,
            "size": size,
            "source_file_id": source_file_id,
            "state": OutboundState.QUEUED.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
        ["partner_id", "sha256", "remote_dir", "remote_name"],
    )
    row = s.execute(
        select(OutboundFile.id, OutboundFile.state).where(
            OutboundFile.partner_id == partner_id,
            OutboundFile.sha256 == sha256,
            OutboundFile.remote_dir == folder,
            OutboundFile.remote_name == name,
        )
    ).one()
    log.info(
        "outbound_queued",
        partner=partner_id,
        outbound_id=row.id,
        kind=kind,
        size=size,
        new=new_id is not None,
    )
    return Queued(
        row.id,
        partner_id,
        f"{folder.rstrip('/')}/{name}",
        sha256,
        size,
        row.state,
        new_id is not None,
    )


def enqueue_bytes(
    db: Database,
    store: FileRawStore,
    profile: PartnerProfile,
    data: bytes,
    *,
    remote_name: str,
    remote_dir: str | None = None,
    kind: str = "file",
) -> Queued:
    return enqueue(
        db,
        store,
        profile,
        io.BytesIO(data),
        remote_name=remote_name,
        remote_dir=remote_dir,
        kind=kind,
    )


__all__ = [
    "Queued",
    "add_to_queue",
    "enqueue",
    "enqueue_bytes",
    "enqueue_path",
    "outbound_store",
]
