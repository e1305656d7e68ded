"""Provider ids for the NPI/TIN of a payee (835) or billing provider (837), created on sight."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.ingest import rows
from schemas import Entity


class ProviderResolver:
    """Provider id for an NPI/TIN, creating the provider row on first sight.

    On PostgreSQL the row is created in its own short committed transaction (``engine``), so
    concurrent workers loading files of the same provider never wait on (or deadlock over)
    each other's uncommitted inserts; a provider row outliving a rolled-back load is harmless
    reference data. On SQLite there is one writer, so it goes into the caller's transaction.
    """

    def __init__(self, session: Session, engine: Engine | None) -> None:
        self.session = session
        self.engine = engine
        self.cache: dict[str, int] = {}

    def resolve(self, entity: Entity | None) -> int | None:
        npi, tin, name = rows.provider_identity(entity)
        if not npi and not tin:
            return None
        key = f"npi:{npi}" if npi else f"tin:{tin}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        values = {"key": key, "npi": npi, "tin": tin, "name": name[:200]}
        table = tbl(Provider)
        if self.engine is not None:
            stmt: Any = (
                postgresql.insert(table)
                .values(values)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            with self.engine.begin() as conn:
                conn.execute(stmt)
        else:
            stmt = (
                sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=["key"])
            )
            self.session.execute(stmt)
        pid: int = self.session.execute(select(table.c.id).where(table.c.key == key)).scalar_one()
        self.cache[key] = pid
        return pid
