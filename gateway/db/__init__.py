"""Database: engine/session factory, tables and migrations."""

from gateway.db.base import Base, Database, make_engine

__all__ = ["Base", "Database", "make_engine"]
