"""The local inbox folder (``GATEWAY_INBOX``): accept files, then move them out.

A file leaves the inbox (moved to ``data_dir/inbox-accepted/<date>/`` or deleted) only after
``accept_path`` returned, i.e. after its bytes are fsynced in the raw store and its registry
row is committed. Files still being written are left alone: dot-files, ``*.part``/``*.tmp``,
and files modified less than ``settle_seconds`` ago. A file that cannot be accepted (too large)
is moved to ``inbox-rejected/`` next to a ``.reason`` file so it does not block the inbox.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway.errors import InputError
from gateway.intake.service import AcceptResult, SessionSource, accept_path
from gateway.logging import get_logger
from gateway.security.names import safe_component
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


def _move(path: Path, target_dir: Path, name: str) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    shutil.move(path, target)  # a rename on one filesystem, copy+delete across
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
            result = accept_path(db, store, path, source="inbox", original_name=rel,
                                 max_bytes=max_bytes)
        except InputError as exc:
            target = _move(path, data_dir / "inbox-rejected" / day, safe_component(path.name))
            target.with_name(target.name + ".reason").write_text(f"{exc.code}: {exc.message}\n")
            log.warning("inbox_file_rejected", error_code=exc.code, path=str(target))
            scan.rejected.append(target)
            continue
        if keep_accepted:
            _move(path, data_dir / "inbox-accepted" / day,
                  safe_component(f"{result.file_id}-{path.name}"))
        else:
            path.unlink()
        scan.accepted.append(result)
    return scan
