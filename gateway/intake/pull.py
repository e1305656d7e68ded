"""Pulling a clearinghouse's inbox over SFTP: list, wait until stable, stream each file into
the acceptor, then archive or delete it remotely.

A pull is a sequence of idempotent steps: one listing → wait until stable → stream the remote file
straight into the acceptor (the ingest pipeline's ``accept_stream``: it hashes, fsyncs and
registers as it reads; the size is checked against the listing before anything commits) → archive
or delete remotely. A crash between any two steps repeats the earlier ones on the next poll; the
acceptor reports the repeat as a duplicate and the file is then archived. So every file is ingested
exactly once and the remote copy only goes away after our copy is durable. The transport
(sessions, retries, the reader) is ``gateway.sftp``; the listing, the stability check and the
archive-or-delete step are ``gateway.intake.remote_inbox``.
"""

from __future__ import annotations

import posixpath
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import paramiko

from gateway.db.faults import classify
from gateway.errors import GatewayError, PermanentError, TransientError
from gateway.intake.remote_inbox import RemoteEntry, StabilityTracker, finish_remote, list_inbox
from gateway.logging import get_logger
from gateway.sftp import (
    ConnectionsBusyError,
    FailureRecord,
    FailureSink,
    PollCancelledError,
    ReadAhead,
    RemoteFileChangedError,
    RemoteReader,
    Translating,
    close_quietly,
    open_sftp,
    remote,
    report_failure,
    sleeper,
    with_retry,
)
from mappings.partners import PartnerProfile

log = get_logger("gateway.intake")

PARALLEL_FROM = 4  # open an extra session per this many files waiting in one poll
READ_AHEAD_FROM = 4 << 20  # files this large are read by a thread ahead of hashing and writing


class LocalSideBusyError(TransientError):
    """Our own database is busy or unreachable, or our disk is full: the file stays on the
    partner's server and the session is retried with backoff (``gateway.db.faults``)."""

    code = "intake_environment"


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
    """``gateway.intake.accept_stream`` bound to its db and store: reads ``stream`` to its end,
    makes the bytes durable, registers them and only then returns (or raises, storing nothing)."""

    def __call__(
        self, stream: BinaryIO, *, source: str, original_name: str
    ) -> AcceptResultLike: ...


class AcceptedHook(Protocol):
    """Runs after a pulled file is durable and before it is archived remotely (e.g. to note
    that acknowledgments are owed): a crash in between repeats it with the duplicate pull."""

    def __call__(
        self, profile: PartnerProfile, accepted: AcceptResultLike, remote_name: str
    ) -> None: ...


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


class Poll:
    """One poll of one partner; ``run`` retries transient failures as a whole (steps are
    idempotent) and remembers within the poll which files are settled.

    Files are pulled over up to ``max_connections`` sessions at once (the listing session plus
    extra ones when there are at least ``PARALLEL_FROM`` files), which hides the round trips of
    small files behind each other.
    """

    def __init__(
        self,
        profile: PartnerProfile,
        acceptor: Acceptor,
        *,
        failures: FailureSink | None = None,
        tracker: StabilityTracker | None = None,
        environ: Mapping[str, str] | None = None,
        stop: threading.Event | None = None,
        on_progress: Callable[[str, int], None] | None = None,
        on_accepted: AcceptedHook | None = None,
    ) -> None:
        if profile.inbox_dir is None:
            raise PermanentError(f"partner {profile.id} has no inbox_dir to poll")
        self.profile = profile
        self.acceptor = acceptor
        self.failures = failures
        self.tracker = tracker or StabilityTracker(profile.stable_seconds, profile.min_age_seconds)
        self.environ = environ
        self.stop = stop
        self.on_progress = on_progress
        self.on_accepted = on_accepted
        self.result = PollResult(profile.id)
        self._done: set[tuple[str, int, int]] = set()
        self._lock = threading.Lock()

    def run(self) -> PollResult:
        try:
            with_retry(self.profile, "poll", self._session, failures=self, stop=self.stop)
        except PollCancelledError:
            self.result.error = PollCancelledError.code
        except GatewayError as exc:
            self.result.error = exc.code
        log.info(
            "sftp_poll_done",
            partner=self.profile.id,
            pulled=len(self.result.pulled),
            pending=len(self.result.pending),
            failures=len(self.result.failures),
            error=self.result.error,
        )
        return self.result

    def record_failure(self, failure: FailureRecord) -> None:
        with self._lock:
            self.result.failures.append(failure)
        if self.failures is not None:
            self.failures.record_failure(failure)

    def _session(self) -> None:
        with open_sftp(self.profile, environ=self.environ) as sftp:
            ready, pending = self.tracker.observe(list_inbox(sftp, self.profile))
            if pending:
                wait = self.tracker.wait_needed(pending)
                sleeper(self.stop)(wait)
                ready, pending = self.tracker.observe(list_inbox(sftp, self.profile))
            self.result.pending = pending
            todo = deque(e for e in ready if (e.name, e.size, e.mtime) not in self._done)
            extra = min(self.profile.max_connections - 1, len(todo) // PARALLEL_FROM)
            errors: list[BaseException] = []
            threads = [
                threading.Thread(
                    target=self._helper,
                    args=(todo, errors),
                    name=f"sftp-pull-{self.profile.id}-{i}",
                    daemon=True,
                )
                for i in range(extra)
            ]
            for t in threads:
                t.start()
            try:
                self._drain(sftp, todo)
            finally:
                todo.clear()  # empty already, unless this session failed: then stop helpers
                for t in threads:
                    t.join()
            if errors:
                raise errors[0]

    def _helper(self, todo: deque[RemoteEntry], errors: list[BaseException]) -> None:
        """An extra session pulling from the shared queue; its errors end the session."""
        try:
            with open_sftp(self.profile, environ=self.environ, slot_timeout=0) as sftp:
                self._drain(sftp, todo)
        except ConnectionsBusyError:
            return  # another job holds the partner's other connections: the main one copes
        except BaseException as exc:  # noqa: BLE001 - handed to the poll, which raises it
            errors.append(exc)
            todo.clear()

    def _drain(self, sftp: paramiko.SFTPClient, todo: deque[RemoteEntry]) -> None:
        while True:
            if self.stop is not None and self.stop.is_set():
                raise PollCancelledError()
            try:
                entry = todo.popleft()
            except IndexError:
                return
            key = (entry.name, entry.size, entry.mtime)
            try:
                pulled = self._pull_one(sftp, entry)
            except TransientError:
                raise  # the whole session is retried; settled files are skipped
            except PermanentError as exc:
                report_failure(
                    self.profile,
                    "pull",
                    exc,
                    failures=self,
                    remote_path=posixpath.join(self.profile.inbox_dir or "", entry.name),
                )
                pulled = None
            with self._lock:
                self._done.add(key)
                if pulled is not None:
                    self.result.pulled.append(pulled)

    def _pull_one(self, sftp: paramiko.SFTPClient, entry: RemoteEntry) -> PulledFile | None:
        profile = self.profile
        assert profile.inbox_dir is not None
        src = posixpath.join(profile.inbox_dir, entry.name)
        progress = None
        if self.on_progress is not None:
            cb = self.on_progress

            def progress(n: int) -> None:
                cb(entry.name, n)

        try:
            with remote(profile, "download", src):
                fh = sftp.open(src, "rb")
            stream: ReadAhead | Translating | None = None
            reader = RemoteReader(fh, expected_size=entry.size, on_progress=progress)
            try:
                # The acceptor hashes and fsyncs while it reads: one pass, no local temp copy.
                # Remote read errors surface from read(); only those are translated.
                stream = (
                    ReadAhead(reader, profile, src)
                    if entry.size >= READ_AHEAD_FROM
                    else Translating(reader, profile, src)
                )
                try:
                    accepted = self.acceptor(
                        stream,  # type: ignore[arg-type]
                        source=f"sftp:{profile.id}",
                        original_name=entry.name,
                    )
                except GatewayError:
                    raise
                except Exception as exc:
                    fault = classify(exc)
                    if fault is None:
                        raise
                    log.warning(
                        "sftp_accept_waiting",
                        partner=profile.id,
                        fault=fault.value,
                        error_type=type(exc).__name__,
                    )
                    raise LocalSideBusyError(
                        f"could not accept {entry.name}: {fault.value}", code=fault.value
                    ) from exc
            finally:
                if isinstance(stream, ReadAhead):
                    stream.close()
                reader.close()
                close_quietly(fh)
        except RemoteFileChangedError as exc:
            # Still being written (or replaced) after all: nothing stored; a later poll takes it.
            log.warning(
                "sftp_file_changed",
                partner=profile.id,
                remote_name=entry.name,
                listed_size=entry.size,
                reason=exc.message,
            )
            with self._lock:
                self.result.pending.append(entry.name)
            return None
        if accepted.size != entry.size:
            raise PermanentError(
                f"acceptor stored {accepted.size} bytes for {entry.name} "
                f"but {entry.size} bytes were pulled"
            )
        log.info(
            "sftp_file_accepted",
            partner=profile.id,
            remote_name=entry.name,
            file_id=accepted.file_id,
            size=entry.size,
            sha256=accepted.sha256[:12],
            duplicate=accepted.duplicate,
        )
        if self.on_accepted is not None:
            self.on_accepted(profile, accepted, entry.name)
        disposition, final = "kept", None
        try:
            disposition, final = finish_remote(sftp, profile, entry.name, accepted.sha256)
        except PermanentError as exc:
            report_failure(profile, profile.after_pull, exc, failures=self, remote_path=src)
        return PulledFile(
            entry.name,
            entry.size,
            accepted.sha256,
            accepted.file_id,
            accepted.duplicate,
            disposition,
            final,
        )


def poll_partner(
    profile: PartnerProfile,
    acceptor: Acceptor,
    *,
    failures: FailureSink | None = None,
    tracker: StabilityTracker | None = None,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[str, int], None] | None = None,
    on_accepted: AcceptedHook | None = None,
) -> PollResult:
    """Pull every stable file from one partner's inbox once; see the module docstring."""
    return Poll(
        profile,
        acceptor,
        failures=failures,
        tracker=tracker,
        environ=environ,
        stop=stop,
        on_progress=on_progress,
        on_accepted=on_accepted,
    ).run()


__all__ = [
    "AcceptResultLike",
    "AcceptedHook",
    "Acceptor",
    "LocalSideBusyError",
    "Poll",
    "PollResult",
    "PulledFile",
    "poll_partner",
]
