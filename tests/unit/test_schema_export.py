"""The committed JSON Schemas equal a fresh export, and describe what we really emit."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import TypeAdapter

import parsers
from schemas import export
from schemas.remittance import Remittance
from schemas.serialize import to_jsonable
from tests.conftest import FIXTURES


def test_committed_schemas_are_current() -> None:
    stale = export.stale_files()
    assert stale == [], f"run `python -m schemas.export` to refresh: {stale}"


def test_every_model_has_a_file() -> None:
    names = {p.name for p in export.JSON_DIR.glob("*.schema.json")}
    assert names == {export.file_name(m) for m in export.MODELS}
    assert "remittance.schema.json" in names
    assert "claim_submission.schema.json" in names


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    export.write_all(tmp_path)
    assert export.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "claim.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "gone.schema.json").write_text("{}\n", encoding="utf-8")
    assert export.stale_files(tmp_path) == ["claim.schema.json", "gone.schema.json"]
    assert export.main(["--check", "--out", str(tmp_path)]) == 1
    export.write_all(tmp_path)
    assert not (tmp_path / "gone.schema.json").exists()
    assert export.stale_files(tmp_path) == []


@pytest.mark.parametrize("name", ["remittance", "claim_payment", "claim_submission"])
def test_schema_shape(name: str) -> None:
    schema = json.loads((export.JSON_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == export.DIALECT
    assert schema["type"] == "object"


def test_money_is_a_string_in_the_schema() -> None:
    schema = export.schema_for(Remittance)
    assert schema["properties"]["payment_amount"]["type"] == "string"
    assert schema["properties"]["payment_date"]["anyOf"][0] == {"format": "date", "type": "string"}


def test_emitted_json_validates_against_its_schema() -> None:
    """What ``to_jsonable`` emits for a real file is accepted by the model's own adapter."""
    result = parsers.parse((FIXTURES / "x12" / "secondary-payment.835").read_bytes())
    [remit] = result.remittances
    data = to_jsonable(remit)
    again = TypeAdapter(Remittance).validate_python(data)
    assert again.payment_amount == Decimal("1222.00")
    assert again.claims[1].services[1].adjustments[0].amount == Decimal(150)
