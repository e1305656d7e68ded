"""Provider profiles from ``mappings/providers/*.yaml``: what the CMS-838 certification needs.

The gateway knows a provider by the NPI its files carry; Medicare knows it by its provider
number (CCN, the 6-character certification number; the MAC may call it the PTAN). A hospital
with a psychiatric or rehabilitation subunit has one CCN per unit (``39S001``, ``39T001``), each
with its own NPI(s) and its own CMS-838. A profile is one organisation: its default name,
officer and contact, and under ``ccns`` each provider number with the NPIs billed under it.

Fields the certification prints may be left out (an installation may not know them yet): the
report is still written with them blank and ``gateway report cms838`` names every missing one
and exits 1. Anything present is validated; errors name the file and the field. See
docs/provider-profiles.md.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings.loader import MappingError, load_file, yaml_files

PROVIDERS_DIR = Path(__file__).resolve().parent / "providers"
#: CCN: two-digit state code, then four digits, or a subunit letter and three digits
#: (S psychiatric unit, T rehabilitation unit, U swing bed, ...); MACs may print a PTAN instead
CCN = re.compile(r"^\d{2}(\d{4}|[A-Z]\d{3})$")
PHONE = re.compile(r"^[0-9()+.\- ]{7,25}( ?(x|ext\.?) ?\d{1,6})?$")


#: the error code of an invalid provider profile (a ``MappingError``)
CODE = "provider_profile_invalid"


def npi_valid(npi: str) -> bool:
    """Ten digits whose last is the Luhn check digit over ``80840`` + the first nine."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi[:9])):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10) == npi[9]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Officer(_Strict):
    """The officer or administrator who signs the certification (CFO, CEO or administrator)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Field(default=None, min_length=1, max_length=100)


class Contact(_Strict):
    """Whom the MAC calls about the report."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=40)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not PHONE.fullmatch(v):
            raise ValueError(f"{v!r} is not a telephone number")
        return v


class Address(_Strict):
    """The provider's mailing address, printed in the sender block of every letter (payers
    return refunds and questions there)."""

    lines: list[str] = Field(default_factory=list, max_length=3)
    city: str = Field(default="", max_length=60)
    state: str = Field(default="", max_length=2)
    postal_code: str = Field(default="", max_length=10)

    def printed(self) -> list[str]:
        """The address as letter lines ('' parts left out)."""
        last = f"{self.city}, {self.state} {self.postal_code}".strip(", ")
        return [*self.lines, *([last] if last else [])]


class ProviderNumber(_Strict):
    """One CCN: its NPIs, and what it prints differently from the organisation."""

    npis: list[str] = Field(min_length=1)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    ptan: str | None = Field(default=None, min_length=1, max_length=20)
    officer: Officer | None = None
    contact: Contact | None = None
    address: Address | None = None
    #: the certification's first box: a low-utilization provider (see the MAC's instructions)
    low_utilization: bool = False
    #: last day of the latest cost-reporting period with a notice of program reimbursement
    #: (closed): claims through then are 'C' in column 8, later ones 'O'
    cost_report_closed_through: dt.date | None = None

    @field_validator("npis")
    @classmethod
    def _npis(cls, v: list[str]) -> list[str]:
        for npi in v:
            if not npi_valid(npi):
                raise ValueError(f"{npi!r} is not an NPI (10 digits with a valid check digit)")
        if len(set(v)) != len(v):
            raise ValueError("an NPI is listed twice")
        return v


class ProviderProfile(_Strict):
    name: str = Field(min_length=1, max_length=200)
    officer: Officer = Officer()
    contact: Contact = Contact()
    address: Address = Address()
    ccns: dict[str, ProviderNumber] = Field(min_length=1)

    @field_validator("ccns")
    @classmethod
    def _ccns(cls, v: dict[str, ProviderNumber]) -> dict[str, ProviderNumber]:
        for ccn in v:
            if not CCN.fullmatch(ccn):
                raise ValueError(
                    f"{ccn!r} is not a CCN (6 characters: 2-digit state code, then "
                    "4 digits or a subunit letter and 3 digits; quote it in YAML)"
                )
        return v


@dataclass(frozen=True, slots=True)
class Certifier:
    """What the CMS-838 certification prints for one provider number (None: not known)."""

    ccn: str | None
    source: str  # the profile file, or "" when no profile names the NPI
    npis: tuple[str, ...]
    name: str | None
    ptan: str | None
    officer_name: str | None
    officer_title: str | None
    contact_name: str | None
    contact_phone: str | None
    low_utilization: bool = False
    cost_report_closed_through: dt.date | None = None
    #: mailing address lines for letters (empty: not known)
    address: tuple[str, ...] = ()

    #: the fields the certification prints, in the order the command names missing ones
    FIELDS = (
        ("name", "provider name"),
        ("ccn", "provider number (CCN)"),
        ("officer_name", "officer's printed name"),
        ("officer_title", "officer's title"),
        ("contact_name", "contact person"),
        ("contact_phone", "contact telephone"),
    )

    def missing(self) -> list[str]:
        """The printed fields this provider number has no value for."""
        return [label for attr, label in self.FIELDS if not getattr(self, attr)]


def _certifier(source: str, org: ProviderProfile, ccn: str, p: ProviderNumber) -> Certifier:
    officer = p.officer or org.officer
    contact = p.contact or org.contact
    return Certifier(
        ccn=ccn,
        source=source,
        npis=tuple(p.npis),
        name=p.name or org.name,
        ptan=p.ptan,
        officer_name=officer.name or org.officer.name,
        officer_title=officer.title or org.officer.title,
        contact_name=contact.name or org.contact.name,
        contact_phone=contact.phone or org.contact.phone,
        low_utilization=p.low_utilization,
        cost_report_closed_through=p.cost_report_closed_through,
        address=tuple((p.address or org.address).printed()),
    )


@dataclass(frozen=True)
class ProviderDirectory:
    """Every provider number, indexed by NPI (an NPI belongs to one provider number)."""

    numbers: tuple[Certifier, ...] = ()

    def __post_init__(self) -> None:
        by_npi: dict[str, Certifier] = {}
        by_ccn: dict[str, Certifier] = {}
        for c in self.numbers:
            assert c.ccn is not None
            other = by_ccn.get(c.ccn)
            if other is not None:
                raise MappingError(
                    c.source,
                    [(f"ccns.{c.ccn}", f"CCN {c.ccn} is in both {other.source} and {c.source}")],
                    code=CODE,
                )
            by_ccn[c.ccn] = c
            for npi in c.npis:
                other = by_npi.get(npi)
                if other is not None:
                    raise MappingError(
                        c.source,
                        [
                            (
                                f"ccns.{c.ccn}.npis",
                                f"NPI {npi} is already under CCN {other.ccn} "
                                f"({other.source}); an NPI bills under one provider number",
                            )
                        ],
                        code=CODE,
                    )
                by_npi[npi] = c
        object.__setattr__(self, "_by_npi", by_npi)

    def for_npi(self, npi: str | None) -> Certifier | None:
        index: dict[str, Certifier] = self.__dict__["_by_npi"]
        return index.get(npi or "")


def _quoted_ccns(raw: object) -> list[tuple[str, str]]:
    """YAML reads an unquoted 390001 as a number: say so rather than fail on its type."""
    ccns = raw.get("ccns") if isinstance(raw, dict) else None
    if not isinstance(ccns, dict):
        return []
    return [
        (
            f"ccns.{key}",
            f"quote the CCN ('{key}'): it is an identifier, not a number (leading zeros matter)",
        )
        for key in ccns
        if not isinstance(key, str)
    ]


def load_profile(path: Path) -> tuple[Certifier, ...]:
    """The provider numbers of one profile file; ``MappingError`` names file and field."""
    profile = load_file(ProviderProfile, path, code=CODE, check=_quoted_ccns)
    return tuple(_certifier(path.name, profile, ccn, p) for ccn, p in profile.ccns.items())


def load_directory(directory: Path = PROVIDERS_DIR) -> ProviderDirectory:
    """Every profile under ``directory`` (a missing folder is an empty directory: the reports
    are then written with the certification fields blank, and say so)."""
    return ProviderDirectory(
        tuple(c for p in yaml_files(directory, code=CODE, missing_ok=True) for c in load_profile(p))
    )


@cache
def default_directory() -> ProviderDirectory:
    """The shipped profiles (cached for the process)."""
    return load_directory(PROVIDERS_DIR)


__all__ = [
    "PROVIDERS_DIR",
    "Address",
    "Certifier",
    "MappingError",
    "ProviderDirectory",
    "ProviderProfile",
    "default_directory",
    "load_directory",
    "load_profile",
    "npi_valid",
]
