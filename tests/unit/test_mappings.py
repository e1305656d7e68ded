"""Every shipped mapping file loads through the one loader (as pyx12 checks its maps), every
kind reports a bad file the same way (file, field, reason), and no YAML under mappings/ is
left without a loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mappings import (
    escheat,
    ledger_layouts,
    outbound_layouts,
    partners,
    payers,
    providers,
    revenue_categories,
    root_causes,
)
from mappings.loader import MAPPINGS_DIR, MappingError, load_file
from mappings.refund_requests import RequestLayout

Loader = Callable[[Path], object]

#: mapping kind → (where its files are, how one file loads, its error code)
KINDS: dict[str, tuple[str, Loader, str]] = {
    "payers": ("payers/*.yaml", payers.load_profile, "payer_profile_invalid"),
    "partners": ("partners/*.yaml", partners.load_partner, "partner_config_invalid"),
    "providers": ("providers/*.yaml", providers.load_profile, "provider_profile_invalid"),
    "ledger layouts": ("ledger/*.yaml", ledger_layouts.load_layout, "ledger_layout_invalid"),
    "outbound layouts": ("layouts/*.yaml", outbound_layouts.load_layout, "outbound_layout_invalid"),
    "refund-request layouts": (
        "refund_requests/*.yaml",
        lambda p: load_file(RequestLayout, p, code="refund_request_layout_invalid"),
        "refund_request_layout_invalid",
    ),
    "escheat rules": ("escheat.yaml", escheat.load_escheat, "escheat_config"),
    "root causes": ("root_causes.yaml", root_causes.load_root_causes, root_causes.CODE),
    "revenue categories": (
        "revenue_categories.yaml",
        revenue_categories.load_revenue_categories,
        revenue_categories.CODE,
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_shipped_file_of_a_kind_loads(kind: str) -> None:
    pattern, load, _ = KINDS[kind]
    files = sorted(MAPPINGS_DIR.glob(pattern))
    assert files, f"no shipped {kind}"
    for path in files:
        load(path)


def test_no_mapping_file_is_without_a_loader() -> None:
    """A new folder of YAML under mappings/ must be given a kind here (and so a loader)."""
    covered = {p for pattern, _, _ in KINDS.values() for p in MAPPINGS_DIR.glob(pattern)}
    shipped = {p for ext in ("*.yaml", "*.yml") for p in MAPPINGS_DIR.rglob(ext)}
    assert shipped - covered == set()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_bad_file_names_file_field_and_reason(kind: str, tmp_path: Path) -> None:
    """An unknown field in any kind of mapping: the operator reads which file, which field."""
    _, load, code = KINDS[kind]
    shipped = sorted(MAPPINGS_DIR.glob(KINDS[kind][0]))[0]
    bad = tmp_path / "bad.yaml"
    bad.write_text(shipped.read_text(encoding="utf-8") + "\nsurprise_field: 1\n")
    with pytest.raises(MappingError) as err:
        load(bad)
    assert err.value.code == code
    assert err.value.source == str(bad)
    assert ("surprise_field", "Extra inputs are not permitted") in err.value.problems
    assert f"{bad}: surprise_field: Extra inputs are not permitted" in str(err.value)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_broken_yaml_names_the_line(kind: str, tmp_path: Path) -> None:
    _, load, code = KINDS[kind]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncolumns: [unclosed\n")
    with pytest.raises(MappingError) as err:
        load(bad)
    assert err.value.code == code
    field, reason = err.value.problems[0]
    assert field.startswith("line ")
    assert reason.startswith("not valid YAML")


def test_a_missing_file_and_a_non_mapping_are_errors_too(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        payers.load_profile(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(MappingError, match="must be a mapping of fields"):
        payers.load_profile(tmp_path / "list.yaml")
    with pytest.raises(MappingError, match="no such folder"):
        payers.load_directory(tmp_path / "nowhere")
