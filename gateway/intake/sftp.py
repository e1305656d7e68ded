"""SFTP adapter (paramiko): pinned host keys, typed errors, bounded retries, safe pulls.

Errors::

    PermanentError
    ├── HostKeyError           unknown or changed host key: refuse, never retry, alert
    ├── AuthError              the server refused our credentials: never retry
    ├── RemotePermissionError  the server denied one operation on one path
    └── RemoteMissingError     a path vanished or a folder does not exist
    TransientError
    └── SftpTransientError     refused/reset/timeout/EOF: retried with backoff, then recorded

A pull is a sequence of idempotent steps: list → wait until stable → stream to a local temp file →
check size → hand to the acceptor (which makes it durable and dedupes by sha256) → archive or
delete remotely. A crash between any two steps repeats the earlier ones on the next poll; the
acceptor reports the repeat as a duplicate and the file is then archived. So every file is ingested
exactly once and the remote copy only goes away after our copy is durable.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Protocol, TypeVar

import paramiko
import tenacity

from gateway.errors import GatewayError, PermanentError, TransientError
from gateway.logging import get_logger
from mappings.partners import PartnerProfile

log = get_logger("gateway.sftp")

CHUNK = 1 << 20  # local read size for hashing and uploads
READ_SIZE = 32768  # one SFTP read request; paramiko's prefetch keeps many in flight
PREFETCH_FROM = 4 * READ_SIZE  # smaller files take a few plain requests, no prefetch thread
T = TypeVar("T")


class HostKeyError(PermanentError):
    """The server's host key is unknown or differs from the pinned one."""

    code = "host_key_rejected"


class AuthError(PermanentError):
    """The server refused our credentials."""

    code = "auth_failed"


class RemotePermissionError(PermanentError):
    """The server denied the operation."""

    code = "remote_permission_denied"


class RemoteMissingError(PermanentError):
    """The remote path does not exist."""

    code = "remote_missing"


class SftpTransientError(TransientError):
    """The connection failed or dropped; retrying may help."""

    code = "sftp_transient"


class Sink(Protocol):
    """Where downloaded bytes go: a temp file, or a hasher when verifying a delivery."""

    def write(self, data: bytes, /) -> object: ...


class PollCancelledError(GatewayError):
    """The poller is stopping; abandon the current backoff."""

    code = "cancelled"


# --------------------------------------------------------------------------- acceptor contract


class AcceptResultLike(Protocol):
    """What the ingest pipeline reports once a file is durable and registered."""

    @property
    def file_id(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def state(self) -> str: ...


class Acceptor(Protocol):
    """``gateway.intake.accept_path`` bound to its db and store; returns only once durable."""

    def __call__(self, path: Path, *, source: str, original_name: str) -> AcceptResultLike: ...


# --------------------------------------------------------------------------- failure records


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One failed operation, kept for operators (ids and reasons, never file contents)."""

    partner_id: str
    operation: str
    code: str
    reason: str
    remote_path: str | None = None
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


class FailureSink(Protocol):
    def record_failure(self, failure: FailureRecord) -> None: ...


class JsonlFailureLog:
    """Append-only JSON lines, fsynced per record; the DB-backed sink can replace it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record_failure(self, failure: FailureRecord) -> None:
        line = json.dumps(asdict(failure), sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[FailureRecord]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [FailureRecord(**json.loads(line)) for line in fh if line.strip()]


# --------------------------------------------------------------------------- connecting


class _RejectUnpinned(paramiko.RejectPolicy):  # type: ignore[misc]
    """Refuse any host whose key is not the pinned one (paramiko calls this for unknown hosts)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        raise HostKeyError(
            f"host key for {hostname} is not the pinned one (server offered {key.get_name()} "
            f"{key.fingerprint})",
            location={"host": hostname},
        )


_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _slot(profile: PartnerProfile) -> threading.BoundedSemaphore:
    with _slots_lock:
        sem = _slots.get(profile.id)
        if sem is None:
            sem = _slots[profile.id] = threading.BoundedSemaphore(profile.max_connections)
        return sem


def translate(exc: BaseException, profile: PartnerProfile, operation: str,
              remote_path: str | None = None) -> GatewayError:
    """Map a paramiko/socket error to our tree; the caller raises it ``from exc``."""
    where: dict[str, object] = {"partner": profile.id, "operation": operation}
    if remote_path is not None:
        where["remote_path"] = remote_path
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            f"host key for {profile.host_key_name} changed: expected "
            f"{exc.expected_key.fingerprint}, got {exc.key.fingerprint}", location=where)
    if isinstance(exc, paramiko.AuthenticationException):
        return AuthError(f"{profile.username}@{profile.host_key_name} refused our credentials "
                         f"({exc})", location=where)
    if isinstance(exc, PermissionError):
        return RemotePermissionError(f"permission denied: {remote_path or operation}",
                                     location=where)
    if isinstance(exc, FileNotFoundError):
        return RemoteMissingError(f"no such remote file or folder: {remote_path or operation}",
                                  location=where)
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, socket.timeout | TimeoutError | ConnectionError | EOFError
                  | paramiko.SSHException | OSError):
        return SftpTransientError(f"{operation} failed: {reason}", location=where)
    return SftpTransientError(f"{operation} failed unexpectedly: {reason}", location=where)


@contextmanager
def remote(profile: PartnerProfile, operation: str,
           remote_path: str | None = None) -> Iterator[None]:
    """Translate errors of the remote calls in the block (and only those)."""
    try:
        yield
    except GatewayError:
        raise
    except Exception as exc:
        raise translate(exc, profile, operation, remote_path) from exc


@contextmanager
def open_sftp(profile: PartnerProfile, *,
              environ: Mapping[str, str] | None = None) -> Iterator[paramiko.SFTPClient]:
    """An SFTP session that trusts only the profile's pinned host key."""
    slot = _slot(profile)
    if not slot.acquire(timeout=profile.timeouts.operation_seconds):
        raise SftpTransientError(f"all {profile.max_connections} connections to "
                                 f"{profile.id} are busy", location={"partner": profile.id})
    client = paramiko.SSHClient()
    try:
        # The client's own HostKeys, filled only from the profile: never ~/.ssh/known_hosts.
        pinned = client.get_host_keys()
        for name, keys in profile.host_keys().items():
            for keytype, key in keys.items():
                pinned.add(name, keytype, key)
        client.set_missing_host_key_policy(_RejectUnpinned())
        pkey: paramiko.PKey | None = None
        with remote(profile, "load_private_key", str(profile.auth.private_key_path)):
            if profile.auth.private_key_path is not None:
                pkey = paramiko.PKey.from_path(profile.auth.private_key_path)
        password = profile.auth.password(environ)
        t = profile.timeouts
        with remote(profile, "connect"):
            client.connect(
                profile.host, port=profile.port, username=profile.username, pkey=pkey,
                password=password, timeout=t.connect_seconds, banner_timeout=t.banner_seconds,
                auth_timeout=t.auth_seconds, channel_timeout=t.operation_seconds,
                look_for_keys=False, allow_agent=False,
            )
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(t.operation_seconds)
        try:
            yield sftp
        finally:
            _close_quietly(sftp)
    finally:
        _close_quietly(client)
        slot.release()


def _close_quietly(conn: paramiko.SFTPClient | paramiko.SSHClient) -> None:
    """Closing a dropped connection raises (EOFError, socket errors); that must never mask the
    error that ended the session, nor turn a retryable failure into an unhandled one."""
    try:
        conn.close()
    except Exception as exc:
        log.debug("sftp_close_failed", error=type(exc).__name__)


def _log_retry(profile: PartnerProfile,
               operation: str) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("sftp_retry", partner=profile.id, operation=operation,
                    attempt=state.attempt_number,
                    sleep_seconds=round(state.next_action.sleep, 3) if state.next_action else None,
                    code=getattr(exc, "code", None), reason=str(exc))
    return before_sleep


def _sleeper(stop: threading.Event | None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if stop is None:
            time.sleep(seconds)
        elif stop.wait(seconds):
            raise PollCancelledError()
    return sleep


def with_retry(profile: PartnerProfile, operation: str, fn: Callable[[], T], *,
               failures: FailureSink | None, stop: threading.Event | None = None,
               remote_path: str | None = None) -> T:
    """Run ``fn`` retrying only ``TransientError`` (bounded, exponential, jittered).

    Whatever finally fails is logged and written as a failure record, then re-raised.
    Host-key and authentication failures are alert-level: an operator must act.
    """
    policy = profile.retry
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=tenacity.stop_after_attempt(policy.attempts),
        # initial·2^(n-1) capped at max, plus up to jitter: spreads reconnects after an outage.
        wait=(tenacity.wait_exponential(multiplier=policy.initial_seconds,
                                        max=policy.max_seconds)
              + tenacity.wait_random(0, policy.jitter_seconds)),
        before_sleep=_log_retry(profile, operation),
        sleep=_sleeper(stop),
        reraise=True,
    )
    try:
        return retrying(fn)
    except PollCancelledError:
        raise
    except GatewayError as exc:
        report_failure(profile, operation, exc, failures=failures, remote_path=remote_path)
        raise


def report_failure(profile: PartnerProfile, operation: str, exc: GatewayError, *,
                   failures: FailureSink | None, remote_path: str | None = None) -> FailureRecord:
    path = remote_path or str(exc.location.get("remote_path") or "") or None
    record = FailureRecord(partner_id=profile.id, operation=operation, code=exc.code,
                           reason=exc.message, remote_path=path)
    if isinstance(exc, HostKeyError | AuthError):
        log.critical("sftp_partner_refused", alert=True, partner=profile.id, code=exc.code,
                     reason=exc.message, operation=operation)
    else:
        log.error("sftp_operation_failed", partner=profile.id, code=exc.code,
                  reason=exc.message, operation=operation, remote_path=path)
    if failures is not None:
        failures.record_failure(record)
    return record


# --------------------------------------------------------------------------- listing, stability


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
        out[a.filename] = RemoteEntry(a.filename, int(a.st_size or 0), int(a.st_mtime or 0))
    return out


class StabilityTracker:
    """A file is ready when its size and mtime stayed the same for ``stable_seconds``
    (two looks), or its mtime is older than ``min_age_seconds`` by our clock.

    SFTP v3 mtimes have one-second resolution, so the size is what usually gives a writer away.
    Keep one tracker per partner across polls: then the previous poll is the first look.
    """

    def __init__(self, stable_seconds: float, min_age_seconds: float = 0.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
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


# --------------------------------------------------------------------------- pulling


def download(sftp: paramiko.SFTPClient, remote_path: str, dest: Sink, *,
             expected_size: int, on_progress: Callable[[int], None] | None = None,
             digest: bool = True) -> tuple[int, str | None]:
    """Stream a remote file into ``dest`` with pipelined reads; return (bytes, sha256 or None).

    Reads are one SFTP request (32 KiB) each: paramiko serves them straight from its prefetch
    buffers, while larger reads get reassembled by concatenation and run at half the speed.
    """
    hasher = hashlib.sha256() if digest else None
    total = 0
    with sftp.open(remote_path, "rb") as fh:
        if expected_size > PREFETCH_FROM:
            fh.prefetch(expected_size)  # starts a thread: worth it only past a few requests
        while True:
            data = fh.read(READ_SIZE)
            if not data:
                break
            dest.write(data)
            if hasher is not None:
                hasher.update(data)
            total += len(data)
            if on_progress is not None:
                on_progress(total)
    return total, hasher.hexdigest() if hasher is not None else None


@dataclass(frozen=True, slots=True)
class PulledFile:
    remote_name: str
    size: int
    sha256: str
    file_id: int
    duplicate: bool
    disposition: str  # "archived" | "deleted" | "kept" (the after-pull step failed)
    remote_final_path: str | None


@dataclass(slots=True)
class PollResult:
    partner_id: str
    pulled: list[PulledFile] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)
    error: str | None = None  # code of the error that ended the poll, if any

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures


def _archive_target(sftp: paramiko.SFTPClient, profile: PartnerProfile, name: str,
                    sha256: str) -> str:
    assert profile.archive_dir is not None
    target = posixpath.join(profile.archive_dir, name)
    try:
        sftp.stat(target)
    except FileNotFoundError:
        return target
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return posixpath.join(profile.archive_dir, f"{name}.{stamp}-{sha256[:12]}")


def finish_remote(sftp: paramiko.SFTPClient, profile: PartnerProfile, name: str,
                  sha256: str) -> tuple[str, str | None]:
    """Archive (posix-rename, never overwriting an archived file) or delete the pulled file."""
    assert profile.inbox_dir is not None
    src = posixpath.join(profile.inbox_dir, name)
    if profile.after_pull == "delete":
        with remote(profile, "delete", src):
            sftp.remove(src)
        return "deleted", None
    with remote(profile, "archive", src):
        target = _archive_target(sftp, profile, name, sha256)
        sftp.posix_rename(src, target)
    return "archived", target


class Poll:
    """One poll of one partner; ``run`` retries transient failures as a whole (steps are
    idempotent) and remembers within the poll which files are settled."""

    def __init__(self, profile: PartnerProfile, acceptor: Acceptor, *, staging_dir: Path,
                 failures: FailureSink | None = None, tracker: StabilityTracker | None = None,
                 environ: Mapping[str, str] | None = None, stop: threading.Event | None = None,
                 on_progress: Callable[[str, int], None] | None = None) -> None:
        if profile.inbox_dir is None:
            raise PermanentError(f"partner {profile.id} has no inbox_dir to poll")
        self.profile = profile
        self.acceptor = acceptor
        self.staging_dir = staging_dir
        self.failures = failures
        self.tracker = tracker or StabilityTracker(profile.stable_seconds, profile.min_age_seconds)
        self.environ = environ
        self.stop = stop
        self.on_progress = on_progress
        self.result = PollResult(profile.id)
        self._done: set[tuple[str, int, int]] = set()

    def run(self) -> PollResult:
        self._clean_staging()
        try:
            with_retry(self.profile, "poll", self._session, failures=self,
                       stop=self.stop)
        except PollCancelledError:
            self.result.error = PollCancelledError.code
        except GatewayError as exc:
            self.result.error = exc.code
        log.info("sftp_poll_done", partner=self.profile.id, pulled=len(self.result.pulled),
                 pending=len(self.result.pending), failures=len(self.result.failures),
                 error=self.result.error)
        return self.result

    def record_failure(self, failure: FailureRecord) -> None:
        self.result.failures.append(failure)
        if self.failures is not None:
            self.failures.record_failure(failure)

    def _clean_staging(self) -> None:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.staging_dir.glob(f".{self.profile.id}--*.part"):
            leftover.unlink(missing_ok=True)

    def _session(self) -> None:
        with open_sftp(self.profile, environ=self.environ) as sftp:
            ready, pending = self.tracker.observe(list_inbox(sftp, self.profile))
            if pending:
                wait = self.tracker.wait_needed(pending)
                _sleeper(self.stop)(wait)
                ready, pending = self.tracker.observe(list_inbox(sftp, self.profile))
            self.result.pending = pending
            for entry in ready:
                key = (entry.name, entry.size, entry.mtime)
                if key in self._done:
                    continue
                try:
                    pulled = self._pull_one(sftp, entry)
                except TransientError:
                    raise  # the whole session is retried; settled files are skipped
                except PermanentError as exc:
                    report_failure(self.profile, "pull", exc, failures=self,
                                   remote_path=posixpath.join(self.profile.inbox_dir or "",
                                                              entry.name))
                    self._done.add(key)
                    continue
                self._done.add(key)
                if pulled is not None:
                    self.result.pulled.append(pulled)

    def _pull_one(self, sftp: paramiko.SFTPClient, entry: RemoteEntry) -> PulledFile | None:
        profile = self.profile
        assert profile.inbox_dir is not None
        src = posixpath.join(profile.inbox_dir, entry.name)
        tmp = self.staging_dir / f".{profile.id}--{uuid.uuid4().hex}.part"
        progress = None
        if self.on_progress is not None:
            cb = self.on_progress
            def progress(n: int) -> None:
                cb(entry.name, n)
        try:
            with tmp.open("wb") as dest, remote(profile, "download", src):
                # No hash here: the acceptor hashes what it stores (one pass, not two).
                size, _ = download(sftp, src, dest, expected_size=entry.size,
                                   on_progress=progress, digest=False)
            if size != entry.size:
                # Still being written (or replaced) after all: leave it for a later poll.
                log.warning("sftp_file_changed", partner=profile.id, remote_name=entry.name,
                            listed_size=entry.size, read_size=size)
                self.result.pending.append(entry.name)
                return None
            accepted = self.acceptor(tmp, source=f"sftp:{profile.id}",
                                     original_name=entry.name)
        finally:
            tmp.unlink(missing_ok=True)
        sha = accepted.sha256
        if accepted.size != size:
            raise PermanentError(f"acceptor stored {accepted.size} bytes for {entry.name} "
                                 f"but {size} bytes were pulled")
        log.info("sftp_file_accepted", partner=profile.id, remote_name=entry.name,
                 file_id=accepted.file_id, size=size, sha256=sha, duplicate=accepted.duplicate)
        disposition, final = "kept", None
        try:
            disposition, final = finish_remote(sftp, profile, entry.name, sha)
        except PermanentError as exc:
            report_failure(profile, profile.after_pull, exc, failures=self, remote_path=src)
        return PulledFile(entry.name, size, sha, accepted.file_id, accepted.duplicate,
                          disposition, final)


def poll_partner(profile: PartnerProfile, acceptor: Acceptor, *, staging_dir: Path,
                 failures: FailureSink | None = None, tracker: StabilityTracker | None = None,
                 environ: Mapping[str, str] | None = None, stop: threading.Event | None = None,
                 on_progress: Callable[[str, int], None] | None = None) -> PollResult:
    """Pull every stable file from one partner's inbox once; see the module docstring."""
    return Poll(profile, acceptor, staging_dir=staging_dir, failures=failures, tracker=tracker,
                environ=environ, stop=stop, on_progress=on_progress).run()


@dataclass(frozen=True, slots=True)
class FolderCheck:
    role: str
    path: str
    ok: bool
    detail: str


def probe(sftp: paramiko.SFTPClient, profile: PartnerProfile) -> list[FolderCheck]:
    """Check each folder the profile names exists and can be listed; used by ``partners check``."""
    out: list[FolderCheck] = []
    for role in ("inbox_dir", "archive_dir", "ack_dir", "outbound_dir"):
        path: str | None = getattr(profile, role)
        if path is None:
            continue
        try:
            st = sftp.stat(path)
            if st.st_mode is not None and not stat.S_ISDIR(st.st_mode):
                out.append(FolderCheck(role, path, False, "exists but is not a folder"))
                continue
            count = len(sftp.listdir(path))
            out.append(FolderCheck(role, path, True, f"{count} entries"))
        except PermissionError:
            out.append(FolderCheck(role, path, False, "permission denied"))
        except FileNotFoundError:
            out.append(FolderCheck(role, path, False, "does not exist"))
        except (OSError, paramiko.SSHException) as exc:
            raise translate(exc, profile, "probe", path) from exc
    return out


__all__ = [
    "AcceptResultLike", "Acceptor", "AuthError", "FailureRecord", "FailureSink", "FolderCheck",
    "HostKeyError",
    "JsonlFailureLog", "Poll", "PollCancelledError", "PollResult", "PulledFile", "RemoteEntry",
    "RemoteMissingError", "RemotePermissionError", "SftpTransientError", "Sink", "StabilityTracker",
    "download", "finish_remote", "list_inbox", "open_sftp", "poll_partner", "probe", "remote",
    "report_failure", "translate", "with_retry",
]
