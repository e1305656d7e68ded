"""The local inbox folder (``GATEWAY_INBOX``): accept files, then move them out.

A file leaves the inbox (moved to ``data_dir/inbox-accepted/<date>/`` or deleted) only after
``accept_path`` returned, i.e. after its bytes are fsynced in the raw store and its registry
row is committed. Files still being written are left alone: dot-files, ``*.part``/``*.tmp``,
and files modified less than ``settle_seconds`` ago. A file that cannot be accepted (too large)
is moved to ``inbox-rejected/`` next to a ``.reason`` file so it does not block the inbox.
Archive names never collide: a name already taken gets a ``~2``, ``~3``... suffix, and the
archives are private (0600 in 0700 folders) whatever the umask or the dropped file's mode.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from gateway.errors import InputError
from gateway.intake.service import AcceptResult, SessionSource, accept_path
from gateway.logging import get_logger
from gateway.security.filenames import MAX_COMPONENT_BYTES, safe_component
from gateway.security.fsmodes import make_private, private_dir, private_file, write_private
from gateway.store.base import RawStore

log = get_logger("gateway.inbox")
SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".filepart")


@dataclass
class InboxScan:
    accepted: list[AcceptResult] = field(default_factory=list)
    rejected: list[Path] = field(default_factory=list)


def _ready(path: Path, settle_seconds: float, now: float) -> bool:
    if path.name.startswith(".") or path.name.endswith(SKIP_SUFFIXES):
        return False
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    return now - st.st_mtime >= settle_seconds


#: room kept in a safe name for the ``~N`` (and ``.reason``) that may be added to it
_SUFFIX_ROOM = 12


def _safe(name: str, prefix: str = "") -> str:
    """``prefix`` + a safe form of ``name``, short enough for a numbered variant; the prefix
    (a file id) stays outside ``safe_component``, which keeps only a name's last component."""
    budget = MAX_COMPONENT_BYTES - len(prefix) - _SUFFIX_ROOM
    return prefix + safe_component(name, max_bytes=budget)


def _candidates(name: str) -> Iterator[str]:
    """``name``, then ``stem~2.ext``, ``stem~3.ext``, ...: never an existing archive's name."""
    yield name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    for n in count(2):
        yield f"{stem}~{n}.{ext}" if ext else f"{stem}~{n}"


def _claim(target_dir: Path, name: str, *, with_reason: bool) -> Path:
    """A new, unused name in ``target_dir``, created empty (0600) so no one else takes it."""
    for candidate in _candidates(name):
        target = target_dir / candidate
        if with_reason and target.with_name(candidate + ".reason").exists():
            continue
        if private_file(target):
            return target
    raise AssertionError("unreachable")  # pragma: no cover


def _move(path: Path, target_dir: Path, name: str, *, with_reason: bool = False) -> Path:
    """Move ``path`` into ``target_dir`` under ``name`` or, when that is taken, a numbered
    variant: an archived file is never overwritten (``a\\same.835`` and ``b\\same.835``
    both become ``same.835`` once made safe)."""
    private_dir(target_dir)
    target = _claim(target_dir, name, with_reason=with_reason)
    shutil.move(path, target)  # a rename on one filesystem (over our placeholder), else a copy
    make_private(target)
    return target


def scan_inbox(
    db: SessionSource,
    store: RawStore,
    inbox: Path,
    data_dir: Path,
    *,
    settle_seconds: float = 1.0,
    keep_accepted: bool = True,
    max_bytes: int | None = None,
) -> InboxScan:
    """Accept every ready file in ``inbox`` (recursively) and move it out."""
    scan = InboxScan()
    if not inbox.is_dir():
        return scan
    now = time.time()
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    root = inbox.resolve()
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        if not _ready(path, settle_seconds, now):
            continue
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            # a link would let whoever can write the inbox make us read any file we can
            log.warning("inbox_link_skipped", path=str(path.relative_to(inbox)))
            continue
        rel = path.relative_to(inbox).as_posix()
        try:
            result = accept_path(
                db, store, path, source="inbox", original_name=rel, max_bytes=max_bytes
            )
        except InputError as exc:
            target = _move(
                path, data_dir / "inbox-rejected" / day, _safe(path.name), with_reason=True
            )
            write_private(
                target.with_name(target.name + ".reason"), f"{exc.code}: {exc.message}\n".encode()
            )
            log.warning("inbox_file_rejected", error_code=exc.code, path=str(target))
            scan.rejected.append(target)
            continue
        if keep_accepted:
            _move(path, data_dir / "inbox-accepted" / day, _safe(path.name, f"{result.file_id}-"))
        else:
            path.unlink()
        scan.accepted.append(result)
    return scan
