"""Load and validate ledger layouts from ``mappings/ledger/*.yaml``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from mappings.loader import load_file, load_folder
from parsers.ledger import (
    CANONICAL_COLUMNS,
    DEPARTMENT_COLUMN,
    LINE_COLUMNS,
    REQUIRED_COLUMNS,
    TYPES,
    LedgerLayout,
)

LEDGER_DIR = Path(__file__).resolve().parent / "ledger"


CODE = "ledger_layout_invalid"


class _LayoutFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    sign: str = "positive"
    columns: dict[str, str]
    type_codes: dict[str, tuple[str, str]] = {}

    @field_validator("sign")
    @classmethod
    def _sign(cls, v: str) -> str:
        if v not in ("positive", "signed"):
            raise ValueError("must be 'positive' or 'signed'")
        return v

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: dict[str, str]) -> dict[str, str]:
        missing = [c for c in REQUIRED_COLUMNS if c not in v and c != "party"]
        if missing:
            raise ValueError(f"missing canonical column(s): {', '.join(missing)}")
        unknown = sorted(set(v) - {*CANONICAL_COLUMNS, *LINE_COLUMNS, DEPARTMENT_COLUMN})
        if unknown:
            raise ValueError(f"unknown canonical column(s): {', '.join(unknown)}")
        return v

    @field_validator("type_codes")
    @classmethod
    def _codes(cls, v: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        for code, (kind, party) in v.items():
            if kind not in TYPES or party not in ("patient", "payer", "provider"):
                raise ValueError(f"code {code!r} maps to unknown type/party {kind}/{party}")
        return v


def load_layout(path: Path) -> LedgerLayout:
    return _layout(load_file(_LayoutFile, path, code=CODE))


def _layout(spec: _LayoutFile) -> LedgerLayout:
    return LedgerLayout(
        name=spec.name,
        columns=spec.columns,
        date_format=spec.date_format,
        sign=spec.sign,
        type_codes=spec.type_codes,
        delimiter=spec.delimiter,
    )


def load_layouts(directory: Path = LEDGER_DIR) -> list[LedgerLayout]:
    return [_layout(spec) for _, spec in load_folder(_LayoutFile, directory, code=CODE)]
