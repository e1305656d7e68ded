"""Settings from the environment (prefix ``GATEWAY_``), built by ``get_settings()``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the gateway. Secrets are ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    data_dir: Path = Field(default=Path("./var"), description="Where the embedded default lives")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset → SQLite file under data_dir"
    )
    inbox: Path | None = Field(
        default=None, description="Local inbox folder (default data_dir/inbox)"
    )
    raw_store: str = Field(default="file", description="Raw store backend: file|postgres|s3")
    log_level: str = "INFO"
    log_format: str = Field(default="auto", description="json|console|auto (json when not a tty)")
    max_upload_bytes: int = 256 * 1024 * 1024
    lease_seconds: int = 300
    worker_poll_seconds: float = 1.0
    max_attempts: int = Field(
        default=5, description="Claims of one file before it is quarantined (poison-pill guard)"
    )
    max_file_bytes: int = Field(
        default=1024 * 1024 * 1024, description="Largest file intake accepts into the raw store"
    )
    inbox_settle_seconds: float = Field(
        default=1.0, description="Inbox files younger than this may still be being written"
    )
    api_key_pepper: SecretStr | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    @property
    def resolved_inbox(self) -> Path:
        return self.inbox if self.inbox is not None else self.data_dir / "inbox"


def get_settings(**overrides: object) -> Settings:
    """Fresh settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
