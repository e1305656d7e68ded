"""Encryption of PHI-bearing database columns that matching does not need.

Here that is ``claims.subscriber_member_id`` (patient names and dates of birth are never
stored); higher packages seal their own (case notes, webhook secrets, batch files) with the
same cipher and hand them to ``rotate_columns`` as ``SealedColumn``. Values are sealed with
the data-key ring (``seal_text``: AES-GCM, the column name authenticated): the configured
keys, or by default the generated keys file's. Reading opens them, and legacy plaintext passes
through, so turning encryption on needs no migration of old rows before they are rotated.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, select, update

from gateway.db.base import Database
from gateway.db.claim_rows import ClaimRow
from gateway.db.types import tbl
from gateway.progress import Progress, no_progress
from gateway.security.crypto import (
    COLUMN_PREFIX,
    KeyRing,
    column_key_id,
    open_text,
    seal_text,
)

MEMBER_ID = "claims.subscriber_member_id"


class ColumnCipher:
    """Seal/open column values with a key ring; a no-op when encryption is off."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    def seal(self, value: str | None, context: str) -> str | None:
        if value is None or not self.ring.enabled:
            return value
        return seal_text(self.ring, value, context=context)

    def open(self, value: str | None, context: str) -> str | None:
        if value is None:
            return None
        return open_text(self.ring, value, context=context)


@lru_cache(maxsize=4)
def _cipher(spec: str | None, active: str | None) -> ColumnCipher:
    return ColumnCipher(KeyRing.parse(spec, active))


def column_cipher() -> ColumnCipher:
    """The process's column cipher: GATEWAY_DATA_KEYS / GATEWAY_ACTIVE_DATA_KEY, or the keys
    file's data keys when those are unset (the same resolution as every other secret)."""
    from gateway.settings import get_settings

    settings = get_settings()
    spec = settings.data_keys.get_secret_value() if settings.data_keys is not None else None
    return _cipher(spec, settings.active_data_key)


@dataclass(frozen=True)
class SealedColumn:
    """A column whose values ``rotate_columns`` re-seals: ``table.value``, sealed under
    ``context``. ``binary``: stored as ASCII bytes of a sealed base64 text, or as the plain
    bytes when it was written with encryption off (batch files)."""

    table: Table
    value: str
    context: str
    binary: bool = False


def member_ids() -> SealedColumn:
    return SealedColumn(tbl(ClaimRow), "subscriber_member_id", MEMBER_ID)


def _text(col: SealedColumn, stored: Any) -> str:
    """The stored value as a sealed (or legacy plain) text."""
    if not col.binary:
        return str(stored)
    raw = bytes(stored)
    if raw.startswith(COLUMN_PREFIX.encode()):
        return raw.decode("ascii")
    return base64.b64encode(raw).decode("ascii")  # written plain: what sealing would wrap


def _stale(
    db: Database, col: SealedColumn, active: str, batch: int
) -> Iterator[list[tuple[int, Any]]]:
    t, value = col.table, col.table.c[col.value]
    last = 0
    while True:
        with db.read() as s:
            rows = s.execute(
                select(t.c.id, value)
                .where(t.c.id > last, value.is_not(None))
                .order_by(t.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        last = rows[-1][0]
        todo = [(int(i), v) for i, v in rows if column_key_id(_text(col, v)) != active]
        if todo:
            yield todo


def rotate_columns(
    db: Database,
    ring: KeyRing,
    *,
    columns: Sequence[SealedColumn] | None = None,
    batch: int = 1000,
    progress: Progress = no_progress,
) -> int:
    """Re-seal every value not under the active key (plaintext included), batch by batch, in
    each of ``columns`` (default: the member ids; ``gateway keys rotate-data-key`` passes every
    sealed column of every package).

    Each batch is its own transaction and only rows still holding the value that was read are
    updated, so a killed run resumes by simply running again and readers never see a gap.
    ``progress`` hears the values re-sealed so far, once per batch.
    """
    if not ring.enabled or ring.active is None:
        return 0
    done = 0
    for col in columns if columns is not None else [member_ids()]:
        t, value = col.table, col.table.c[col.value]
        # a batch file is up to megabytes: fewer of them per transaction
        size = max(1, batch // 50) if col.binary else batch
        for todo in _stale(db, col, ring.active, size):
            with db.write() as s:
                for row_id, old in todo:
                    sealed = seal_text(
                        ring,
                        open_text(ring, _text(col, old), context=col.context),
                        context=col.context,
                    )
                    new: Any = sealed.encode("ascii") if col.binary else sealed
                    s.execute(
                        update(t).where(t.c.id == row_id, value == old).values({col.value: new})
                    )
                    done += 1
            progress(done)
    return done
