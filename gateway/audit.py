"""Append-only, hash-chained audit log: who did what to which file, when, why, how it ended.

Only ``record`` writes here; nothing in the gateway updates or deletes audit rows. Entries are
written inside the caller's transaction so an audited change and its audit entry commit
together. Reasons and details must not carry PHI (ids, codes and counts only).

Integrity: each entry has a position ``seq`` (1, 2, 3, ...), the previous entry's hash and its
own ``row_hash`` = sha256 over a canonical JSON serialisation of the entry and ``prev_hash``.
``verify_chain`` walks the log and names the first entry that was deleted, edited, reordered or
inserted behind the gateway's back. Writers are serialised so the chain never forks: on
PostgreSQL a transaction-scoped advisory lock (held until the caller commits or rolls back, so
keep audited transactions short); on SQLite the database's single writer (our write sessions
start with ``BEGIN IMMEDIATE``), with a unique ``seq`` as the backstop on both.

What the chain does not do on its own: someone with write access to the database can rewrite
the whole chain, and deleting the newest entries leaves a valid shorter chain. Against both,
record the head (``gateway audit verify`` prints it) somewhere the database's writers cannot
change, and check it later with ``--anchor SEQ:HASH``.

Every entry names the client address it came from in ``details["client"]``: the API sets
``CLIENT`` per request (the peer, or what a trusted proxy forwarded); anything else (the CLI,
workers) is ``local``. It is part of the hashed details, so it cannot be edited unseen either.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gateway.db.models import AuditEntry
from gateway.db.types import tbl, utcnow
from schemas.states import CaseState

#: prev_hash of the first entry
GENESIS = "0" * 64
#: pg_advisory_xact_lock key of the audit chain ("gwaudit" as an integer; any constant will do)
PG_LOCK_KEY = 0x6777617564697400
#: version tag inside the hashed serialisation, so the format can change by migration later
HASH_FORMAT = "v1"
#: the client address of the request being served (set by the API middleware); else local
CLIENT: ContextVar[str] = ContextVar("gateway_audit_client", default="local")


def current_actor(explicit: str | None = None) -> str:
    """The person or process acting: ``--actor``, else ``$USER``, else the OS login name."""
    if explicit:
        return explicit
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _canonical_time(at: dt.datetime) -> str:
    """UTC, microseconds, no offset: SQLite returns naive UTC and PostgreSQL aware datetimes."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    file_id: int | None,
    outcome: str,
    reason: str,
    details: dict[str, Any] | None,
    prev_hash: str,
) -> str:
    """sha256 (hex) of one entry's canonical serialisation, linked to ``prev_hash``."""
    body = json.dumps(
        [
            HASH_FORMAT,
            seq,
            _canonical_time(at),
            actor,
            action,
            file_id,
            outcome,
            reason,
            details,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return hashlib.sha256(body.encode("ascii")).hexdigest()


#: an action name: lower-case words joined by ``_`` (``batch_issued``), docs/audit.md lists them
ACTION_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
#: the API's per-request entries are named by their route: ``http POST /v1/files``
REQUEST_PREFIX = "http "
#: names written before they had one style (issue 19): those rows keep them, since the chain
#: hashes the name and is never rewritten; readers take them for the name on the right
LEGACY_ACTIONS: dict[str, str] = {
    "batch issued": "batch_issued",
    "batch cancelled": "batch_cancelled",
    "batch queued": "batch_queued",
    "case note": "case_note",
    "cases opened": "cases_opened",
    **{f"case {state}": f"case_{state}" for state in CaseState},
}


def action_name(stored: str) -> str:
    """The current name of a stored action (an old row's spelling read as today's)."""
    return LEGACY_ACTIONS.get(stored, stored)


def stored_actions(name: str) -> list[str]:
    """Every spelling rows of action ``name`` may carry (to filter old and new rows alike)."""
    current = action_name(name)
    return [current, *sorted(old for old, new in LEGACY_ACTIONS.items() if new == current)]


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    # SQLite: the write transaction (BEGIN IMMEDIATE) already excludes every other writer.


_HEAD = select(AuditEntry.seq, AuditEntry.row_hash).order_by(AuditEntry.seq.desc()).limit(1)
_INSERT = insert(tbl(AuditEntry))
#: ``session.info`` slot: (transaction, seq, row_hash) of the entry this transaction wrote last
_LAST = "gateway.audit.last"


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def _head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest entry, locking the chain for this transaction.

    A transaction that already appended an entry knows the head (it wrote it, under the lock
    it still holds): one upload writes two entries and the second needs no query. The memo is
    keyed to the innermost transaction, so a rolled-back savepoint never leaves a stale head.
    """
    last = session.info.get(_LAST)
    if last is not None and last[0] is _innermost(session):
        return last[1], last[2]
    _lock_chain(session)
    row = session.execute(_HEAD).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.row_hash))


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: str,
    file_id: int | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry, chained to the newest one, in the caller's transaction."""
    if not (ACTION_NAME.match(action) or action.startswith(REQUEST_PREFIX)):
        raise ValueError(f"audit action {action!r} is not snake_case (see docs/audit.md)")
    details = {"client": CLIENT.get(), **(details or {})}
    # What the database will hand back when the chain is verified: JSON types, truncations.
    details = json.loads(json.dumps(details))
    actor = actor[:128]
    at = utcnow()
    seq, prev = _head(session)
    seq += 1
    row_hash = entry_hash(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        file_id=file_id,
        outcome=outcome,
        reason=reason,
        details=details,
        prev_hash=prev,
    )
    session.execute(
        _INSERT,
        {
            "at": at,
            "actor": actor,
            "action": action,
            "file_id": file_id,
            "outcome": outcome,
            "reason": reason,
            "details": details,
            "seq": seq,
            "prev_hash": prev,
            "row_hash": row_hash,
        },
    )
    session.info[_LAST] = (_innermost(session), seq, row_hash)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place the chain does not hold, and why."""

    seq: int
    id: int | None
    kind: str  # missing | edited | relinked | reordered | anchor
    reason: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def iter_entries(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every entry in chain order, fetched in batches (logs grow large)."""
    last = -1
    while True:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain from the first entry; report the first deleted/edited/reordered one.

    ``anchor`` is a (seq, hash) recorded earlier: it must still be in the chain, which catches
    the deletion of the newest entries that the chain alone cannot see.
    """
    expected_seq, prev, prev_id, count = 1, GENESIS, -1, 0
    anchor_seen = anchor is None
    broken: ChainBreak | None = None
    for e in iter_entries(session):
        count += 1
        if e.seq != expected_seq:
            broken = ChainBreak(
                expected_seq,
                None,
                "missing",
                f"entries {expected_seq}..{e.seq - 1} are missing (deleted)",
            )
        elif e.prev_hash != prev:
            broken = ChainBreak(
                e.seq, e.id, "relinked", "prev_hash does not match the previous entry's hash"
            )
        elif e.row_hash != entry_hash(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            file_id=e.file_id,
            outcome=e.outcome,
            reason=e.reason,
            details=e.details,
            prev_hash=e.prev_hash,
        ):
            broken = ChainBreak(
                e.seq, e.id, "edited", "the entry's contents do not match its hash (edited)"
            )
        elif e.id <= prev_id:
            broken = ChainBreak(
                e.seq,
                e.id,
                "reordered",
                f"id {e.id} is not after the previous entry's id {prev_id}",
            )
        if broken is not None:
            return ChainReport(count, expected_seq - 1, prev, broken)
        if anchor is not None and e.seq == anchor[0]:
            if e.row_hash != anchor[1]:
                return ChainReport(
                    count,
                    e.seq,
                    e.row_hash,
                    ChainBreak(
                        e.seq, e.id, "anchor", "the entry's hash differs from the recorded anchor"
                    ),
                )
            anchor_seen = True
        expected_seq, prev, prev_id = e.seq + 1, e.row_hash, e.id
    if not anchor_seen and anchor is not None:
        return ChainReport(
            count,
            expected_seq - 1,
            prev,
            ChainBreak(
                anchor[0],
                None,
                "anchor",
                f"the chain ends at {expected_seq - 1}, before the recorded anchor {anchor[0]} "
                "(newest entries deleted)",
            ),
        )
    return ChainReport(count, expected_seq - 1, prev, None)
