"""``gateway keys rotate-data-key`` end to end (SQLite and PostgreSQL registry, file store):
every raw file ends up under the new key, a second run rewrites nothing, the old key can then
leave the ring, and ingest reads its files throughout."""

from __future__ import annotations

import base64
import os

import pytest

from gateway.security.crypto import KeyRing
from gateway.store.admin import verify
from gateway.store.crypt import MAGIC, EncryptingTransform, header_key_id
from gateway.store.file import FileRawStore
from tests.integration.helpers import Gateway, ingest
from tests.integration.phikit import X12_MARKER, fixture_files, leaks

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()


def _at_rest(root: FileRawStore) -> list[bytes]:
    return [p.read_bytes() for p in root.root.rglob("*") if p.is_file() and ".tmp" not in p.parts]


def test_rotate_data_key_cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    # explicit keys win over the keys file: the PHI columns are sealed under k1 too
    monkeypatch.setenv("GATEWAY_DATA_KEYS", f"k1:{K1}")
    old = FileRawStore(
        gw.store.root, transform=EncryptingTransform(KeyRing.parse(f"k1:{K1}", None))
    )
    gw.store = old
    x12 = [p for p in fixture_files() if p.suffix != ".csv"][:12]
    for p in x12:
        ingest(gw, p.read_bytes(), name=p.name)
    assert {header_key_id(b) for b in _at_rest(old)} == {"k1"}
    env = {"GATEWAY_DATA_KEYS": f"k1:{K1},k2:{K2}", "GATEWAY_ACTIVE_DATA_KEY": "k2"}
    first = gw.cli("keys", "rotate-data-key", extra_env=env, check=True)
    assert "re-encrypted" in first.stdout
    dump = _at_rest(old)
    assert dump
    assert all(b.startswith(MAGIC) for b in dump)
    assert {header_key_id(b) for b in dump} == {"k2"}  # nothing left under the old key
    assert X12_MARKER not in b"".join(dump)
    assert leaks(b"".join(dump)) == []
    again = gw.cli("keys", "rotate-data-key", extra_env=env, check=True)
    assert " 0 re-encrypted" in again.stdout
    new_only = FileRawStore(
        gw.store.root, transform=EncryptingTransform(KeyRing.parse(f"k2:{K2}", None))
    )
    report = verify(gw.db, new_only)
    assert report.problems == []
    assert report.checked >= len(x12) - 1
    # missing key: the CLI fails closed, naming the key id only
    bad = gw.cli("keys", "rotate-data-key", extra_env={"GATEWAY_DATA_KEYS": f"k1:{K1}"})
    assert bad.returncode != 0
    assert "k2" in bad.stderr + bad.stdout
    assert K1 not in bad.stderr + bad.stdout
