"""Data keys and authenticated encryption at rest (AES-256-GCM).

Keys come from settings: ``GATEWAY_DATA_KEYS`` is a comma-separated list of ``keyid:base64key``
(32-byte keys), ``GATEWAY_ACTIVE_DATA_KEY`` names the one new data is encrypted under; when they
are unset, the keys file's (generated on first start, see ``gateway.security.keyfile``).
Every ciphertext names its key id, so old keys stay in the ring while ``gateway keys
rotate-data-key`` re-encrypts, and then can be removed.

Two formats share the ring:

- raw files (``gateway.store.encryption``): a header plus length-prefixed AES-GCM records, streamed;
- database columns (``seal_text``/``open_text``): ``v1:<keyid>:<nonce>:<ct>`` text, with the
  table and column name as associated data so a value cannot be moved to another column.

Equality lookups on an encrypted value use ``blind_index`` (HMAC-SHA256 under a key derived
from the active key's ring, see there) instead of the ciphertext.

Failures are typed and name the key id, never the key: ``DataKeyMissingError`` (the ring has no
such key id), ``DataKeyMismatchError`` (the ring's key with that id is not the one used),
``DecryptionError`` (authentication failed: tampered data or a wrong key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ConfigError, PermanentError

KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
#: column values start with this; anything else in an encrypted column is legacy plaintext
COLUMN_PREFIX = "v1:"


class DataKeyMissingError(ConfigError):
    """Data is encrypted under a key id that is not in GATEWAY_DATA_KEYS."""

    code = "data_key_missing"


class DataKeyMismatchError(ConfigError):
    """The key configured under this key id is not the key the data was encrypted with."""

    code = "data_key_mismatch"


class DecryptionError(PermanentError):
    """Encrypted data failed authentication (tampered, truncated, or a wrong key)."""

    code = "decrypt_failed"


def _bad_config(message: str) -> ConfigError:
    return ConfigError(message, code="data_keys_invalid")


@dataclass(frozen=True)
class KeyRing:
    """Data keys by id and the active key id (None: encryption off)."""

    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    active: str | None = None

    @property
    def enabled(self) -> bool:
        return self.active is not None

    @classmethod
    def parse(cls, spec: str | None, active: str | None) -> KeyRing:
        """Parse ``keyid:base64key,...``; messages name key ids and positions, never keys."""
        keys: dict[str, bytes] = {}
        for n, item in enumerate((spec or "").split(","), start=1):
            item = item.strip()
            if not item:
                continue
            kid, sep, b64 = item.partition(":")
            if not sep or not _KEY_ID.match(kid):
                raise _bad_config(
                    f"GATEWAY_DATA_KEYS entry {n} is not keyid:base64key "
                    "(key id: 1-32 of A-Z a-z 0-9 _ . -)"
                )
            try:
                key = base64.b64decode(b64.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise _bad_config(f"GATEWAY_DATA_KEYS key {kid!r} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise _bad_config(
                    f"GATEWAY_DATA_KEYS key {kid!r} must be {KEY_BYTES} bytes "
                    f"(base64 of 32 random bytes), not {len(key)}"
                )
            if kid in keys:
                raise _bad_config(f"GATEWAY_DATA_KEYS names key {kid!r} twice")
            keys[kid] = key
        if active is not None and active.strip():
            active = active.strip()
            if active not in keys:
                raise DataKeyMissingError(
                    f"GATEWAY_ACTIVE_DATA_KEY {active!r} is not in GATEWAY_DATA_KEYS"
                )
        elif len(keys) == 1:
            active = next(iter(keys))
        elif keys:
            raise _bad_config(
                "GATEWAY_DATA_KEYS holds several keys: set "
                "GATEWAY_ACTIVE_DATA_KEY to the key id new data is encrypted under"
            )
        else:
            active = None
        return cls(keys=keys, active=active)

    @classmethod
    def from_settings(cls, settings: Any) -> KeyRing:
        secret = getattr(settings, "data_keys", None)
        spec = secret.get_secret_value() if secret is not None else None
        return cls.parse(spec, getattr(settings, "active_data_key", None))

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise DataKeyMissingError(
                f"data key {key_id!r} is not in the key ring (GATEWAY_DATA_KEYS, or the keys "
                "file when that is unset): restore the keys file this data was written with from "
                "its backup, or add the key back (old keys must stay in the ring until "
                "`gateway keys rotate-data-key` has finished)"
            ) from None

    def active_key(self) -> tuple[str, bytes]:
        if self.active is None:
            raise ConfigError("no data key configured (GATEWAY_DATA_KEYS)", code="data_keys_off")
        return self.active, self.keys[self.active]

    def fingerprint(self, key_id: str) -> bytes:
        """8 bytes that tell a wrong key from tampering (an HMAC of a constant, not the key)."""
        return hmac.new(self.key(key_id), b"gateway data key check v1", hashlib.sha256).digest()[:8]

    def index_key(self) -> bytes:
        """Key of ``blind_index``: derived from the FIRST key in the ring, so rotating the
        active key does not change lookup hashes (keep that key in the ring; see docs)."""
        if not self.keys:
            raise ConfigError("no data key configured (GATEWAY_DATA_KEYS)", code="data_keys_off")
        first = next(iter(self.keys.values()))
        return hmac.new(first, b"gateway blind index v1", hashlib.sha256).digest()


def new_key() -> str:
    """A fresh random data key, base64 (for ``GATEWAY_DATA_KEYS``)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def seal_text(ring: KeyRing, value: str, *, context: str) -> str:
    """``v1:<keyid>:<nonce>:<ct>`` of ``value`` under the active key; ``context`` (table.column)
    is authenticated so the value only opens in the column it was written to."""
    # cryptography is imported where a value is sealed or opened: parsing the ring (every
    # command checks it at start-up) needs none of it
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kid, key = ring.active_key()
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(key).encrypt(nonce, value.encode("utf-8"), f"{kid}|{context}".encode())
    return f"{COLUMN_PREFIX}{kid}:{_b64e(nonce)}:{_b64e(ct)}"


def column_key_id(stored: str) -> str | None:
    """The key id of a sealed column value (None: legacy plaintext)."""
    if not stored.startswith(COLUMN_PREFIX):
        return None
    return stored[len(COLUMN_PREFIX) :].split(":", 1)[0]


def open_text(ring: KeyRing, stored: str, *, context: str) -> str:
    """The plaintext of a ``seal_text`` value (legacy plaintext passes through unchanged)."""
    if not stored.startswith(COLUMN_PREFIX):
        return stored
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        kid, nonce_s, ct_s = stored[len(COLUMN_PREFIX) :].split(":")
        nonce, ct = _b64d(nonce_s), _b64d(ct_s)
    except (ValueError, binascii.Error):
        raise DecryptionError(f"encrypted value in {context} is malformed") from None
    key = ring.key(kid)
    try:
        plain = AESGCM(key).decrypt(nonce, ct, f"{kid}|{context}".encode())
    except (InvalidTag, ValueError):
        raise DecryptionError(
            f"encrypted value in {context} failed authentication with data "
            f"key {kid!r} (wrong key or tampered data)"
        ) from None
    return plain.decode("utf-8")


def blind_index(ring: KeyRing, value: str, *, context: str) -> str:
    """Keyed hash (HMAC-SHA256, hex) for equality lookups on an encrypted column."""
    return hmac.new(ring.index_key(), f"{context}|{value}".encode(), hashlib.sha256).hexdigest()


__all__ = [
    "COLUMN_PREFIX",
    "DataKeyMismatchError",
    "DataKeyMissingError",
    "DecryptionError",
    "KeyRing",
    "blind_index",
    "column_key_id",
    "new_key",
    "open_text",
    "seal_text",
]
