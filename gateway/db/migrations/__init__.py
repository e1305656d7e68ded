"""Alembic migrations, shipped as package data and run by ``gateway db upgrade``."""
