"""The analyst's root-cause code list (``mappings/root_causes.yaml``), loaded and checked."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mappings.loader import MAPPINGS_DIR, load_file

ROOT_CAUSES_PATH = MAPPINGS_DIR / "root_causes.yaml"
CODE = "root_causes_config"
#: what the reports call a case without a recorded root cause
UNASSIGNED = "unassigned"


class RootCauses(BaseModel):
    """Code → description; codes are snake_case so they are safe in CSV, URLs and SQL values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codes: dict[str, str] = Field(min_length=1)

    def is_code(self, value: str) -> bool:
        return value in self.codes


def load_root_causes(path: Path = ROOT_CAUSES_PATH) -> RootCauses:
    return load_file(RootCauses, path, code=CODE)


@lru_cache(maxsize=1)
def default_root_causes() -> RootCauses:
    return load_root_causes()


__all__ = [
    "ROOT_CAUSES_PATH",
    "UNASSIGNED",
    "RootCauses",
    "default_root_causes",
    "load_root_causes",
]
