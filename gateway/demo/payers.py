"""The demo month's cast: one billing provider, five payers, and synthetic patients.

The payer ids are those of the shipped example profiles in ``mappings/payers/`` (two commercial
payers, Medicare Part A and Part B through their MAC, a state Medicaid), so the demo exercises
aliases, programmes, hold windows and PLB reference formats as a real installation would. The
programme, deadline and hold figures below must agree with those profiles (a unit test checks);
they are what the answer file's ``government`` and ``due_by`` are planted from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from schemas.common import Address, Entity, Reference


@dataclass(frozen=True, slots=True)
class DemoPayer:
    """A payer as the demo bills it and as its 835s describe it."""

    payer_id: str
    name: str
    programme: str
    #: 835 CLP06 (claim filing indicator) and 837 SBR09
    clp06: str
    sbr09: str
    government: bool
    #: refund deadline in days after identification (None: no deadline)
    deadline_days: int | None
    hold_days: int
    #: allowed amount as a share of the charge (a flat synthetic fee schedule)
    rate: Decimal
    #: weekday of the payer's weekly payment run (Monday = 0)
    pay_weekday: int
    #: TRN03: "1" + a synthetic EIN
    originator: str
    #: prefix of the payer claim control numbers (CLP07); Medicare ICNs are all digits
    icn_prefix: str
    #: kind of ICN: "digits" (13-digit Medicare/Medicaid style) or "alnum"
    icn_style: str


COMM_A = DemoPayer(
    "87726",
    "UNITEDHEALTHCARE",
    "commercial",
    "12",
    "CI",
    False,
    30,
    30,
    Decimal("0.62"),
    2,
    "1411289245",
    "UH",
    "alnum",
)
COMM_B = DemoPayer(
    "60054",
    "AETNA",
    "commercial",
    "HM",
    "CI",
    False,
    30,
    30,
    Decimal("0.58"),
    3,
    "1066033492",
    "AE",
    "alnum",
)
MEDICARE_A = DemoPayer(
    "MCRA01",
    "MEDICARE PART A MAC EXAMPLE",
    "medicare_a",
    "MA",
    "MA",
    True,
    60,
    30,
    Decimal("0.36"),
    1,
    "1999990001",
    "21",
    "digits",
)
MEDICARE_B = DemoPayer(
    "MCRB01",
    "MEDICARE PART B MAC EXAMPLE",
    "medicare_b",
    "MB",
    "MB",
    True,
    60,
    30,
    Decimal("0.44"),
    1,
    "1999990002",
    "22",
    "digits",
)
MEDICAID = DemoPayer(
    "SKMCD0",
    "STATE MEDICAID EXAMPLE",
    "medicaid",
    "MC",
    "MC",
    True,
    60,
    45,
    Decimal("0.35"),
    0,
    "1999990003",
    "55",
    "digits",
)

PAYERS: tuple[DemoPayer, ...] = (COMM_A, COMM_B, MEDICARE_A, MEDICARE_B, MEDICAID)

# --------------------------------------------------------------------------- provider


def npi_check_digit(first9: str) -> str:
    """Luhn check digit of an NPI (computed over the ``80840`` prefix plus nine digits)."""
    digits = [int(c) for c in "80840" + first9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


PROVIDER_NPI = "199999999" + npi_check_digit("199999999")
PROVIDER_TIN = "990000123"
PROVIDER_NAME = "DEMO REGIONAL MEDICAL CENTER"
PROVIDER_ADDRESS = Address("100 EXAMPLE PARKWAY", "", "SPRINGFIELD", "PA", "171019999")
SUBMITTER_ID = "DEMOSUB01"
CLEARINGHOUSE = "DEMO CLEARINGHOUSE"
CLEARINGHOUSE_ID = "DEMOCH01"
PAYER_ADDRESS = Address("PO BOX 9999", "", "EXAMPLE CITY", "PA", "171009999")


def billing_provider() -> Entity:
    return Entity(
        "85",
        PROVIDER_NAME,
        id_qualifier="XX",
        id=PROVIDER_NPI,
        address=PROVIDER_ADDRESS,
        references=[Reference("EI", PROVIDER_TIN)],
    )


def payee() -> Entity:
    return Entity(
        "PE",
        PROVIDER_NAME,
        id_qualifier="XX",
        id=PROVIDER_NPI,
        address=PROVIDER_ADDRESS,
        references=[Reference("TJ", PROVIDER_TIN)],
    )


def payer_835(p: DemoPayer) -> Entity:
    """N1*PR with the payer id in REF*2U (the identity rule reads it first)."""
    return Entity("PR", p.name, address=PAYER_ADDRESS, references=[Reference("2U", p.payer_id)])


def payer_837(p: DemoPayer) -> Entity:
    return Entity("PR", p.name, id_qualifier="PI", id=p.payer_id)


# --------------------------------------------------------------------------- patients

#: obviously synthetic names: NATO-alphabet first names, test-word last names
FIRST_NAMES = (
    "ALPHA",
    "BRAVO",
    "CHARLIE",
    "DELTA",
    "ECHO",
    "FOXTROT",
    "GOLF",
    "HOTEL",
    "INDIA",
    "JULIETT",
    "KILO",
    "LIMA",
    "MIKE",
    "NOVEMBER",
    "OSCAR",
    "PAPA",
    "QUEBEC",
    "ROMEO",
    "SIERRA",
    "TANGO",
    "UNIFORM",
    "VICTOR",
    "WHISKEY",
    "XRAY",
    "YANKEE",
    "ZULU",
)
LAST_NAMES = (
    "TESTPATIENT",
    "SAMPLECASE",
    "DEMOPERSON",
    "FICTIONAL",
    "SYNTHETIC",
    "PLACEHOLDER",
    "EXAMPLEONE",
    "MOCKPATIENT",
    "NOTREAL",
    "DUMMYCASE",
)


@dataclass(frozen=True, slots=True)
class Patient:
    """A synthetic patient with one guarantor account."""

    number: int
    last_name: str
    first_name: str
    birth_date: dt.date
    gender: str

    @property
    def account_id(self) -> str:
        return f"{700000 + self.number}"

    def member_id(self, payer: DemoPayer) -> str:
        if payer.programme.startswith("medicare"):
            return f"9ZZ{self.number:05d}AA0"  # MBI-shaped (11 characters), synthetic
        return f"{payer.icn_prefix}Z{self.number:08d}"

    def entity(self, payer: DemoPayer) -> Entity:
        return Entity(
            "IL",
            self.last_name,
            self.first_name,
            id_qualifier="MI",
            id=self.member_id(payer),
            address=Address(
                f"{10 + self.number % 900} TEST STREET", "", "SPRINGFIELD", "PA", "171010000"
            ),
        )
