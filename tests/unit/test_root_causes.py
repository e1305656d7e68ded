"""The analyst's root-cause code list (mappings/root_causes.yaml) loads through the mapping
loader, holds the issue's eight codes, and a malformed file is a typed MappingError."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.loader import MappingError
from mappings.root_causes import default_root_causes, load_root_causes

CODES = [
    "registration_error",
    "cob_not_updated",
    "charge_capture_miss",
    "contract_loading",
    "duplicate_billing",
    "payer_error",
    "posting_error",
    "other",
]


def test_shipped_codes() -> None:
    rc = default_root_causes()
    assert list(rc.codes) == CODES
    assert rc.is_code("payer_error")
    assert not rc.is_code("unassigned")  # what reports call "none recorded", never a code


@pytest.mark.parametrize(
    "text",
    ["codes: {}\n", "codes: [a, b]\n", "other_key: 1\ncodes: {a: b}\n", "codes: {a: b\n"],
)
def test_malformed_file_is_a_mapping_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "root_causes.yaml"
    path.write_text(text)
    with pytest.raises(MappingError):
        load_root_causes(path)
