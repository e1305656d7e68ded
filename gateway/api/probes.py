"""Write probes for ``/readyz``: can the gateway still write where it keeps files?

A full disk (or a read-only remount) shows up here before an upload has to fail on it: each
probe writes a few KiB under a temp name, fsyncs and removes it, so it is bounded and leaves
nothing behind. Only local folders are probed: the data dir (when it exists; a deployment on
PostgreSQL and S3 may have none) and the raw store's staging folder (``file`` backend).
"""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import suppress
from pathlib import Path

from gateway.security.fsmodes import private_dir
from gateway.settings import Settings
from gateway.store.base import RawStore

PROBE_BYTES = 4096


def write_probe(directory: Path) -> str | None:
    """None when ``directory`` takes a small fsync'd write, else the errno name (ENOSPC)."""
    name: str | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=".readyz-", dir=directory)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    finally:
        if name is not None:
            with suppress(OSError):
                os.unlink(name)
    return None


def unwritable(settings: Settings, store: RawStore) -> str | None:
    """Why the gateway's local storage cannot be written (no paths: /readyz is public)."""
    if settings.data_dir.is_dir():
        reason = write_probe(settings.data_dir)
        if reason is not None:
            return f"the data dir cannot be written ({reason})"
    staging: Path | None = getattr(store, "staging_dir", None)
    if staging is not None:
        try:
            private_dir(staging)
        except OSError as exc:
            return f"the raw store cannot be written ({errno.errorcode.get(exc.errno or 0, '')})"
        reason = write_probe(staging)
        if reason is not None:
            return f"the raw store's staging area cannot be written ({reason})"
    return None


__all__ = ["PROBE_BYTES", "unwritable", "write_probe"]
