"""The keys file: secrets the gateway generates itself when none are configured.

Secure by default: with nothing configured, the first start writes a strong session secret, API
key pepper and data key (``keyid:base64`` of 32 random bytes) to a keys file kept apart from the
data dir (``GATEWAY_KEYS_FILE``, default ``$XDG_CONFIG_HOME/remittance-gateway/keys.json``, XDG
default ``~/.config``), so a copied data dir or a backup of it holds no key. The embedded default
then encrypts raw files and PHI columns at rest with no setting.

``resolve_secrets`` is the one place the effective secrets come from: an explicit ``GATEWAY_*``
setting wins, per secret; the keys file supplies the rest (and is not touched at all when every
secret is explicit). It is refused (``ConfigError``, exit 2) when looser than 0600, not a
regular file, in a folder group or others can write, unparsable, holding weak secrets, or inside
the data dir. Creation is atomic (a 0600 temp file in a 0700 folder, hard-linked into place, so
it never clobbers): two processes starting at once agree on one file, the loser reads the
winner's. Messages name the file and the field, never a value.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import secrets
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from gateway.errors import ConfigError
from gateway.security.fsmodes import DIR_MODE, FILE_MODE, private_dir

if TYPE_CHECKING:
    from gateway.settings import Settings

FORMAT = "remittance-gateway-keys/1"
APP_DIR = "remittance-gateway"
FILE_NAME = "keys.json"
#: the settings a keys file can supply, in the order they are written
SECRET_FIELDS = ("session_secret", "api_key_pepper", "data_keys")
FIELDS = (*SECRET_FIELDS, "active_data_key")


def _error(message: str) -> ConfigError:
    return ConfigError(message, code="keys_file_invalid")


def default_keys_file(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/remittance-gateway/keys.json`` (XDG: ``~/.config`` when unset or
    relative)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".config"
    return base / APP_DIR / FILE_NAME


def keys_file_path(settings: Settings | None = None) -> Path:
    """Where the keys file is: ``GATEWAY_KEYS_FILE`` or the XDG default."""
    configured = getattr(settings, "keys_file", None) if settings is not None else None
    if configured is None and os.environ.get("GATEWAY_KEYS_FILE"):
        configured = Path(os.environ["GATEWAY_KEYS_FILE"])
    return Path(configured).expanduser() if configured else default_keys_file()


@dataclass(frozen=True)
class KeysFile:
    """The secrets of one keys file (values are ``SecretStr``: never printed)."""

    path: Path
    values: dict[str, SecretStr | str]


def _new_contents() -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    key_id = f"k{now:%Y%m%d}-{secrets.token_hex(3)}"
    key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    return {
        "format": FORMAT,
        "created_at": now.isoformat(timespec="seconds"),
        "session_secret": secrets.token_urlsafe(32),
        "api_key_pepper": secrets.token_urlsafe(32),
        "data_keys": f"{key_id}:{key}",
        "active_data_key": key_id,
    }


def _check_location(path: Path, data_dir: Path | None) -> None:
    if data_dir is None:
        return
    if path.resolve().is_relative_to(data_dir.resolve()):
        raise _error(
            f"keys file {path} is inside the data dir {data_dir}: a copy or backup of "
            "the data dir would hold its keys; set GATEWAY_KEYS_FILE to a path outside"
        )


def _check_dir(folder: Path) -> None:
    try:
        st = folder.stat()
    except OSError:
        return
    if st.st_mode & 0o022:
        raise _error(
            f"keys file folder {folder} is writable by group or others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}): anyone there could replace the keys; "
            f"run `chmod 700 {folder}`"
        )


def _check_file(path: Path) -> None:
    st = path.lstat()
    if not stat.S_ISREG(st.st_mode):
        raise _error(f"keys file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise _error(
            f"keys file {path} is accessible to group or others (mode "
            f"{stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`"
        )


def _parse(path: Path, text: str) -> dict[str, SecretStr | str]:
    from gateway.security.crypto import KeyRing
    from gateway.security.secrets import MIN_KEY_LENGTH, refuse_placeholder

    try:
        raw: Any = json.loads(text)
    except ValueError:
        raise _error(f"keys file {path} is not valid JSON (restore it from its backup)") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise _error(f"keys file {path} is not a {FORMAT} file")
    values: dict[str, SecretStr | str] = {}
    for name in SECRET_FIELDS:
        value = raw.get(name)
        if not isinstance(value, str):
            raise _error(f"keys file {path} has no {name} (a string)")
        secret = SecretStr(value)
        refuse_placeholder(
            f"{name} of keys file {path}",
            secret,
            min_length=MIN_KEY_LENGTH if name != "data_keys" else 0,
        )
        values[name] = secret
    active = raw.get("active_data_key")
    if active is not None and not isinstance(active, str):
        raise _error(f"keys file {path}: active_data_key must be a key id (a string)")
    if active:
        values["active_data_key"] = active
    data_keys = values["data_keys"]
    assert isinstance(data_keys, SecretStr)
    try:
        KeyRing.parse(data_keys.get_secret_value(), active or None)
    except ConfigError as exc:
        raise _error(f"keys file {path}: {exc.message}") from None
    return values


def _read(path: Path) -> dict[str, SecretStr | str]:
    _check_dir(path.parent)
    _check_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise _error(
            f"keys file {path} cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    return _parse(path, text)


def _create(path: Path, data_dir: Path | None) -> bool:
    """Write a new keys file at ``path`` unless one exists; True when this process wrote it."""
    private_dir(path.parent)
    _check_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(_new_contents(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a file another process linked first
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    where = f" {data_dir.resolve()}" if data_dir is not None else ""
    if data_dir is not None and (data_dir / "gateway.db").exists():
        print(
            f"gateway: WARNING: the data dir {data_dir.resolve()} already holds data; if it "
            "was written with another keys file (a restored or copied data dir), stop and "
            "restore that keys file: data encrypted under its keys cannot be read with this "
            "new one.",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"gateway: generated a keys file at {path} (session secret, API key pepper, data key; "
        f"mode {FILE_MODE:04o} in a {DIR_MODE:04o} folder). BACK IT UP NOW, separately from "
        f"the data dir{where}: raw files and PHI columns are encrypted with it and cannot be "
        "read without it.",
        file=sys.stderr,
        flush=True,
    )
    return True


def load_keys_file(path: Path, data_dir: Path | None = None) -> KeysFile:
    """The keys file at ``path``, generated first when it does not exist."""
    _check_location(path, data_dir)
    if not os.path.lexists(path):
        try:
            _create(path, data_dir)
        except OSError as exc:
            raise _error(
                f"keys file {path} cannot be created ({exc.strerror or type(exc).__name__})"
            ) from None
    return KeysFile(path=path, values=_read(path))


def explicit_secrets(settings: Settings) -> bool:
    """True when every secret is set explicitly (the keys file is then not used)."""
    return all(getattr(settings, name) is not None for name in SECRET_FIELDS)


def resolve_secrets(settings: Settings) -> Settings:
    """``settings`` with every unset secret taken from the keys file (explicit ones win)."""
    if explicit_secrets(settings):
        return settings
    keys = load_keys_file(keys_file_path(settings), settings.data_dir)
    update: dict[str, object] = {}
    for name in SECRET_FIELDS:
        if getattr(settings, name) is None:
            update[name] = keys.values[name]
    if "data_keys" in update and settings.active_data_key is None:
        update["active_data_key"] = keys.values.get("active_data_key")
    return settings.model_copy(update=update)


def add_data_key(path: Path) -> str:
    """Append a fresh data key to the keys file and make it active; returns its key id.

    The file is rewritten atomically (temp 0600 + rename) with every old key kept, so data
    under them stays readable until ``gateway keys rotate-data-key`` has re-encrypted it.
    """
    values = _read(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    fresh = _new_contents()
    key_id = fresh["active_data_key"]
    old = values["data_keys"]
    assert isinstance(old, SecretStr)
    raw["data_keys"] = f"{old.get_secret_value()},{fresh['data_keys']}"
    raw["active_data_key"] = key_id
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(raw, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return key_id


__all__ = [
    "KeysFile",
    "add_data_key",
    "default_keys_file",
    "keys_file_path",
    "load_keys_file",
    "resolve_secrets",
]
