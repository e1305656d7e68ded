"""Secure by default (issue 17, item 2): weak secrets refused by every process, strong secrets
generated into a keys file kept apart from the data dir, data encrypted at rest with no setting.

Every process is a real ``gateway`` command in a subprocess, with this test's own keys-file
location (``XDG_CONFIG_HOME`` from the autouse fixture, or ``GATEWAY_KEYS_FILE``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.errors import ConfigError
from gateway.security.crypto import DataKeyMissingError, KeyRing, open_text
from gateway.security.keyfile import default_keys_file, load_keys_file, resolve_secrets
from gateway.settings import Settings, get_settings
from tests.integration.helpers import GATEWAY_CMD, ROOT
from tests.integration.test_api_support import Api

FIXTURE = ROOT / "tests" / "fixtures" / "x12" / "demo.example1.837"
MEMBER_ID = b"JS00111223333"  # the subscriber's member id in FIXTURE (NM1*IL)
STRONG = "Q7vR2mXc9LpT4wZs8KdN1yHb6FgJ3aEu5oWq0iVx"
WEAK = "abcd"


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATA_DIR": str(data),
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GATEWAY_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    return env | extra


def _gateway(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY_CMD, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _keys_file() -> Path:
    return default_keys_file()  # under this test's XDG_CONFIG_HOME


@pytest.mark.parametrize(
    "command",
    [
        ("serve", "--port", "0"),
        ("serve", "--port", "0", "--workers", "2"),
        ("worker", "--once"),
        ("run", "--once"),
        ("keys", "list"),
    ],
)
def test_weak_session_secret_refused_by_every_process(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Attack: start the gateway with ``GATEWAY_SESSION_SECRET=abcd`` (recoverable offline in
    a fraction of a second), on any process shape, and hope one of them accepts it; before the
    fix ``serve`` took it and ``serve --workers 2`` hung with child tracebacks."""
    proc = _gateway(_env(tmp_path / "data", GATEWAY_SESSION_SECRET=WEAK), *command, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr  # one clear line: no child tracebacks
    assert "GATEWAY_SESSION_SECRET" in lines[0]
    assert "shorter than 32" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert WEAK not in lines[0].replace("GATEWAY_", "")  # the value itself is never echoed
    assert not _keys_file().exists()  # refused before anything was generated


@pytest.mark.parametrize(
    "value", [WEAK, "abcdabcdabcdabcdabcdabcdabcdabcdabcd", "0123401234012340123401234012340123"]
)
def test_weak_pepper_refused(tmp_path: Path, value: str) -> None:
    """Attack: a short or low-entropy API key pepper lets a stolen database's key hashes be
    brute-forced; refused like the session secret (32+ characters, 8+ different ones)."""
    proc = _gateway(
        _env(tmp_path / "data", GATEWAY_API_KEY_PEPPER=value), "worker", "--once", timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "GATEWAY_API_KEY_PEPPER" in proc.stderr
    assert value not in proc.stderr


def test_default_secret_cannot_be_used_to_forge_a_console_cookie(api: Api) -> None:
    """Attack: recover the session secret offline (as with ``abcd``) and forge an ops cookie.
    The default secret is 256 random bits from the keys file, never a weak one (serve refuses
    those), and a cookie derived from any secret is no session: sessions live server-side."""
    secret = api.app.state.ctx.session_secret
    keys = json.loads(_keys_file().read_text(encoding="utf-8"))
    assert secret == keys["session_secret"].encode()
    assert len(secret) >= 43
    assert secret != WEAK.encode()
    for guess in (secret, WEAK.encode()):
        forged = "v2." + hmac.new(guess, b"ops", hashlib.sha256).hexdigest()
        api.client.cookies.clear()
        api.client.cookies.set("gw_session", forged, path="/console")
        r = api.client.get("/console/", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/console/login")


def _dump(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_first_start_generates_private_keys_file_and_encrypts_at_rest(tmp_path: Path) -> None:
    """Attack: copy the data dir (or a backup of it) and read PHI out of it: the raw 837 and
    the member id column. With nothing configured both are ciphertext, and the keys that open
    them are in a 0600 file in a 0700 folder outside the data dir."""
    data = tmp_path / "data"
    proc = _gateway(_env(data), "ingest", str(FIXTURE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = _keys_file()
    assert str(path) in proc.stderr
    assert "back it up" in proc.stderr.lower()
    assert "separately from the data dir" in proc.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.resolve().is_relative_to(data.resolve())
    keys = json.loads(path.read_text(encoding="utf-8"))
    assert len(keys["session_secret"]) >= 32
    assert len(keys["api_key_pepper"]) >= 32
    assert KeyRing.parse(keys["data_keys"], keys["active_data_key"]).enabled

    raw = [p for p in (data / "raw").rglob("*") if p.is_file()]
    assert raw
    assert all(not p.read_bytes().startswith(b"ISA") for p in raw)
    assert MEMBER_ID not in _dump(data)  # not in the raw store, not in gateway.db or its WAL
    with sqlite3.connect(data / "gateway.db") as conn:
        stored = [r[0] for r in conn.execute("SELECT subscriber_member_id FROM claims")]
    assert stored
    assert all(v.startswith("v1:") for v in stored)
    ring = KeyRing.parse(keys["data_keys"], keys["active_data_key"])
    assert {open_text(ring, v, context="claims.subscriber_member_id") for v in stored} == {
        MEMBER_ID.decode()
    }

    again = _gateway(_env(data), "store", "verify")  # the second start reuses the file
    assert again.returncode == 0, again.stdout + again.stderr
    assert "generated" not in again.stderr
    assert json.loads(path.read_text(encoding="utf-8")) == keys


def test_copied_data_dir_without_keys_file_is_unreadable(tmp_path: Path) -> None:
    """Attack: take a copy of the data dir (a stolen backup) to another host and read it
    there: without the keys file it does not open, and the error says what is missing."""
    data = tmp_path / "data"
    assert _gateway(_env(data), "ingest", str(FIXTURE)).returncode == 0
    copy = tmp_path / "stolen"
    shutil.copytree(data, copy)
    elsewhere = tmp_path / "other-host-config"
    proc = _gateway(_env(copy, XDG_CONFIG_HOME=str(elsewhere)), "store", "verify")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "data_key_missing" in proc.stderr
    assert "restore the keys file" in proc.stderr
    assert "already holds data" in proc.stderr  # the new keys file came with a warning
    assert MEMBER_ID.decode() not in proc.stdout + proc.stderr
    with sqlite3.connect(copy / "gateway.db") as conn:
        sealed = conn.execute("SELECT subscriber_member_id FROM claims").fetchone()[0]
    other = json.loads((elsewhere / "remittance-gateway" / "keys.json").read_text())
    with pytest.raises(DataKeyMissingError):
        open_text(
            KeyRing.parse(other["data_keys"], None), sealed, context="claims.subscriber_member_id"
        )


def _make_keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "cfg" / "keys.json"
    load_keys_file(path)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_loose_keys_file_mode_is_refused(tmp_path: Path, mode: int) -> None:
    """Attack: another local user reads a keys file left group/world-readable (a careless
    copy, umask 022) and decrypts everything; every process refuses to start with it."""
    path = _make_keys_file(tmp_path)
    path.chmod(mode)
    proc = _gateway(
        _env(tmp_path / "data", GATEWAY_KEYS_FILE=str(path)), "worker", "--once", timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "keys_file_invalid" in proc.stderr
    assert "chmod 600" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_keys_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    """Attack: plant a keys file with weak or attacker-known secrets, a symlink or folder in
    its place, or garbage; or keep the keys in the data dir, where every copy carries them."""
    settings = get_settings(data_dir=tmp_path / "data")
    path = _make_keys_file(tmp_path)
    good = json.loads(path.read_text(encoding="utf-8"))

    def refused(contents: dict[str, str] | str, match: str) -> None:
        path.write_text(contents if isinstance(contents, str) else json.dumps(contents))
        with pytest.raises(ConfigError, match=match) as err:
            load_keys_file(path)
        assert WEAK not in str(err.value)

    refused(good | {"session_secret": WEAK}, "session_secret .*shorter than 32")
    refused(good | {"api_key_pepper": "ab" * 20}, "api_key_pepper .*low entropy")
    refused(good | {"data_keys": "k1:" + "A" * 8}, "must be 32 bytes")
    refused("{not json", "not valid JSON")
    refused({"session_secret": "x"}, "not a remittance-gateway-keys/1 file")
    path.unlink()
    path.mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_keys_file(path)
    path.rmdir()
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(good))
    target.chmod(0o600)
    path.symlink_to(target)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_keys_file(path)
    inside = settings.data_dir / "keys.json"
    with pytest.raises(ConfigError, match="inside the data dir"):
        resolve_secrets(Settings(data_dir=settings.data_dir, keys_file=inside))
    assert not inside.exists()
    (tmp_path / "open").mkdir(mode=0o777)
    (tmp_path / "open").chmod(0o777)
    with pytest.raises(ConfigError, match="writable by group or others"):
        load_keys_file(tmp_path / "open" / "keys.json")


def test_explicit_env_secrets_win_over_the_keys_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack (on the operator's intent): a stale keys file silently overriding the secrets
    the operator configured. Explicit GATEWAY_* values win, secret by secret."""
    file_values = json.loads(_keys_file().read_text()) if _keys_file().exists() else None
    assert file_values is None
    monkeypatch.setenv("GATEWAY_SESSION_SECRET", STRONG)
    s = get_settings(data_dir=tmp_path / "data")
    keys = json.loads(_keys_file().read_text(encoding="utf-8"))
    assert s.session_secret == SecretStr(STRONG)
    assert s.api_key_pepper == SecretStr(keys["api_key_pepper"])
    assert s.data_keys == SecretStr(keys["data_keys"])
    # every secret explicit: the keys file is neither read nor created
    key = "k2:" + "B" * 43 + "="
    explicit = get_settings(
        data_dir=tmp_path / "data",
        keys_file=tmp_path / "none.json",
        api_key_pepper=STRONG + "p",
        data_keys=key,
    )
    assert explicit.data_keys == SecretStr(key)
    assert explicit.session_secret == SecretStr(STRONG)
    assert not (tmp_path / "none.json").exists()
    # and a subprocess sees the same: the env secret, not the file's
    env = _env(tmp_path / "data", GATEWAY_SESSION_SECRET=STRONG)
    code = (
        "from gateway.settings import get_settings; import hashlib; "
        "print(hashlib.sha256(get_settings().session_secret.get_secret_value().encode())"
        ".hexdigest())"
    )
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert out == hashlib.sha256(STRONG.encode()).hexdigest()


def test_concurrent_first_starts_agree_on_one_keys_file(tmp_path: Path) -> None:
    """Attack (race): two processes start at once with no keys file, each generates one, and
    the second overwrites the first after data was encrypted under it (data lost). Creation
    never clobbers: the loser reads the winner's file."""
    path = tmp_path / "cfg" / "keys.json"
    code = (
        "import sys, hashlib; from pathlib import Path; "
        "from gateway.security.keyfile import load_keys_file; "
        "k = load_keys_file(Path(sys.argv[1])); "
        "print(hashlib.sha256(k.values['data_keys'].get_secret_value().encode()).hexdigest())"
    )
    procs = [
        subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "python"), "-c", code, str(path)],
            env=_env(tmp_path / "data"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o.strip() for o, _ in outs}) == 1
    assert sum("generated a keys file" in e for _, e in outs) == 1  # exactly one winner
    # the same race inside one process (threads released together)
    path2 = tmp_path / "cfg2" / "keys.json"
    barrier = threading.Barrier(6)
    seen: list[str] = []

    def start() -> None:
        barrier.wait()
        key = load_keys_file(path2).values["data_keys"]
        assert isinstance(key, SecretStr)
        seen.append(key.get_secret_value())

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(seen) == 6
    assert len(set(seen)) == 1
    assert sorted(p.name for p in path2.parent.iterdir()) == ["keys.json"]  # no temp leftovers
    assert stat.S_IMODE(path2.stat().st_mode) == 0o600
