"""Migrations are frozen snapshots: they import nothing of the live application, and the audit
hash frozen in 0006 still equals the one ``gateway.audit`` computes (format v1)."""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from gateway import audit

VERSIONS = Path(__file__).resolve().parents[2] / "gateway" / "db" / "migrations" / "versions"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_migration_imports_the_application() -> None:
    """A migration that imports live code changes meaning when that code changes."""
    own = {"gateway", "parsers", "schemas", "mappings"}
    offenders = {p.name: sorted(_imports(p) & own) for p in VERSIONS.glob("[0-9]*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def _load(name: str) -> ModuleType:
    path = next(VERSIONS.glob(f"{name}_*.py"))
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_audit_hash_matches_the_live_v1_format() -> None:
    """If gateway.audit's format changes, 0006 keeps v1 and this test says a migration is due."""
    m = _load("0006")
    assert m.GENESIS == audit.GENESIS
    assert m.HASH_FORMAT == audit.HASH_FORMAT
    for at in (dt.datetime(2026, 7, 1, 12, 0, 1, 5), dt.datetime(2026, 7, 1, 8, tzinfo=dt.UTC)):
        entry: dict[str, Any] = {
            "seq": 3,
            "at": at,
            "actor": "ops",
            "action": "replay",
            "file_id": 7,
            "outcome": "ok",
            "reason": "r",
            "details": {"b": [1, "é"], "a": None},
            "prev_hash": "ab" * 32,
        }
        assert m.entry_hash_v1(**entry) == audit.entry_hash(**entry)
