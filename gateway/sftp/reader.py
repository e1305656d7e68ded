"""Reading remote files fast with bounded memory: a pipelined reader on paramiko's request
primitives, a read-ahead thread, and ``download`` for verification and tools.

This is the only module that uses paramiko's private API (``SFTPClient._async_request``,
``_read_response``, ``_convert_status`` and the ``_async_response`` callback);
tests/integration/test_sftp_reader_contract.py checks those calls against a real sshd, so a
paramiko release that changes them fails loudly there.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

import paramiko
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, SFTP_EOF, int64

from gateway.sftp.errors import RemoteFileChangedError, remote
from mappings.partners import PartnerProfile

CHUNK = 1 << 20  # local read size for hashing and uploads
READ_SIZE = 261120  # one SFTP read request: OpenSSH's largest answer (smaller ones adapt)
MIN_READ_SIZE = 32768  # every SFTP server answers this much (the protocol's packet minimum)
READ_IN_FLIGHT = 2 << 20  # bytes asked for and not yet taken, per file
READ_BATCH = 4  # requests are topped up once this many answers have been taken
READ_AHEAD_CHUNKS = 8  # chunks (of CHUNK bytes) the read-ahead thread may hold
READ_AHEAD_STOP_WAIT = 30.0


class Sink(Protocol):
    """Where downloaded bytes go: a temp file, or a hasher when verifying a delivery."""

    def write(self, data: bytes, /) -> object: ...


def download(
    sftp: paramiko.SFTPClient,
    remote_path: str,
    dest: Sink,
    *,
    expected_size: int | None,
    on_progress: Callable[[int], None] | None = None,
    digest: bool = True,
) -> tuple[int, str | None]:
    """Stream a remote file into ``dest`` with pipelined reads; return (bytes, sha256 or None).

    With ``expected_size``, a file that ends short of it or goes on past it raises
    ``RemoteFileChangedError``; without, only the server's EOF ends the file.
    """
    hasher = hashlib.sha256() if digest else None
    with sftp.open(remote_path, "rb") as fh:
        reader = RemoteReader(fh, expected_size=expected_size, on_progress=on_progress)
        try:
            while data := reader.read(CHUNK):
                dest.write(data)
                if hasher is not None:
                    hasher.update(data)
        finally:
            reader.close()
    return reader.total, hasher.hexdigest() if hasher is not None else None


class _Answers:
    """Where paramiko's response loop hands the answers to our read requests (by request id).

    paramiko holds it by weak reference, so the reader keeps it alive.
    """

    __slots__ = ("__weakref__", "got")

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, paramiko.Message]] = {}

    def _async_response(self, t: int, msg: paramiko.Message, num: int) -> None:
        self.got[num] = (t, msg)


class RemoteReader:
    """A binary stream over an open remote file, for ``accept_stream`` to read to its end.

    * Pipelined in the calling thread: read requests for up to ``in_flight`` bytes are out,
      topped up in batches (one send per few answers, not one per answer). This
      drives paramiko's request/response primitives directly (``SFTPFile`` drives them the same
      way): its own prefetch queues every request of the file up front from a second thread and
      scans its whole buffer on each read, which halves throughput on large files.
    * Servers may answer with fewer bytes than asked (OpenSSH caps a read at 255 KiB, others at
      32 KiB): the rest is asked again at once, in order, and later requests shrink to the size
      the server answered (more of them, so as many bytes stay in flight).
    * Size-checked before anything commits: with ``expected_size`` (from the listing), a file
      that ends short or goes on past it raises ``RemoteFileChangedError`` from ``read``, so the
      raw store discards its temp file and nothing is registered. The end is confirmed by one
      extra 1-byte request sent with the others (no extra round trip).
    * Memory is bounded by ``in_flight`` (plus the SSH window) and one ``read``.
    """

    def __init__(
        self,
        fh: paramiko.SFTPFile,
        *,
        expected_size: int | None,
        on_progress: Callable[[int], None] | None = None,
        request_size: int = READ_SIZE,
        in_flight: int = READ_IN_FLIGHT,
    ) -> None:
        self._fh = fh
        self._sftp: paramiko.SFTPClient = fh.sftp
        self.expected_size = expected_size
        self.on_progress = on_progress
        self.total = 0
        self.request_size = request_size
        self._in_flight = in_flight
        self._answers = _Answers()
        self._pending: deque[tuple[int, int, int]] = deque()  # (request id, offset, length)
        self._next = 0  # offset of the next request to send
        self._last_sent = False  # no request goes past the end (known or seen)
        self._eof = False
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def _request(self, offset: int, length: int) -> tuple[int, int, int]:
        num = self._sftp._async_request(
            self._answers, CMD_READ, self._fh.handle, int64(offset), length
        )
        return num, offset, length

    def _top_up(self) -> None:
        depth = max(READ_BATCH, self._in_flight // self.request_size)
        if self._last_sent or len(self._pending) > depth - READ_BATCH:
            return
        limit = self.expected_size
        while len(self._pending) < depth:
            if limit is not None and self._next >= limit:
                # one byte past the listed size: the answer must be EOF
                self._pending.append(self._request(limit, 1))
                self._last_sent = True
                return
            n = self.request_size if limit is None else min(self.request_size, limit - self._next)
            self._pending.append(self._request(self._next, n))
            self._next += n

    def _await(self, num: int) -> tuple[int, paramiko.Message]:
        """The answer to request ``num`` (paramiko files other answers as they arrive)."""
        got = self._answers.got
        while num not in got:
            self._sftp._read_response()
        return got.pop(num)

    def _answer(self) -> bytes:
        """The next piece of the file in order; ``b""`` at its end."""
        while True:
            self._top_up()
            if not self._pending:
                return b""
            num, offset, length = self._pending.popleft()
            t, msg = self._await(num)
            if t == CMD_STATUS:
                if msg.get_int() == SFTP_EOF:
                    return b""  # the end of the file (and nothing else: a dropped
                    # connection raises from paramiko and must never look like an end)
                msg.rewind()
                msg.get_int()  # past the request id again
                self._sftp._convert_status(msg)  # raises OSError for the status
                raise paramiko.SFTPError(f"unexpected status answer to a read at {offset}")
            if t != CMD_DATA:
                raise paramiko.SFTPError(f"unexpected answer type {t} to a read at {offset}")
            data: bytes = msg.get_string()
            if 0 < len(data) < length:
                # a short answer (a server cap, or the end of the file): ask less from now on,
                # and for the rest first, in order
                self.request_size = max(MIN_READ_SIZE, min(self.request_size, len(data)))
                step, end = self.request_size, offset + length
                self._pending.extendleft(
                    self._request(o, min(step, end - o))
                    for o in reversed(range(offset + len(data), end, step))
                )
            if data:
                return data

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else 1 << 62
        parts: list[bytes] = []
        got = 0
        if self._buffer:
            piece, self._buffer = self._buffer[:want], self._buffer[want:]
            parts.append(piece)
            got = len(piece)
        while got < want and not self._eof:
            data = self._answer()
            if not data:
                self._eof = True
                self._last_sent = True
                break
            if got + len(data) > want:
                data, self._buffer = data[: want - got], data[want - got :]
            parts.append(data)
            got += len(data)
        self.total += got
        expected = self.expected_size
        if expected is not None and (
            self.total + len(self._buffer) > expected or (self._eof and self.total != expected)
        ):
            raise RemoteFileChangedError(
                f"read {self.total + len(self._buffer)} bytes"
                f"{'' if self._eof else ' so far'}, the listing said {expected}"
            )
        if self.on_progress is not None and got:
            self.on_progress(self.total)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        """Take in the answers still in flight, so the session can carry on cleanly."""
        self._last_sent = True
        try:
            while self._pending:
                self._await(self._pending.popleft()[0])
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the session is gone; it is closed next anyway


class ReadAhead:
    """Reads a ``RemoteReader`` in a thread of its own, a few chunks ahead of the consumer.

    Taking SFTP answers off the channel is Python work that holds the GIL; hashing and writing
    (the raw store's side) release it. Running them in two threads overlaps the two instead of
    alternating them. The queue is bounded (``depth`` chunks), so memory stays flat. Remote
    errors are translated in the thread and re-raised from ``read``; ``close`` stops the thread
    before the caller closes the remote file.
    """

    def __init__(
        self,
        reader: RemoteReader,
        profile: PartnerProfile,
        path: str,
        *,
        depth: int = READ_AHEAD_CHUNKS,
    ) -> None:
        self._reader = reader
        self._profile = profile
        self._path = path
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._closed = threading.Event()
        self._buffer = b""
        self._done = False
        self._thread = threading.Thread(target=self._run, name="sftp-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                with remote(self._profile, "download", self._path):
                    data = self._reader.read(CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._buffer and not self._done:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
            self._buffer = item
        if size is None or size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
            return out
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def close(self) -> None:
        self._closed.set()
        self._thread.join(READ_AHEAD_STOP_WAIT)


class Translating:
    """Wraps a ``RemoteReader`` so paramiko and socket errors become our typed errors."""

    def __init__(self, reader: RemoteReader, profile: PartnerProfile, path: str) -> None:
        self._reader = reader
        self._profile = profile
        self._path = path

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        with remote(self._profile, "download", self._path):
            return self._reader.read(size)
