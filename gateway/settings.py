"""Settings from the environment (prefix ``GATEWAY_``), built by ``get_settings()``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from parsers.x12.lexer import Limits


class Settings(BaseSettings):
    """Every knob of the gateway. Secrets are ``SecretStr`` so they never print."""

    # hide_input_in_errors: a refused value (a secret, a URL with a password) is never echoed
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Field(default=Path("./var"), description="Where the embedded default lives")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset → SQLite file under data_dir"
    )
    inbox: Path | None = Field(
        default=None, description="Local inbox folder (default data_dir/inbox)"
    )
    raw_store: str = Field(default="file", description="Raw store backend: file|postgres|s3")
    raw_store_compression: str = Field(
        default="zstd",
        description="Compression of raw files the postgres backend writes: "
        "zstd|none (compressed on the API/worker host; existing files stay readable)",
    )
    raw_retention_days: int = Field(
        default=2557,
        ge=1,
        description="Keep raw bytes this long (7 years); "
        "`gateway store prune` refuses a shorter period without --force",
    )
    s3_bucket: str | None = Field(default=None, description="Bucket of the s3 raw store")
    s3_prefix: str = Field(default="raw", description="Key prefix inside the bucket")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (unset: AWS)"
    )
    s3_region: str | None = None
    s3_access_key_id: str | None = Field(
        default=None, description="Unset: boto3's chain (AWS_* env, instance profile)"
    )
    s3_secret_access_key: SecretStr | None = None
    log_level: str = "INFO"
    log_format: str = Field(default="auto", description="json|console|auto (json when not a tty)")
    max_upload_bytes: int = 256 * 1024 * 1024
    lease_seconds: int = 300
    db_lock_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Longest wait for a database lock before the "
        "API answers 503 database_busy (and the worker backs off): SQLite's busy timeout, "
        "PostgreSQL's lock_timeout",
    )
    worker_poll_seconds: float = 1.0
    max_attempts: int = Field(
        default=5, description="Claims of one file before it is quarantined (poison-pill guard)"
    )
    max_file_bytes: int = Field(
        default=1024 * 1024 * 1024, description="Largest file intake accepts into the raw store"
    )
    x12_max_segments: int = Field(
        default=50_000_000, description="Most segments one X12 file may hold (rejected early)"
    )
    x12_max_segment_length: int = Field(
        default=65_536, description="Longest X12 segment accepted, in characters"
    )
    x12_max_element_length: int = Field(
        default=1_024, description="Longest X12 element accepted, in characters"
    )
    x12_max_interchanges: int = Field(
        default=100_000, description="Most ISA envelopes one file may hold"
    )
    reconcile_batch_claims: int = Field(
        default=20_000,
        ge=100,
        le=1_000_000,
        description="Candidate claims a reconciliation commits at a time (other writers "
        "wait at most one batch for the SQLite write lock)",
    )
    inbox_settle_seconds: float = Field(
        default=1.0, description="Inbox files younger than this may still be being written"
    )
    partners_dir: Path | None = Field(
        default=None,
        description="SFTP partner profiles (*.yaml); unset → mappings/partners (enabled only)",
    )
    keys_file: Path | None = Field(
        default=None,
        description="Keys file of the secrets not set here (generated 0600 on "
        "first start; must be outside data_dir; back it up separately). Unset: "
        "$XDG_CONFIG_HOME/remittance-gateway/keys.json (XDG default ~/.config)",
    )
    api_key_pepper: SecretStr | None = Field(
        default=None,
        description="Server-side secret of the API key hashes (32+ characters; "
        "unset: from the keys file)",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Derives the ops console's CSRF tokens (sessions live in "
        "the database); 32+ characters, the same value on every API replica (unset: from the "
        "keys file)",
    )
    session_max_age_seconds: int = 8 * 3600
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Allow webhook URLs whose host is a loopback, private or reserved address "
        "(off: such URLs are refused at subscription and before each send, against SSRF)",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of one webhook POST"
    )
    webhook_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Tries of one webhook delivery (on 5xx, timeouts, refused connections) "
        "before it is marked failed",
    )
    webhook_retry_base_seconds: float = Field(
        default=1.0, ge=0, description="First wait between webhook tries (doubles each try)"
    )
    webhook_retry_max_seconds: float = Field(
        default=60.0, ge=0, description="Longest wait between two webhook tries"
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs/CIDRs of the reverse proxies in front of "
        "the API: X-Forwarded-For/-Proto are honoured only from these peers (the client is the "
        "rightmost address that is not one of them); empty: no forwarded header is trusted",
    )
    body_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait for the next part of a request body "
        "before the request is answered 408 (a stalled or slow-loris client)",
    )
    auth_failure_limit: int = Field(
        default=10,
        ge=1,
        description="Failed API-key or console sign-ins one client address "
        "may make per window before every sign-in from it is answered 429 (per replica)",
    )
    auth_failure_window_seconds: int = Field(
        default=60, ge=1, description="The sliding window of auth_failure_limit, in seconds"
    )
    data_keys: SecretStr | None = Field(
        default=None,
        description="Data keys for encryption at rest of raw files and PHI "
        "columns: comma-separated keyid:base64(32 random bytes) (unset: the keys file's)",
    )
    active_data_key: str | None = Field(
        default=None, description="Key id new data is encrypted under (optional with one key)"
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_placeholder_secrets(cls, value: object, info: ValidationInfo) -> object:
        """Refuse placeholder secrets (changeme, password, empty, ...) as settings load."""
        if isinstance(value, SecretStr):
            from gateway.security.secrets import placeholder_problem

            problem = placeholder_problem(value.get_secret_value())
            if problem:  # the message names the setting, never the value
                raise ValueError(f"GATEWAY_{(info.field_name or '').upper()} {problem}")
        return value

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        """Refuse a malformed entry at startup rather than silently trusting less (or more)."""
        from gateway.security.proxies import parse_networks

        parse_networks(value)
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    @property
    def resolved_inbox(self) -> Path:
        return self.inbox if self.inbox is not None else self.data_dir / "inbox"


def get_settings(**overrides: object) -> Settings:
    """Fresh settings from the environment, with explicit overrides (tests, CLI flags), and
    every secret not set explicitly taken from the keys file (generated on first use; see
    ``gateway.security.keyfile``). Raises ``ConfigError`` when the keys file is refused."""
    from gateway.security.keyfile import resolve_secrets

    return resolve_secrets(Settings(**overrides))  # type: ignore[arg-type]


def x12_limits(settings: Settings) -> Limits:
    """The parser's input limits from settings."""
    from parsers.x12.lexer import Limits

    return Limits(
        max_segment_length=settings.x12_max_segment_length,
        max_element_length=settings.x12_max_element_length,
        max_interchanges=settings.x12_max_interchanges,
        max_segments=settings.x12_max_segments,
    )
