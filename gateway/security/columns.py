"""Encryption of PHI-bearing database columns that matching does not need.

Today that is ``claims.subscriber_member_id`` (patient names and dates of birth are never
stored). Values are sealed with the data-key ring (``seal_text``: AES-GCM, the column name
authenticated): the configured keys, or by default the generated keys file's. Reading opens
them, and legacy plaintext passes through, so turning encryption on needs no migration of old
rows before they are rotated.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import select, update

from gateway.db.base import Database
from gateway.db.models import ClaimRow
from gateway.progress import Progress, no_progress
from gateway.security.crypto import KeyRing, column_key_id, open_text, seal_text

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


def _stale(db: Database, active: str, batch: int) -> Iterator[list[tuple[int, str]]]:
    last = 0
    while True:
        with db.read() as s:
            rows = s.execute(
                select(ClaimRow.id, ClaimRow.subscriber_member_id)
                .where(ClaimRow.id > last, ClaimRow.subscriber_member_id.is_not(None))
                .order_by(ClaimRow.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        last = rows[-1][0]
        todo = [(int(i), str(v)) for i, v in rows if column_key_id(str(v)) != active]
        if todo:
            yield todo


def rotate_columns(
    db: Database, ring: KeyRing, *, batch: int = 1000, progress: Progress = no_progress
) -> int:
    """Re-seal every value not under the active key (plaintext included), batch by batch.

    Each batch is its own transaction and only rows still holding the value that was read are
    updated, so a killed run resumes by simply running again and readers never see a gap.
    ``progress`` hears the values re-sealed so far, once per batch.
    """
    if not ring.enabled or ring.active is None:
        return 0
    done = 0
    for todo in _stale(db, ring.active, batch):
        with db.write() as s:
            for row_id, old in todo:
                plain = open_text(ring, old, context=MEMBER_ID)
                s.execute(
                    update(ClaimRow)
                    .where(ClaimRow.id == row_id, ClaimRow.subscriber_member_id == old)
                    .values(subscriber_member_id=seal_text(ring, plain, context=MEMBER_ID))
                )
                done += 1
        progress(done)
    return done
