"""Deliver a local file to a partner's SFTP folder exactly once.

Steps: hash the local file → ask the ledger (delivered already? done) → upload as
``.<name>.part`` → check the remote size → posix-rename to ``<name>`` (atomic for the partner's
reader) → record the receipt. Resuming after a crash at any point converges:

* crash before or during the upload, or after it but before the rename: the final name does not
  exist, so the ``.part`` is uploaded again from scratch and renamed;
* crash after the rename but before the receipt: the final name exists with our size and sha256,
  so only the receipt is recorded (no second upload);
* a *different* file already under the final name is never overwritten: ``RemoteConflictError``.
"""

from __future__ import annotations

import hashlib
import posixpath
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import paramiko

from gateway.errors import ConfigError, InputError, PermanentError
from gateway.logging import get_logger
from gateway.outbound.receipts import DeliveryLedger, Receipt
from gateway.security.filenames import is_plain_remote_name
from gateway.sftp import (
    CHUNK,
    FailureSink,
    SftpTransientError,
    download,
    open_sftp,
    remote,
    with_retry,
)
from mappings.partners import PartnerProfile

log = get_logger("gateway.outbound")


class RemoteConflictError(PermanentError):
    """A different file already exists under the final remote name; we never overwrite it."""

    code = "remote_conflict"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    receipt: Receipt
    already_delivered: bool  # True when an earlier run had delivered it (no upload now)


def hash_file(path: Path) -> tuple[int, str]:
    """(size, sha256) of a local file, streamed."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}", location={"path": str(path)}
        ) from None
    return size, digest.hexdigest()


def part_name(remote_path: str) -> str:
    """Temporary name next to the final one; dot-prefixed so pickup globs skip it."""
    folder, name = posixpath.split(remote_path)
    return posixpath.join(folder, f".{name}.part")


def upload_part(
    sftp: paramiko.SFTPClient,
    profile: PartnerProfile,
    local: Path,
    remote_path: str,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Upload ``local`` to the temp name of ``remote_path`` (truncating any old one)."""
    part = part_name(remote_path)
    sent = 0
    with local.open("rb") as src, remote(profile, "upload", part):
        with sftp.open(part, "wb") as dst:
            dst.set_pipelined(True)
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                sent += len(chunk)
                if on_progress is not None:
                    on_progress(sent)
        remote_size = sftp.stat(part).st_size
    if remote_size != sent:
        raise SftpTransientError(
            f"uploaded {sent} bytes but the server holds {remote_size}",
            location={"partner": profile.id, "remote_path": part},
        )
    return sent


def finalize(sftp: paramiko.SFTPClient, profile: PartnerProfile, remote_path: str) -> None:
    """Atomically give the uploaded temp file its final name."""
    with remote(profile, "rename", remote_path):
        sftp.posix_rename(part_name(remote_path), remote_path)


class _Hasher:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes, /) -> object:
        self.digest.update(data)
        return None


def _existing(
    sftp: paramiko.SFTPClient, profile: PartnerProfile, remote_path: str
) -> tuple[int, str] | None:
    """(size, sha256) of the final remote file, or None when it does not exist."""
    with remote(profile, "stat", remote_path):
        try:
            size = int(sftp.stat(remote_path).st_size or 0)
        except FileNotFoundError:
            return None
        hasher = _Hasher()
        read, _ = download(sftp, remote_path, hasher, expected_size=size, digest=False)
    return read, hasher.digest.hexdigest()


def deliver_file(
    profile: PartnerProfile,
    local: Path,
    *,
    ledger: DeliveryLedger,
    failures: FailureSink | None = None,
    remote_dir: str | None = None,
    remote_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
    expected: tuple[int, str] | None = None,
) -> DeliveryResult:
    """Deliver ``local`` to ``remote_dir`` (default: the profile's outbound_dir) once.

    ``expected`` (size, sha256) guards a queued file: its stored bytes must still be the ones
    that were queued.
    """
    folder = remote_dir or profile.outbound_dir
    if folder is None:
        raise ConfigError(
            f"partner {profile.id} has no outbound_dir to deliver to",
            location={"partner": profile.id},
        )
    name = remote_name or local.name
    if not is_plain_remote_name(name) or name.startswith("."):
        raise InputError(f"{name!r} cannot be a remote file name", location={"path": str(local)})
    final = posixpath.join(folder, name)
    size, sha = hash_file(local)
    if expected is not None and expected != (size, sha):
        raise PermanentError(
            f"the stored copy of {name} no longer matches what was queued",
            code="outbound_blob_mismatch",
            location={"path": str(local)},
        )
    prior = ledger.already_delivered(profile.id, sha, final)
    if prior is not None:
        log.info(
            "delivery_skipped_already_delivered",
            partner=profile.id,
            remote_path=final,
            sha256=sha,
            delivered_at=prior.delivered_at,
        )
        return DeliveryResult(prior, already_delivered=True)

    def attempt() -> bool:
        """Returns True when the file was already at the partner (found, not uploaded)."""
        with open_sftp(profile, environ=environ) as sftp:
            found = _existing(sftp, profile, final)
            if found is not None:
                if found == (size, sha):
                    return True
                raise RemoteConflictError(
                    f"{final} already exists at {profile.id} with different content "
                    f"({found[0]} bytes, sha256 {found[1][:12]}…); not overwriting",
                    location={"partner": profile.id, "remote_path": final},
                )
            upload_part(sftp, profile, local, final, on_progress=on_progress)
            finalize(sftp, profile, final)
            return False

    found = with_retry(profile, "deliver", attempt, failures=failures, stop=stop, remote_path=final)
    receipt = Receipt(partner_id=profile.id, remote_path=final, size=size, sha256=sha)
    ledger.record(receipt)
    log.info(
        "delivery_done", partner=profile.id, remote_path=final, size=size, sha256=sha, resumed=found
    )
    return DeliveryResult(receipt, already_delivered=False)


__all__ = [
    "DeliveryResult",
    "RemoteConflictError",
    "deliver_file",
    "finalize",
    "hash_file",
    "part_name",
    "upload_part",
]
