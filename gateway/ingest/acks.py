"""TA1/999 of an inbound file: rendered once, from the parse that processed it, and stored.

The worker renders a file's acknowledgments as it finishes the file (processed or
quarantined) from that processing parse's findings and envelopes (or its fatal error), so
serving them later (``GET /v1/files/{id}/acks``) is one row read. Only when that parse stopped
early for a reason of the loader's (a duplicate interchange, a remittance conflict) is the file
streamed once more, through the event reader, never into a whole-file object graph.

Deterministic for a given file: control numbers derive from the file id and the timestamps
from when the file was processed (else received), so the stored acks equal what rendering on
demand gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import parsers
from gateway.db.models import InboundFile
from gateway.db.types import tbl, utcnow
from gateway.ingest.tables import FileAck
from parsers.ack import Acknowledgments, acknowledge

MAX_CONTROL = 999_999_999
_LEAD = b"\xef\xbb\xbf \t\r\n"

Outcome = parsers.ParseResult | parsers.X12Error
#: a file's bytes, or an opener of a stream of them (``lambda: store.open(sha256)``)
Source = bytes | Callable[[], BinaryIO]
_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class RenderedAcks:
    """What ``file_acks`` holds for one file."""

    file_id: int
    processed_at: dt.datetime | None
    x12: bool
    acknowledgments: list[dict[str, Any]]


def first_control_number(file_id: int) -> int:
    """The first ISA13 of a file's acks (room left for the consecutive numbers they take)."""
    return (file_id * 10) % (MAX_CONTROL - 1000) + 1


def is_x12(data: bytes) -> bool:
    return data.lstrip(_LEAD).startswith(b"ISA")


@contextmanager
def opened(source: Source) -> Iterator[bytes | BinaryIO]:
    """The file's bytes, or a fresh stream of it (closed afterwards)."""
    if isinstance(source, bytes):
        yield source
        return
    with source() as stream:
        yield stream


def head(source: Source) -> bytes:
    """The first ``_HEAD`` bytes (enough to tell an X12 file by its leading ISA)."""
    with opened(source) as src:
        return src[:_HEAD] if isinstance(src, bytes) else src.read(_HEAD)


def from_reader(reader: parsers.X12Reader) -> parsers.ParseResult:
    """The outcome of a fully consumed event stream (findings only: acks need no models)."""
    return parsers.ParseResult(
        [], list(reader.findings.items), reader.segment_count, reader.envelopes
    )


def stream_outcome(data: Source, limits: parsers.Limits) -> Outcome:
    """Parse ``data`` as an event stream, keeping only its findings (flat memory)."""
    with opened(data) as src:
        reader = parsers.stream(src, limits)
        try:
            for _ in reader:
                pass
        except parsers.X12Error as exc:
            return exc
        return from_reader(reader)


def acknowledgments(
    data: Source, outcome: Outcome, *, control_number: int, now: dt.datetime
) -> Acknowledgments:
    """The TA1/999 of ``outcome``: from the envelopes its parse recorded, so the file is read
    again only to answer a fatal error (whose TA1 needs the header bytes)."""
    if isinstance(outcome, parsers.ParseResult) and outcome.envelopes is not None:
        return acknowledge(None, outcome, control_number=control_number, now=now)
    with opened(data) as src:
        return acknowledge(src, outcome, control_number=control_number, now=now)


def render(
    file_id: int,
    data: Source,
    outcome: Outcome | None,
    *,
    processed_at: dt.datetime | None,
    received_at: dt.datetime,
    limits: parsers.Limits,
) -> RenderedAcks:
    """The acks of ``data``; ``outcome`` is the processing parse's (None: stream it here)."""
    if not is_x12(head(data)):
        return RenderedAcks(file_id, processed_at, False, [])
    if outcome is None:
        outcome = stream_outcome(data, limits)
    acks = acknowledgments(
        data, outcome, control_number=first_control_number(file_id), now=processed_at or received_at
    )
    return RenderedAcks(
        file_id,
        processed_at,
        True,
        [
            {
                "kind": a.kind,
                "status": a.status,
                "note": a.note,
                "interchange_control_number": a.interchange_control_number,
                "group_control_number": a.group_control_number,
                "control_number": a.control_number,
                "content": a.content.decode("latin-1"),
            }
            for a in acks.all
        ],
    )


def save(session: Session, acks: RenderedAcks) -> None:
    """Store (or replace) a file's acks in the caller's transaction.

    An upsert, so that the worker and an on-demand render storing the same file at once
    never fail on the primary key (the later one wins; both are for a finished run).
    """
    values = {
        "file_id": acks.file_id,
        "processed_at": acks.processed_at,
        "x12": acks.x12,
        "acknowledgments": acks.acknowledgments,
        "rendered_at": utcnow(),
    }
    t = tbl(FileAck)
    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert(t) if dialect == "postgresql" else sqlite.insert(t)).values(values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["file_id"], set_={k: v for k, v in values.items() if k != "file_id"}
        )
    )


def load(session: Session, row: InboundFile) -> RenderedAcks | None:
    """The stored acks of ``row`` if they were rendered for its current processing run."""
    t = tbl(FileAck)
    hit = session.execute(
        select(t.c.processed_at, t.c.x12, t.c.acknowledgments).where(t.c.file_id == row.id)
    ).one_or_none()
    if hit is None or not _same(hit.processed_at, row.processed_at):
        return None
    return RenderedAcks(row.id, hit.processed_at, bool(hit.x12), list(hit.acknowledgments))


def _same(a: dt.datetime | None, b: dt.datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return _utc(a) == _utc(b)


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive (they were written in UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


__all__ = [
    "RenderedAcks",
    "acknowledgments",
    "first_control_number",
    "from_reader",
    "is_x12",
    "load",
    "render",
    "save",
    "stream_outcome",
]
