"""What sits in a partner's SFTP inbox and what happens to it after the pull: the listing
(regular files matching the profile's pattern, plain names only), the stability check that
tells a finished file from one still being written, and the archive-or-delete step.

Split from ``gateway.intake.pull`` so the pull loop (sessions, threads, the acceptor) reads
apart from the rules about the remote files themselves.
"""

from __future__ import annotations

import posixpath
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase

import paramiko

from gateway.logging import get_logger
from gateway.security.filenames import is_plain_remote_name
from gateway.sftp import remote
from mappings.partners import PartnerProfile

log = get_logger("gateway.intake")


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    name: str
    size: int
    mtime: int


def list_inbox(sftp: paramiko.SFTPClient, profile: PartnerProfile) -> dict[str, RemoteEntry]:
    """Regular files in the inbox whose names match the profile's pattern."""
    assert profile.inbox_dir is not None
    with remote(profile, "list_inbox", profile.inbox_dir):
        attrs = sftp.listdir_attr(profile.inbox_dir)
    out: dict[str, RemoteEntry] = {}
    for a in attrs:
        if a.st_mode is None or not stat.S_ISREG(a.st_mode):
            continue
        if a.filename.startswith(".") or not fnmatchcase(a.filename, profile.filename_pattern):
            continue
        if not is_plain_remote_name(a.filename):
            # we rename/delete by this name later: a server must not steer us out of the inbox
            log.warning("sftp_name_refused", partner=profile.id, name_length=len(a.filename))
            continue
        out[a.filename] = RemoteEntry(a.filename, int(a.st_size or 0), int(a.st_mtime or 0))
    return out


class StabilityTracker:
    """A file is ready when its size and mtime stayed the same for ``stable_seconds``
    (two looks), or its mtime is older than ``min_age_seconds`` by our clock.

    SFTP v3 mtimes have one-second resolution, so the size is what usually gives a writer away.
    Keep one tracker per partner across polls: then the previous poll is the first look.
    """

    def __init__(
        self,
        stable_seconds: float,
        min_age_seconds: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.stable_seconds = stable_seconds
        self.min_age_seconds = min_age_seconds
        self._clock = clock
        self._wall = wall
        self._seen: dict[str, tuple[int, int, float]] = {}

    def observe(self, listing: Mapping[str, RemoteEntry]) -> tuple[list[RemoteEntry], list[str]]:
        """Record one look; return (ready entries, names still pending)."""
        now = self._clock()
        for name in list(self._seen):
            if name not in listing:
                del self._seen[name]
        ready: list[RemoteEntry] = []
        pending: list[str] = []
        for name, e in sorted(listing.items()):
            prev = self._seen.get(name)
            if prev is None or (prev[0], prev[1]) != (e.size, e.mtime):
                self._seen[name] = (e.size, e.mtime, now)
                prev = self._seen[name]
            old = self.min_age_seconds > 0 and self._wall() - e.mtime >= self.min_age_seconds
            if old or now - prev[2] >= self.stable_seconds:
                ready.append(e)
            else:
                pending.append(name)
        return ready, pending

    def wait_needed(self, names: list[str]) -> float:
        now = self._clock()
        waits = [self._seen[n][2] + self.stable_seconds - now for n in names if n in self._seen]
        return max(0.0, min(waits)) if waits else 0.0


def finish_remote(
    sftp: paramiko.SFTPClient, profile: PartnerProfile, name: str, sha256: str
) -> tuple[str, str | None]:
    """Archive or delete the pulled file; an archived file is never overwritten.

    Archiving uses the SFTP v3 ``rename``, which fails when the target exists (OpenSSH
    included): one round trip in the normal case; on a clash the file goes to a name stamped
    with the time and its sha256.
    """
    assert profile.inbox_dir is not None
    src = posixpath.join(profile.inbox_dir, name)
    if profile.after_pull == "delete":
        with remote(profile, "delete", src):
            sftp.remove(src)
        return "deleted", None
    assert profile.archive_dir is not None
    target = posixpath.join(profile.archive_dir, name)
    with remote(profile, "archive", src):
        try:
            sftp.rename(src, target)
        except (PermissionError, FileNotFoundError):
            raise
        except OSError:
            if not _exists(sftp, target):
                raise  # the rename failed for another reason: report that
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            target = posixpath.join(profile.archive_dir, f"{name}.{stamp}-{sha256[:12]}")
            sftp.rename(src, target)
    return "archived", target


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


__all__ = ["RemoteEntry", "StabilityTracker", "finish_remote", "list_inbox"]
