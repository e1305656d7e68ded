"""Files and folders the gateway creates are private: 0600 (raw blobs 0400) and 0700.

The process umask decides the mode of everything created with the default mode, and a host or
container with ``umask 000`` (or the common 022) left ``gateway.db`` and its WAL readable by
every local user, with PHI in them. These helpers set the mode explicitly, whatever the umask:
``mkdir``/``open`` with the private mode (a umask can only remove bits) followed by ``chmod``
(so an odd umask that removes owner bits cannot leave a folder we cannot use). SQLite gives its
``-wal`` and ``-shm`` files the mode of the database file, so creating ``gateway.db`` private
makes them private too. ``gateway`` (the CLI) also sets ``umask 077`` for everything else it
writes (exports, reports, acknowledgments).

Folders and files that already exist are left as they are: they are the operator's.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
PROCESS_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700; existing folders are not touched."""
    missing: list[Path] = []
    d = path
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by another process: theirs to have made
        os.chmod(d, DIR_MODE)
    return path


def private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600 (``exclusive``: refuse an existing file)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), FILE_MODE)
        out.write(data)


def make_private(path: Path) -> None:
    """chmod 0600 a file we took over (moved into our folders); best effort if not ours."""
    with contextlib.suppress(PermissionError):
        os.chmod(path, FILE_MODE)


__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "PROCESS_UMASK",
    "make_private",
    "private_dir",
    "private_file",
    "write_private",
]
