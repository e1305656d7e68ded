"""The SFTP transport both directions use: sessions with pinned host keys (``connect``),
bounded retries and failure records (``retry``), the pipelined reader (``reader``), the folder
probe (``probe``) and the typed errors (``errors``). Intake keeps the poll
(``gateway.intake.pull``), outbound the delivery (``gateway.outbound.deliver``)."""

from gateway.sftp.connect import close_quietly, open_sftp
from gateway.sftp.errors import (
    AuthError,
    ConnectionsBusyError,
    HostKeyError,
    PollCancelledError,
    RemoteFileChangedError,
    RemoteMissingError,
    RemotePermissionError,
    SftpTransientError,
    remote,
    translate,
)
from gateway.sftp.probe import FolderCheck, probe
from gateway.sftp.reader import CHUNK, ReadAhead, RemoteReader, Sink, Translating, download
from gateway.sftp.retry import FailureRecord, FailureSink, report_failure, sleeper, with_retry

__all__ = [
    "CHUNK",
    "AuthError",
    "ConnectionsBusyError",
    "FailureRecord",
    "FailureSink",
    "FolderCheck",
    "HostKeyError",
    "PollCancelledError",
    "ReadAhead",
    "RemoteFileChangedError",
    "RemoteMissingError",
    "RemotePermissionError",
    "RemoteReader",
    "SftpTransientError",
    "Sink",
    "Translating",
    "close_quietly",
    "download",
    "open_sftp",
    "probe",
    "remote",
    "report_failure",
    "sleeper",
    "translate",
    "with_retry",
]
