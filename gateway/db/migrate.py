"""Run Alembic migrations programmatically (no alembic.ini: the config is built here).

``ensure_schema`` is what every command calls first: on the embedded SQLite default it upgrades
automatically so the first run just works; on PostgreSQL it refuses to run against an
out-of-date schema and tells the operator to run ``gateway db upgrade``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from gateway.db.base import Database
from gateway.errors import ConfigError
from gateway.logging import get_logger

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: the latest revision shipped; a test checks it equals Alembic's head. Kept as a constant so
#: every command can check the schema without importing Alembic (a quarter second per start).
HEAD = "0026"
log = get_logger("gateway.db")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """Alembic's head, read from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision stamped in the database (None when it was never migrated)."""
    with db.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(value) if value is not None else None


def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` in one transaction."""
    from alembic import command

    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    log.info("db_upgraded", revision=current_revision(db), dialect=db.dialect)


def ensure_schema(db: Database) -> None:
    """Auto-upgrade the embedded SQLite database; refuse a stale PostgreSQL schema."""
    if current_revision(db) == HEAD:
        return
    if db.is_sqlite:
        upgrade(db)
        return
    raise ConfigError(
        "the database schema is not current; run `gateway db upgrade`", code="schema_outdated"
    )
