"""``gateway keys rotate-data-key`` end to end (SQLite and PostgreSQL registry, file store):
every raw file ends up under the new key, a second run rewrites nothing, the old key can then
leave the ring, and ingest reads its files throughout."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from gateway.security.crypto import KeyRing
from gateway.store.admin import verify
from gateway.store.encryption import MAGIC, EncryptingTransform, header_key_id
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


def test_rotation_reseals_every_sealed_column(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The attack on availability: rotate, retire the old key, and find case notes, webhook
    secrets or batch files still sealed under it (unreadable for good). Every column the
    gateway seals is re-sealed by ``gateway keys rotate-data-key``."""
    from sqlalchemy import select

    from gateway.db.claim_rows import ClaimRow
    from gateway.resolve.tables import BatchFile, CaseNote
    from gateway.webhooks.tables import WebhookSubscription
    from tests.integration.test_workbench_cli import AS_OF, _json, _load

    k1 = {"GATEWAY_DATA_KEYS": f"k1:{K1}", "GATEWAY_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
    monkeypatch.setenv("GATEWAY_DATA_KEYS", f"k1:{K1}")
    gw.store = FileRawStore(
        gw.store.root, transform=EncryptingTransform(KeyRing.parse(f"k1:{K1}", None))
    )
    _load(gw)
    ids = {
        r["patient_control_number"]: r["credit_id"]
        for r in _json(gw, "cases", "list", "--json", *AS_OF)
    }
    gw.cli("cases", "note", str(ids["MCR1"]), "patient called back", extra_env=k1, check=True)
    gw.cli(
        "cases", "approve", str(ids["COPAY1"]), "--reason", "paid twice", extra_env=k1, check=True
    )
    gw.cli("batches", "create", *AS_OF, extra_env=k1, check=True)
    gw.cli(
        "webhooks",
        "add",
        "http://127.0.0.1:9/hook",
        "--provider",
        "1234567893",
        "--event",
        "credit.identified",
        extra_env=k1,
        check=True,
    )

    def stored() -> dict[str, list[str]]:
        with gw.db.read() as s:
            return {
                "member": [
                    str(v) for v in s.execute(select(ClaimRow.subscriber_member_id)).scalars() if v
                ],
                "note": list(s.execute(select(CaseNote.text_sealed)).scalars()),
                "secret": list(s.execute(select(WebhookSubscription.secret_sealed)).scalars()),
                "file": [
                    bytes(b)[:40].decode("latin-1")
                    for b in s.execute(select(BatchFile.content)).scalars()
                ],
            }

    before = stored()
    assert all(before.values()), before.keys()
    assert all(v.startswith("v1:k1:") for vals in before.values() for v in vals)
    env = {"GATEWAY_DATA_KEYS": f"k1:{K1},k2:{K2}", "GATEWAY_ACTIVE_DATA_KEY": "k2"}
    gw.cli("keys", "rotate-data-key", extra_env=env, check=True)
    after = stored()
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    assert all(v.startswith("v1:k2:") for vals in after.values() for v in vals), after
    # the old key retired: the note and the batch files still open
    k2 = {"GATEWAY_DATA_KEYS": f"k2:{K2}"}
    monkeypatch.setenv("GATEWAY_DATA_KEYS", f"k2:{K2}")
    shown = gw.cli("cases", "show", str(ids["MCR1"]), "--json", *AS_OF, extra_env=k2, check=True)
    assert "patient called back" in shown.stdout
    [batch] = _json_env(gw, k2, "batches", "list", "--json")
    out = tmp_path / "export"
    gw.cli("batches", "export", str(batch["id"]), "--to", str(out), extra_env=k2, check=True)
    assert any(p.stat().st_size > 0 for p in out.iterdir())
    again = gw.cli("keys", "rotate-data-key", extra_env=env, check=True)
    assert "re-sealed under 'k2': 0" in again.stdout


def _json_env(gw: Gateway, env: dict[str, str], *args: str) -> Any:
    import json

    return json.loads(gw.cli(*args, extra_env=env, check=True).stdout)
