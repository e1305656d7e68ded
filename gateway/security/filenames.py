"""File names from outside (uploads, SFTP listings, inbox files) never become paths as given.

A name a partner or uploader chose is data: it is stored (``original_name``) and shown, but any
local path the gateway builds from it goes through ``safe_component``, which returns one plain
path component of ASCII letters, digits, ``.``, ``_`` and ``-``: no separators (``/``, ``\\``
and their look-alikes such as U+2215 DIVISION SLASH), no ``..`` (nor U+FF0E FULLWIDTH FULL STOP
pairs, which NFKC turns into dots), no NUL or control characters, no leading dot, and at most
``MAX_COMPONENT_BYTES`` bytes (file systems refuse names over 255 bytes; a crash on one long
name must not block an inbox).

``is_plain_remote_name`` is the stricter check for names a remote server hands us that we then
send back to it (rename, delete): a server must not steer us out of the folder it was given.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_COMPONENT_BYTES = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: characters that are separators or that look like them after rendering
_SEPARATOR_LIKE = frozenset("/\\\x00\u2215\u2044\u29f8\uff0f\uff3c\u2216\u29f5\u29f9")


def safe_component(name: str, *, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """One safe local path component derived from ``name`` (never empty, never ``.``/``..``).

    The result keeps the name recognisable (``claims 835.txt`` → ``claims_835.txt``); when it
    had to be shortened, a short hash of the original keeps distinct names distinct.
    """
    normal = unicodedata.normalize("NFKC", name)
    # Take only the last component under every separator a client might mean.
    for sep in _SEPARATOR_LIKE:
        normal = normal.replace(sep, "/")
    normal = normal.rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", normal).lstrip(".")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)
    if not cleaned.strip("._-"):
        cleaned = "file"
    if len(cleaned) > max_bytes:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        stem, dot, ext = cleaned.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        keep = max_bytes - len(digest) - 1 - (len(ext) + 1 if ext else 0)
        cleaned = f"{(stem if ext else cleaned)[:keep]}-{digest}" + (f".{ext}" if ext else "")
    return cleaned


def is_plain_remote_name(name: str, *, max_bytes: int = 255) -> bool:
    """True when ``name`` is a single ordinary component a server may legitimately list."""
    if not name or name in {".", ".."} or len(name.encode("utf-8", "surrogatepass")) > max_bytes:
        return False
    if any(c in _SEPARATOR_LIKE or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return False
    normal = unicodedata.normalize("NFKC", name)
    return "/" not in normal and "\\" not in normal and normal not in {".", ".."}
