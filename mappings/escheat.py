"""Unclaimed-property (escheat) rules for patient credits, from ``mappings/escheat.yaml``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mappings.loader import MAPPINGS_DIR, MappingError, load_file

ESCHEAT_PATH = MAPPINGS_DIR / "escheat.yaml"
CODE = "escheat_config"


class StateRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dormancy_days: int = Field(ge=1, le=36500)
    notice_days_before: int = Field(default=120, ge=0, le=3650)


class EscheatRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_state: str
    states: dict[str, StateRule]
    providers: dict[str, str] = {}

    def state_for(self, npi: str | None) -> tuple[str, StateRule]:
        code = self.providers.get(npi or "", self.default_state)
        rule = self.states.get(code)
        if rule is None:
            raise MappingError(ESCHEAT_PATH, [("states", f"no rule for state {code!r}")], code=CODE)
        return code, rule


def load_escheat(path: Path = ESCHEAT_PATH) -> EscheatRules:
    return load_file(EscheatRules, path, code=CODE)


__all__ = ["ESCHEAT_PATH", "EscheatRules", "StateRule", "load_escheat"]
