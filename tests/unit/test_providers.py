"""Provider profiles (mappings/providers): validated, errors name the file and the field; the
certification fields a profile leaves out are named, not silently blank."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.loader import MappingError
from mappings.payers import load_profile
from mappings.providers import (
    default_directory,
    load_directory,
    npi_valid,
)
from mappings.providers import load_profile as load_provider

GOOD = """\
name: VALLEY HOSPITAL
officer: {name: Dana Officer, title: CFO}
contact: {name: Robin Contact, phone: "(555) 010-0142 x12"}
ccns:
  "390111":
    npis: ["1992999999"]
    cost_report_closed_through: 2024-12-31
  "39S111":
    name: VALLEY HOSPITAL PSYCHIATRIC UNIT
    npis: ["1456789019"]
    officer: {title: Administrator}
"""


def test_the_shipped_demo_profile_is_complete() -> None:
    demo = default_directory().for_npi("1999999992")
    assert demo is not None
    assert (demo.ccn, demo.name, demo.missing()) == ("399990", "DEMO REGIONAL MEDICAL CENTER", [])


def test_subunits_have_their_own_number_and_inherit_the_rest(tmp_path: Path) -> None:
    (tmp_path / "valley.yaml").write_text(GOOD)
    d = load_directory(tmp_path)
    main, psych = d.for_npi("1992999999"), d.for_npi("1456789019")
    assert main is not None
    assert psych is not None
    assert (main.ccn, main.name, main.officer_title) == ("390111", "VALLEY HOSPITAL", "CFO")
    assert main.cost_report_closed_through is not None
    assert (
        psych.ccn,
        psych.name,
        psych.officer_name,
        psych.officer_title,
        psych.contact_phone,
    ) == (
        "39S111",
        "VALLEY HOSPITAL PSYCHIATRIC UNIT",
        "Dana Officer",
        "Administrator",
        "(555) 010-0142 x12",
    )
    assert d.for_npi("1234567893") is None
    assert load_directory(tmp_path / "absent").for_npi("1992999999") is None


def test_missing_certification_fields_are_named(tmp_path: Path) -> None:
    (tmp_path / "bare.yaml").write_text(
        'name: BARE\nccns:\n  "390112":\n    npis: ["1234567893"]\n'
    )
    [c] = load_provider(tmp_path / "bare.yaml")
    assert c.missing() == [
        "officer's printed name",
        "officer's title",
        "contact person",
        "contact telephone",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (GOOD.replace('"390111"', "390111"), "ccns.390111: quote the CCN"),
        (GOOD.replace('"390111"', '"39-111"'), "'39-111' is not a CCN"),
        (GOOD.replace('"1992999999"', '"1992999998"'), "ccns.390111.npis"),
        (GOOD.replace('"1992999999"', '"1992999998"'), "not an NPI"),
        (GOOD.replace("(555) 010-0142 x12", "call Robin"), "contact.phone"),
        (GOOD.replace("ccns:", "surprise: 1\nccns:"), "surprise"),
        (GOOD.replace('    npis: ["1456789019"]\n', ""), "ccns.39S111.npis"),
        ("name: X\nccns: {}\n", "ccns"),
        (GOOD.replace('["1456789019"]', '["1456789019", "1456789019"]'), "listed twice"),
    ],
)
def test_bad_profiles_name_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(MappingError, match=message) as err:
        load_provider(path)
    assert str(err.value).startswith(f"{path}: ")
    assert err.value.code == "provider_profile_invalid"


def test_an_npi_bills_under_one_provider_number(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text('name: OTHER\nccns:\n  "390113":\n    npis: ["1992999999"]\n')
    with pytest.raises(MappingError, match="NPI 1992999999 is already under CCN 390111"):
        load_directory(tmp_path)
    (tmp_path / "b.yaml").write_text('name: OTHER\nccns:\n  "390111":\n    npis: ["1234567893"]\n')
    with pytest.raises(MappingError, match=r"CCN 390111 is in both a\.yaml and b\.yaml"):
        load_directory(tmp_path)


def test_npi_check_digit() -> None:
    assert npi_valid("1234567893")
    assert not npi_valid("1234567890")
    assert not npi_valid("123456789")
    assert not npi_valid("12345678AB")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("payer_id: X\nname: X\nprogramme: medicare_a\ninvestigation_days: 90\n", "statutory 180"),
        (
            "payer_id: X\nname: X\nprogramme: medicaid\ninvestigation_days: 365\n",
            "investigation_days",
        ),
        (
            "payer_id: X\nname: X\nprogramme: medicaid\ninvestigation_days: 0\n",
            "investigation_days",
        ),
    ],
)
def test_payer_investigation_days_are_validated(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(MappingError, match=message):
        load_profile(path)
