"""``partners check``: does each folder a profile names exist, and can we list it?"""

from __future__ import annotations

import stat
from dataclasses import dataclass

import paramiko

from gateway.sftp.errors import translate
from mappings.partners import PartnerProfile


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
