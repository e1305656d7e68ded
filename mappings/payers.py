"""Payer profiles from ``mappings/payers/*.yaml``: identity, programme, deadlines, PLB format.

A profile says who a payer is (one canonical id, any number of aliases: 835 REF*2U, N1*PR
N104, TRN03 and 837 NM1*PR ids often differ for the same payer), which programme it runs
(government or not, the deadline for returning an overpayment), how long a new adjudication is
held ``pending`` before its credit opens (split reversal/correction), whether an
investigation may suspend its deadline (``investigation_days``; Medicare A/B: 180 by statute),
and how to read the reference of its PLB WO/72 recoupments. ``resolution`` and ``outbound``
are read and validated here and used by the refund/offset issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings.loader import MappingError, load_file, load_folder
from schemas.payer import PayerRule

PAYERS_DIR = Path(__file__).resolve().parent / "payers"

Programme = Literal[
    "medicare_a",
    "medicare_b",
    "medicaid",
    "medicare_advantage",
    "medicaid_managed_care",
    "tricare",
    "va",
    "other_federal",
    "commercial",
    "workers_comp",
    "auto",
    "other",
]
#: programmes under the 60-day rule (42 CFR 401.305 and its Medicaid counterpart)
SIXTY_DAY = frozenset({"medicare_a", "medicare_b", "medicaid"})
#: Medicare Parts A and B: the programmes of a known Medicare contractor (a MAC's A or B side)
MEDICARE = frozenset({"medicare_a", "medicare_b"})
#: 42 CFR 401.305(b)(2): a timely, good-faith investigation suspends Medicare's 60 days, ≤ 180
MEDICARE_INVESTIGATION_DAYS = 180
#: programmes that are government money without the statutory 60 days (profile decides)
OTHER_GOVERNMENT = frozenset(
    {"medicare_advantage", "medicaid_managed_care", "tricare", "va", "other_federal"}
)


#: the error code of an invalid payer profile (a ``MappingError``)
CODE = "payer_profile_invalid"


class PlbReference(BaseModel):
    """How to read PLB03-2 of this payer's WO/72 adjustments.

    ``format``: ``payer_claim_control_number`` (CLP07), ``patient_control_number`` (CLP01),
    ``any`` (try CLP07, then CLP01; the default) or ``regex`` with ``pattern`` holding named
    groups ``icn`` and/or ``pcn`` (e.g. Medicare's ICN followed by the HIC).
    """

    model_config = ConfigDict(extra="forbid")

    format: Literal["payer_claim_control_number", "patient_control_number", "any", "regex"] = "any"
    pattern: str | None = None

    @model_validator(mode="after")
    def _pattern(self) -> PlbReference:
        if self.format == "regex":
            if not self.pattern:
                raise ValueError("format 'regex' needs a pattern")
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
            if not {"icn", "pcn"} & set(compiled.groupindex):
                raise ValueError("pattern needs a named group 'icn' or 'pcn'")
        elif self.pattern:
            raise ValueError("pattern is only used with format 'regex'")
        return self

    def keys(self, reference: str) -> list[tuple[str, str]]:
        """(kind, value) pairs to look the reference up by, most specific first."""
        ref = reference.strip()
        if not ref:
            return []
        if self.format == "payer_claim_control_number":
            return [("icn", ref)]
        if self.format == "patient_control_number":
            return [("pcn", ref)]
        if self.format == "any":
            return [("icn", ref), ("pcn", ref)]
        assert self.pattern is not None
        m = re.fullmatch(self.pattern, ref)
        if m is None:
            return []
        groups = m.groupdict()
        return [(k, groups[k].strip()) for k in ("icn", "pcn") if groups.get(k)]


class RefundAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attention: str = ""
    lines: list[str] = []
    city: str = ""
    state: str = ""
    postal_code: str = ""


class Outbound(BaseModel):
    """Placeholders for the resolution issue: which layouts, who delivers, where checks go."""

    model_config = ConfigDict(extra="forbid")

    refund_layout: str | None = None
    offset_layout: str | None = None
    delivery_partner: str | None = None
    refund_address: RefundAddress | None = None


class PayerProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    payer_id: str = Field(min_length=1, max_length=80)
    aliases: list[str] = []
    name: str
    programme: Programme
    government: bool | None = None
    deadline_days: int | None = Field(default=None, ge=1, le=3650)
    hold_days: int = Field(default=30, ge=0, le=365)
    #: days after a payer's newest remittance on a claim with no posted charge before that
    #: payment becomes a (pending) credit: the ledger export may simply not have arrived yet
    ledger_lag_days: int = Field(default=30, ge=0, le=365)
    #: days an investigation suspends the deadline (Medicaid states differ; Medicare A/B: 180)
    investigation_days: int | None = Field(default=None, ge=1, le=180)
    plb_reference: PlbReference = PlbReference()
    resolution: Literal["refund", "offset"] = "refund"
    outbound: Outbound = Outbound()

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        if any(not a.strip() for a in v):
            raise ValueError("aliases must not be empty strings")
        return v

    @model_validator(mode="after")
    def _deadline(self) -> PayerProfile:
        if self.programme in SIXTY_DAY:
            if self.government is False:
                raise ValueError(f"programme {self.programme} is government money")
            if self.deadline_days not in (None, 60):
                raise ValueError(f"programme {self.programme} has the statutory 60 days")
        if self.programme in MEDICARE and self.investigation_days not in (
            None,
            MEDICARE_INVESTIGATION_DAYS,
        ):
            raise ValueError(
                f"programme {self.programme} has the statutory "
                f"{MEDICARE_INVESTIGATION_DAYS} investigation days"
            )
        return self

    @property
    def investigation_suspension(self) -> int:
        """Days an investigation may suspend this payer's deadline (0: the deadline stays)."""
        if self.programme in MEDICARE:
            return MEDICARE_INVESTIGATION_DAYS
        return self.investigation_days or 0

    @property
    def is_government(self) -> bool:
        if self.government is not None:
            return self.government
        return self.programme in SIXTY_DAY or self.programme in OTHER_GOVERNMENT

    def rule(self) -> PayerRule:
        deadline = 60 if self.programme in SIXTY_DAY else self.deadline_days
        return PayerRule(
            programme=self.programme,
            government=self.is_government,
            deadline_days=deadline,
            hold_days=self.hold_days,
            ledger_lag_days=self.ledger_lag_days,
            investigation_days=self.investigation_suspension or None,
        )


DEFAULT_RULE = PayerRule()
DEFAULT_PLB = PlbReference()


@dataclass(frozen=True)
class PayerDirectory:
    """Every profile, indexed by canonical id and alias."""

    profiles: tuple[PayerProfile, ...]

    def __post_init__(self) -> None:
        index: dict[str, PayerProfile] = {}
        for p in self.profiles:
            for pid in (p.payer_id, *p.aliases):
                other = index.get(pid)
                if other is not None and other is not p:
                    raise MappingError(
                        "payer profiles",
                        [
                            (
                                "aliases",
                                f"payer id {pid!r} is claimed by both "
                                f"{other.payer_id!r} and {p.payer_id!r}",
                            )
                        ],
                        code=CODE,
                    )
                index[pid] = p
        object.__setattr__(self, "_index", index)

    def get(self, payer_id: str) -> PayerProfile | None:
        index: dict[str, PayerProfile] = self.__dict__["_index"]
        return index.get(payer_id)

    def canonical(self, payer_id: str) -> str:
        """The canonical id of ``payer_id`` (itself when no profile names it)."""
        index: dict[str, PayerProfile] = self.__dict__["_index"]
        p = index.get(payer_id)
        return p.payer_id if p is not None else payer_id

    def rule(self, payer_id: str) -> PayerRule:
        p = self.get(payer_id)
        return p.rule() if p is not None else DEFAULT_RULE

    def plb_reference(self, payer_id: str) -> PlbReference:
        p = self.get(payer_id)
        return p.plb_reference if p is not None else DEFAULT_PLB

    def aliases(self) -> dict[str, str]:
        """alias → canonical id, for every id that differs from its canonical one."""
        return {a: p.payer_id for p in self.profiles for a in p.aliases if a != p.payer_id}


def load_profile(path: Path) -> PayerProfile:
    return load_file(PayerProfile, path, code=CODE)


def load_directory(directory: Path = PAYERS_DIR) -> PayerDirectory:
    """Every profile under ``directory``; raises ``MappingError`` on the first bad one."""
    return PayerDirectory(tuple(m for _, m in load_folder(PayerProfile, directory, code=CODE)))


@cache
def default_directory() -> PayerDirectory:
    """The shipped profiles (cached for the process)."""
    return load_directory(PAYERS_DIR)


__all__ = [
    "MEDICARE",
    "MEDICARE_INVESTIGATION_DAYS",
    "PAYERS_DIR",
    "MappingError",
    "PayerDirectory",
    "PayerProfile",
    "PlbReference",
    "default_directory",
    "load_directory",
    "load_profile",
]
