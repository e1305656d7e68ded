"""PHI columns at rest: member ids are sealed under the active data key, open for the documents
that need them, rotate to a new key in resumable batches, and fail closed without their key."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import text

import parsers
from gateway.security.columns import MEMBER_ID, column_cipher, rotate_columns
from gateway.security.crypto import DataKeyMissingError, KeyRing
from tests.conftest import FIXTURES
from tests.integration.helpers import Gateway, ingest

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()
CLAIM_FILES = sorted(p for p in (FIXTURES / "x12").iterdir() if p.suffix in (".837", ".837i"))


def _member_ids() -> set[str]:
    ids = set()
    for path in CLAIM_FILES:
        for sub in parsers.parse(path.read_bytes()).claim_submissions:
            for c in sub.claims:
                if c.subscriber and c.subscriber.person and c.subscriber.person.id:
                    ids.add(c.subscriber.person.id)
    return ids


def _stored(gw: Gateway) -> list[str]:
    with gw.db.read() as s:
        return [
            str(v)
            for (v,) in s.execute(
                text(
                    "SELECT subscriber_member_id FROM claims WHERE subscriber_member_id IS NOT NULL"
                )
            )
        ]


def test_member_ids_sealed_rotated_and_fail_closed(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CLAIM_FILES
    members = _member_ids()
    assert members
    monkeypatch.setenv("GATEWAY_DATA_KEYS", f"k1:{K1}")
    for path in CLAIM_FILES:
        ingest(gw, path.read_bytes(), name=path.name)
    stored = _stored(gw)
    assert stored
    assert all(v.startswith("v1:k1:") for v in stored)
    dump = "".join(stored)
    assert not [m for m in members if m in dump]
    cipher = column_cipher()
    assert {cipher.open(v, MEMBER_ID) for v in stored} <= members

    ring = KeyRing.parse(f"k1:{K1},k2:{K2}", "k2")
    assert rotate_columns(gw.db, ring, batch=2) == len(stored)
    rotated = _stored(gw)
    assert all(v.startswith("v1:k2:") for v in rotated)
    assert rotate_columns(gw.db, ring) == 0  # idempotent: nothing left under the old key
    monkeypatch.setenv("GATEWAY_DATA_KEYS", f"k2:{K2}")
    assert {column_cipher().open(v, MEMBER_ID) for v in rotated} <= members

    monkeypatch.setenv("GATEWAY_DATA_KEYS", f"k1:{K1}")
    with pytest.raises(DataKeyMissingError, match="'k2'") as err:
        column_cipher().open(rotated[0], MEMBER_ID)
    assert K1 not in str(err.value)
    assert K2 not in str(err.value)
