"""SFTP trading-partner profiles: loaded from ``mappings/partners/*.yaml`` and validated.

A profile says where a partner's server is, which host key it must present (pinned, required),
how we authenticate (a private key file, or a password read from an environment variable the
profile names; never the secret itself), which folders we read and write, and how hard we retry.
Every error names the file, the field and what is wrong, so an operator can fix it without
reading code.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings.known_hosts import parse_known_host
from mappings.loader import MappingError, load_file, load_folder, validate
from schemas.errors import ConfigError

PARTNERS_DIR = Path(__file__).resolve().parent / "partners"

#: keys that would hold a secret; a profile must never carry one
_SECRET_KEYS = frozenset({"password", "passphrase", "private_key", "secret", "token"})


#: the error code of an invalid partner profile (a ``MappingError``)
CODE = "partner_config_invalid"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Strict):
    """Exactly one of a private key file or the name of an environment variable with a password."""

    private_key_path: Path | None = None
    password_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthConfig:
        if (self.private_key_path is None) == (self.password_env is None):
            raise ValueError("give exactly one of private_key_path or password_env")
        if self.private_key_path is not None and "BEGIN" in str(self.private_key_path):
            raise ValueError("private_key_path must be a file path, not the key itself")
        return self

    def password(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The password from the named environment variable (None when key auth is used)."""
        if self.password_env is None:
            return None
        value = (environ if environ is not None else os.environ).get(self.password_env)
        if not value:
            raise ConfigError(f"environment variable {self.password_env} is not set")
        return value


class Timeouts(_Strict):
    """Seconds allowed for each phase; a stuck server must never hang a poll forever."""

    connect_seconds: float = Field(default=15.0, gt=0, le=300)
    banner_seconds: float = Field(default=15.0, gt=0, le=300)
    auth_seconds: float = Field(default=15.0, gt=0, le=300)
    operation_seconds: float = Field(default=60.0, gt=0, le=3600)


class RetryPolicy(_Strict):
    """Bounded exponential backoff with jitter for transient errors."""

    attempts: int = Field(default=5, ge=1, le=50)
    initial_seconds: float = Field(default=1.0, ge=0, le=600)
    max_seconds: float = Field(default=60.0, ge=0, le=3600)
    jitter_seconds: float = Field(default=1.0, ge=0, le=600)


def _remote_dir(value: str | None) -> str | None:
    if value is None:
        return None
    if not value or "\x00" in value or "\n" in value:
        raise ValueError("must be a non-empty remote folder path")
    norm = posixpath.normpath(value)
    if ".." in norm.split("/"):
        raise ValueError("must not contain '..'")
    return norm


class PartnerProfile(_Strict):
    """One trading partner: a clearinghouse we pull from or a payer we deliver to."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    role: Literal["clearinghouse", "payer"]
    #: a disabled profile is validated and listed but never polled or delivered to
    enabled: bool = True
    host: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.:_-]+$")
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=64)
    auth: AuthConfig
    host_key: str = Field(description="known_hosts line for this host; required (pinned)")
    inbox_dir: str | None = None
    filename_pattern: str = "*"
    after_pull: Literal["archive", "delete"] = "archive"
    archive_dir: str | None = None
    ack_dir: str | None = None
    send_acks: bool = False
    outbound_dir: str | None = None
    poll_interval_seconds: float = Field(default=300.0, ge=1, le=86400)
    stable_seconds: float = Field(default=5.0, ge=0, le=3600)
    min_age_seconds: float = Field(default=0.0, ge=0, le=86400)
    max_connections: int = Field(default=2, ge=1, le=16)
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()

    @field_validator("inbox_dir", "archive_dir", "ack_dir", "outbound_dir")
    @classmethod
    def _dirs(cls, value: str | None) -> str | None:
        return _remote_dir(value)

    @field_validator("filename_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if not value or "/" in value:
            raise ValueError("must be a file-name glob without '/' (e.g. '*.835')")
        fnmatch.translate(value)
        return value

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str) -> str:
        line = value.strip()
        if not line or "\n" in line:
            raise ValueError("must be exactly one known_hosts line")
        try:
            parse_known_host(line)
        except ValueError as exc:
            raise ValueError(f"not a readable known_hosts line ({exc})") from None
        return line

    @model_validator(mode="after")
    def _consistent(self) -> PartnerProfile:
        if self.role == "clearinghouse" and self.inbox_dir is None:
            raise ValueError("inbox_dir: a clearinghouse needs the folder we pull from")
        if self.role == "payer" and self.outbound_dir is None:
            raise ValueError("outbound_dir: a payer needs the folder we deliver to")
        if self.inbox_dir is not None and self.after_pull == "archive" and not self.archive_dir:
            raise ValueError("archive_dir: required when after_pull is 'archive'")
        if self.archive_dir is not None and self.archive_dir == self.inbox_dir:
            raise ValueError("archive_dir: must differ from inbox_dir")
        if self.send_acks and not self.ack_dir:
            raise ValueError("ack_dir: required when send_acks is true")
        if not parse_known_host(self.host_key).names(self.host_key_name):
            raise ValueError(
                f"host_key: the line is not for {self.host_key_name!r} "
                "(for a port other than 22 the name is written [host]:port)"
            )
        return self

    @property
    def host_key_name(self) -> str:
        """The name paramiko looks the host key up by."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def _find_secrets(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            if str(key).lower() in _SECRET_KEYS:
                found.append(
                    (
                        path,
                        "secrets must not be stored in a profile; "
                        "use auth.password_env or auth.private_key_path",
                    )
                )
            found.extend(_find_secrets(value, path + "."))
    return found


def _no_secrets(data: object) -> list[tuple[str, str]]:
    return _find_secrets(data)


def parse_partner(data: object, source: str) -> PartnerProfile:
    """Validate one profile's data; ``source`` names it in errors."""
    return validate(PartnerProfile, data, source, code=CODE, check=_no_secrets)


def load_partner(path: Path) -> PartnerProfile:
    """Read and validate one YAML profile."""
    return load_file(PartnerProfile, path, code=CODE, check=_no_secrets)


def load_partners(directory: Path | None = None) -> dict[str, PartnerProfile]:
    """Every profile in ``directory``, keyed by id; ids must be unique."""
    profiles: dict[str, PartnerProfile] = {}
    seen: dict[str, Path] = {}
    for path, profile in load_folder(
        PartnerProfile, directory or PARTNERS_DIR, code=CODE, check=_no_secrets
    ):
        if profile.id in seen:
            raise MappingError(
                path, [("id", f"{profile.id!r} is already used by {seen[profile.id]}")], code=CODE
            )
        seen[profile.id] = path
        profiles[profile.id] = profile
    return profiles


__all__ = [
    "PARTNERS_DIR",
    "AuthConfig",
    "MappingError",
    "PartnerProfile",
    "RetryPolicy",
    "Timeouts",
    "load_partner",
    "load_partners",
    "parse_partner",
]
