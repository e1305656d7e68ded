"""The pipelined reader's contract with paramiko's private request/response API, against a
real OpenSSH sshd. ``gateway/sftp/reader.py`` is the only module that uses these calls; when a
paramiko release renames or reshapes them, this file fails and says which one."""

from __future__ import annotations

import hashlib
import inspect
import io
import os

import paramiko
import pytest

from gateway.sftp import RemoteFileChangedError, RemoteReader, download, open_sftp
from tests.integration.sshd import (  # noqa: F401  (fixtures are used by name)
    SshdServer,
    sshd_fixture,
    sshd_server_fixture,
)

pytestmark = pytest.mark.sftp


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("_async_request", ["self", "fileobj", "t", "args"]),
        ("_read_response", ["self", "waitfor"]),
        ("_convert_status", ["self", "msg"]),
    ],
)
def test_private_calls_keep_their_shape(name: str, params: list[str]) -> None:
    """paramiko.SFTPClient still has the private methods the reader drives, with the
    parameters it passes (a rename or a new required parameter breaks reading silently)."""
    method = getattr(paramiko.SFTPClient, name, None)
    assert method is not None, f"paramiko.SFTPClient.{name} is gone ({paramiko.__version__})"
    assert list(inspect.signature(method).parameters) == params, paramiko.__version__


def test_pipelined_read_matches_the_file_byte_for_byte(sshd: SshdServer) -> None:
    """A 5 MiB file (many requests in flight, short answers re-asked) reads back exactly,
    and the end is the server's EOF status answer."""
    base = sshd.make_tree("inbox")
    data = os.urandom(5 << 20) + b"tail"
    sshd.put(base / "inbox" / "big.835", data)
    profile = sshd.profile(inbox_dir=str(base / "inbox"), archive_dir=None, after_pull="delete")
    with open_sftp(profile) as sftp, sftp.open(str(base / "inbox" / "big.835"), "rb") as fh:
        reader = RemoteReader(fh, expected_size=len(data), request_size=65536)
        out = io.BytesIO()
        try:
            while piece := reader.read(1 << 20):
                out.write(piece)
        finally:
            reader.close()
    assert hashlib.sha256(out.getvalue()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert reader.total == len(data)


def test_status_answers_are_converted_to_os_errors(sshd: SshdServer) -> None:
    """A read on a handle the server has closed comes back as an SFTP status other than EOF:
    ``_convert_status`` must still turn it into an OSError (not hang, not read as the end)."""
    base = sshd.make_tree("inbox")
    sshd.put(base / "inbox" / "f.835", b"x" * 100_000)
    profile = sshd.profile(inbox_dir=str(base / "inbox"), archive_dir=None, after_pull="delete")
    with open_sftp(profile) as sftp:
        fh = sftp.open(str(base / "inbox" / "f.835"), "rb")
        handle = fh.handle
        fh.close()  # the server forgets the handle
        fh.handle = handle
        fh._closed = False
        reader = RemoteReader(fh, expected_size=None)
        with pytest.raises(OSError, match="Failure"):  # SSH_FX_FAILURE, as OpenSSH answers
            reader.read(4096)
        reader.close()


def test_download_checks_the_size_it_is_given(sshd: SshdServer) -> None:
    """``download(..., expected_size)`` refuses a file that is not that size (a delivery
    verification must not pass on a truncated or grown remote copy)."""
    base = sshd.make_tree("inbox")
    sshd.put(base / "inbox" / "f.835", b"y" * 70_000)
    profile = sshd.profile(inbox_dir=str(base / "inbox"), archive_dir=None, after_pull="delete")
    with open_sftp(profile) as sftp:
        sink = io.BytesIO()
        assert download(sftp, str(base / "inbox" / "f.835"), sink, expected_size=70_000) == (
            70_000,
            hashlib.sha256(b"y" * 70_000).hexdigest(),
        )
        for wrong in (69_999, 70_001):
            with pytest.raises(RemoteFileChangedError):
                download(sftp, str(base / "inbox" / "f.835"), io.BytesIO(), expected_size=wrong)
