"""Acknowledgments (TA1/999) for files pulled from partners that ask for them.

1. While pulling, ``AckRequests`` notes (partner, file) in ``ack_requests`` once the file is
   durable and before the remote archive move; the row is unique, so a file pulled again after a
   crash is acknowledged once.
2. ``render_due`` waits until the ingest pipeline has finished the file (processed or
   quarantined), renders its acknowledgments with ``parsers.ack.acknowledge`` from the stored raw
   bytes (their findings through the event stream, no object graph), and in ONE transaction
   takes the partner's control numbers, queues the files for the partner's ``ack_dir`` and marks
   the request rendered. A crash before the commit leaves nothing taken and nothing queued; the
   next round renders the same numbers again.
3. The outbound queue delivers them like any other file (temp name, rename, receipt).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.types import tbl, utcnow
from gateway.errors import GatewayError
from gateway.ingest.acks import acknowledgments, stream_outcome
from gateway.logging import get_logger
from gateway.outbound.enqueue import add_to_queue
from gateway.outbound.receipts import insert_ignore
from gateway.outbound.tables import AckControlNumber, AckRequest
from gateway.store.base import RawStore
from gateway.store.file import FileRawStore
from mappings.partners import PartnerProfile
from parsers.x12.lexer import Limits
from schemas.states import FileState

log = get_logger("gateway.acks")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Accepted(Protocol):
    """What the hook needs of an accepted file (the intake poller passes its result)."""

    @property
    def file_id(self) -> int: ...


class AckRequests:
    """The poller's ``on_accepted`` hook: note the acknowledgments a pulled file is owed."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, profile: PartnerProfile, accepted: Accepted, remote_name: str) -> None:
        if not profile.send_acks:
            return
        with self.db.write() as s:
            insert_ignore(
                s,
                tbl(AckRequest),
                {
                    "partner_id": profile.id,
                    "file_id": accepted.file_id,
                    "original_name": remote_name[:512],
                    "state": "owed",
                    "ack_count": 0,
                    "created_at": utcnow(),
                },
                ["partner_id", "file_id"],
            )


def ack_name(original_name: str, kind: str, control_number: int) -> str:
    """``<original>.<control number>.<999|ta1>``: unique per partner, safe as a remote name."""
    stem = _UNSAFE.sub("_", original_name).lstrip(".")[:180] or "file"
    return f"{stem}.{control_number:09d}.{kind.lower()}"


def _next_number(session: Session, partner_id: str) -> int:
    """The partner's next control number, row-locked until the caller's commit."""
    table = tbl(AckControlNumber)
    values = {"partner_id": partner_id, "next_number": 1, "updated_at": utcnow()}
    stmt = (
        (
            postgresql.insert(table)
            if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert(table)
        )
        .values(values)
        .on_conflict_do_nothing(index_elements=["partner_id"])
    )
    session.execute(stmt)
    value = session.execute(
        select(AckControlNumber.next_number)
        .where(AckControlNumber.partner_id == partner_id)
        .with_for_update()
    ).scalar_one()
    return int(value)


@dataclass(frozen=True, slots=True)
class RenderedAck:
    partner_id: str
    file_id: int
    kind: str
    control_number: int
    outbound_id: int


def render_due(
    db: Database,
    raw: RawStore,
    out_store: FileRawStore,
    profiles: Mapping[str, PartnerProfile],
    *,
    limits: Limits,
    now: dt.datetime | None = None,
) -> list[RenderedAck]:
    """Render and queue the acknowledgments of every finished file still owed them
    (``limits``: the parser limits the file was processed with, ``x12_limits(settings)``)."""
    done_states = (FileState.PROCESSED.value, FileState.FAILED.value)
    with db.read() as s:
        due = s.execute(
            select(
                AckRequest.id,
                AckRequest.partner_id,
                AckRequest.file_id,
                AckRequest.original_name,
                InboundFile.sha256,
            )
            .join(InboundFile, InboundFile.id == AckRequest.file_id)
            .where(
                AckRequest.state == "owed",
                InboundFile.state.in_(done_states),
                AckRequest.partner_id.in_(list(profiles)),
            )
            .order_by(AckRequest.id)
        ).all()
    rendered: list[RenderedAck] = []
    for req in due:
        profile = profiles[req.partner_id]
        try:
            rendered.extend(
                _render_one(
                    db,
                    raw,
                    out_store,
                    profile,
                    req.id,
                    req.file_id,
                    req.original_name,
                    req.sha256,
                    now or utcnow(),
                    limits,
                )
            )
        except GatewayError as exc:
            log.error(
                "ack_render_failed",
                partner=profile.id,
                file_id=req.file_id,
                code=exc.code,
                reason=exc.message,
            )
    return rendered


def _render_one(
    db: Database,
    raw: RawStore,
    out_store: FileRawStore,
    profile: PartnerProfile,
    request_id: int,
    file_id: int,
    original_name: str,
    sha256: str,
    now: dt.datetime,
    limits: Limits,
) -> list[RenderedAck]:
    assert profile.ack_dir is not None

    def data() -> BinaryIO:
        return raw.open(sha256)

    # the acks need the parse's findings and envelopes only: one pass of the event stream
    parsed = stream_outcome(data, limits)
    out: list[RenderedAck] = []
    with db.write() as s:
        still_owed = (
            s.execute(select(AckRequest.state).where(AckRequest.id == request_id)).scalar_one()
            == "owed"
        )
        if not still_owed:
            return []
        first = _next_number(s, profile.id)
        acks = acknowledgments(data, parsed, control_number=first, now=now)
        for ack in acks.all:
            blob = out_store.put(io.BytesIO(ack.content))
            queued = add_to_queue(
                s,
                profile.id,
                profile.ack_dir,
                ack_name(original_name, ack.kind, ack.control_number),
                blob.sha256,
                blob.size,
                ack.kind.lower(),
                file_id,
            )
            out.append(RenderedAck(profile.id, file_id, ack.kind, ack.control_number, queued.id))
        s.execute(
            update(AckControlNumber)
            .where(AckControlNumber.partner_id == profile.id)
            .values(next_number=acks.next_control_number, updated_at=utcnow())
        )
        s.execute(
            update(AckRequest)
            .where(AckRequest.id == request_id)
            .values(
                state="rendered" if acks.all else "none",
                ack_count=len(acks.all),
                rendered_at=utcnow(),
            )
        )
    log.info(
        "acks_queued",
        partner=profile.id,
        file_id=file_id,
        count=len(out),
        kinds=[a.kind for a in out],
    )
    return out


__all__ = ["AckRequests", "RenderedAck", "ack_name", "render_due"]
