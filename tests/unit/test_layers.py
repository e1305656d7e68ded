"""The layer contracts (``[tool.importlinter]`` in pyproject.toml) cover every module.

import-linter only checks the modules a contract names, so a new top-level module under
``gateway/`` would sit outside every layer and could import anything. This test fails until it
is given a place in the stack (and a line in README's "Where things live" map).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layered() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    return {name.strip() for layer in layers for name in layer.split("|")}


def _gateway_modules() -> set[str]:
    found = set()
    for child in (ROOT / "gateway").iterdir():
        if child.is_dir() and (child / "__init__.py").exists():
            found.add(f"gateway.{child.name}")
        elif child.suffix == ".py" and child.stem != "__init__":
            found.add(f"gateway.{child.stem}")
    return found


def test_every_gateway_module_has_a_layer() -> None:
    missing = _gateway_modules() - _layered()
    assert not missing, f"add to a layer in pyproject.toml [tool.importlinter]: {sorted(missing)}"


def test_contract_names_only_real_modules() -> None:
    stale = {m for m in _layered() if m.startswith("gateway.")} - _gateway_modules()
    assert not stale, f"layer names a module that no longer exists: {sorted(stale)}"


def test_bottom_packages_are_layered() -> None:
    assert {"parsers", "schemas", "mappings"} <= _layered()


def test_readme_maps_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    unmapped = {m for m in _layered() if f"`{m.replace('.', '/')}" not in readme}
    assert not unmapped, f"README 'Where things live' lacks: {sorted(unmapped)}"


def test_lazy_imports_are_in_the_graph_the_contracts_check() -> None:
    """``settings`` imports ``security`` only inside functions; the checker must still see it,
    or a lazy upward import would slip past CI."""
    import grimp

    graph = grimp.build_graph("gateway", cache_dir=None)
    assert graph.direct_import_exists(
        importer="gateway.settings", imported="gateway.security.secrets"
    )
    # and a module-level import that was undone stays undone
    assert not graph.direct_import_exists(
        importer="gateway.ingest.replay", imported="gateway.worker"
    )
    assert not graph.find_modules_that_directly_import("gateway.registry") - {
        "gateway.db.migrations.env"
    }
