"""Encryption at rest of raw files: a ``StreamTransform`` every backend applies after hashing.

Format (version 1), streamed so a 200 MB file is never whole in memory::

    header  = b"\\x00GWENC" | 0x01 | len(keyid) | keyid | key fingerprint (8) | blob id (16)
    record  = len(ct) (4, big-endian) | nonce (12) | ct (AES-256-GCM, tag included)
    AAD     = header | record index (8, big-endian) | final flag (1)

The random blob id in the header and the record index in the associated data stop records from
being reordered, dropped, or swapped in from another file; the final flag stops truncation.
The content address stays the sha256 of the PLAINTEXT (dedupe is unchanged) and the backends
verify it after decryption, so whole-file swaps between addresses are caught too.

``encode`` yields exactly one output per input chunk (the header rides on the first), so a
backend's chunk or multipart-part layout is unchanged. Data without the header is legacy
plaintext (stored before keys were configured) and passes through; ``gateway keys
rotate-data-key`` encrypts it. With no key configured ``encode`` stores plaintext.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.security.crypto import (
    NONCE_BYTES,
    DataKeyMismatchError,
    KeyRing,
)
from gateway.store.base import BlobCorruptError

MAGIC = b"\x00GWENC"
VERSION = 1
BLOB_ID_BYTES = 16
TAG_BYTES = 16
#: a record longer than this is corruption (the largest chunk any backend writes is 8 MiB)
MAX_RECORD = 64 * 1024 * 1024 + TAG_BYTES
_LEN = struct.Struct(">I")
_IDX = struct.Struct(">Q")


class RawDecryptionError(BlobCorruptError):
    """A stored raw file failed authenticated decryption (tampered or truncated)."""

    code = "raw_decrypt_failed"


def header_key_id(head: bytes) -> str | None:
    """The key id of stored bytes starting with ``head`` (None: plaintext)."""
    if not head.startswith(MAGIC) or len(head) < len(MAGIC) + 2:
        return None
    n = head[len(MAGIC) + 1]
    kid = head[len(MAGIC) + 2 : len(MAGIC) + 2 + n]
    return kid.decode("ascii", "replace") if len(kid) == n else None


class EncryptingTransform:
    """AES-256-GCM record framing of raw-file chunks under a ``KeyRing``."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring

    @property
    def enabled(self) -> bool:
        return self.ring.enabled

    def needs_rotation(self, head: bytes) -> bool:
        """Whether stored bytes starting with ``head`` are not under the active key."""
        return self.ring.enabled and header_key_id(head) != self.ring.active

    # -- writing ----------------------------------------------------------------------------

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        if not self.ring.enabled:
            yield from chunks
            return
        kid, key = self.ring.active_key()
        kid_b = kid.encode("ascii")
        header = (
            MAGIC
            + bytes([VERSION, len(kid_b)])
            + kid_b
            + self.ring.fingerprint(kid)
            + os.urandom(BLOB_ID_BYTES)
        )
        aead = AESGCM(key)
        it = iter(chunks)
        current = next(it, b"")
        index = 0
        while True:
            following = next(it, None)  # one chunk of lookahead tells us the final record
            final = following is None
            nonce = os.urandom(NONCE_BYTES)
            aad = header + _IDX.pack(index) + (b"\x01" if final else b"\x00")
            ct = aead.encrypt(nonce, current, aad)
            current = b""  # drop each plaintext and ciphertext as soon as it is copied on:
            record = (header if index == 0 else b"") + _LEN.pack(len(ct)) + nonce + ct
            del ct  # a large part (s3: 8 MiB) is then held twice at most, not four times
            yield record
            del record
            if following is None:
                return
            current = following
            index += 1

    # -- reading ----------------------------------------------------------------------------

    def decode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        it = iter(chunks)
        buf = bytearray()
        for chunk in it:  # enough bytes to tell ciphertext from legacy plaintext
            buf += chunk
            if len(buf) >= len(MAGIC):
                break
        if not buf.startswith(MAGIC):
            if buf:
                yield bytes(buf)
            yield from it
            return
        yield from self._decrypt(buf, it)

    def _decrypt(self, buf: bytearray, it: Iterator[bytes]) -> Iterator[bytes]:
        def need(n: int) -> bool:
            while len(buf) < n:
                more = next(it, None)
                if more is None:
                    return False
                buf.extend(more)
            return True

        fixed = len(MAGIC) + 2
        if not need(fixed) or buf[len(MAGIC)] != VERSION:
            raise RawDecryptionError("raw file has an unknown encryption header")
        n = buf[len(MAGIC) + 1]
        hlen = fixed + n + 8 + BLOB_ID_BYTES
        if not need(hlen):
            raise RawDecryptionError("raw file encryption header is truncated")
        header = bytes(buf[:hlen])
        kid = header[fixed : fixed + n].decode("ascii", "replace")
        key = self.ring.key(kid)  # DataKeyMissingError names the key id
        if header[fixed + n : fixed + n + 8] != self.ring.fingerprint(kid):
            raise DataKeyMismatchError(
                f"data key {kid!r} in GATEWAY_DATA_KEYS is not the key this raw file was "
                "encrypted with"
            )
        del buf[:hlen]
        aead = AESGCM(key)
        index = 0
        while True:
            if not need(_LEN.size):
                raise RawDecryptionError(
                    f"raw file encrypted under key {kid!r} is truncated (no final record)"
                )
            (clen,) = _LEN.unpack_from(buf)
            if clen < TAG_BYTES or clen > MAX_RECORD:
                raise RawDecryptionError(f"raw file record {index} has an invalid length")
            total = _LEN.size + NONCE_BYTES + clen
            if not need(total):
                raise RawDecryptionError(f"raw file record {index} is truncated")
            nonce = bytes(buf[_LEN.size : _LEN.size + NONCE_BYTES])
            final = not need(total + 1)  # nothing after this record: it must be the last
            aad = header + _IDX.pack(index) + (b"\x01" if final else b"\x00")
            try:  # decrypted in place (no copy of the record: large s3 parts stay cheap)
                with memoryview(buf) as view:
                    plain = aead.decrypt(nonce, view[_LEN.size + NONCE_BYTES : total], aad)
            except InvalidTag:
                raise RawDecryptionError(
                    f"raw file record {index} failed authentication under data key {kid!r} "
                    "(tampered, reordered or truncated ciphertext)"
                ) from None
            del buf[:total]
            if plain:
                yield plain
            if final:
                return
            index += 1


__all__ = ["MAGIC", "EncryptingTransform", "RawDecryptionError", "header_key_id"]
