"""Payer profiles: the shipped examples load; bad profiles fail with the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.loader import MappingError
from mappings.payers import PlbReference, load_directory, load_profile


def test_shipped_profiles_load_and_alias() -> None:
    d = load_directory()
    assert {p.programme for p in d.profiles} >= {
        "commercial",
        "medicare_a",
        "medicare_b",
        "medicaid",
    }
    assert d.canonical("12302") == "MCRB01"
    assert d.canonical("UNKNOWN") == "UNKNOWN"
    rule = d.rule("MEDICARE-B")
    assert (rule.government, rule.deadline_days, rule.hold_days) == (True, 60, 30)
    assert d.rule("60054").government is False
    assert d.rule("SKMCD0").hold_days == 45
    assert d.rule("nobody").hold_days == 30
    assert d.aliases()["UHC"] == "87726"


def test_plb_reference_formats() -> None:
    d = load_directory()
    assert d.plb_reference("MCRB01").keys("22026182000102 1EG4TE5MK73") == [
        ("icn", "22026182000102")
    ]
    assert d.plb_reference("MCRB01").keys("not an icn") == []
    assert PlbReference().keys("X1") == [("icn", "X1"), ("pcn", "X1")]
    assert PlbReference(format="patient_control_number").keys(" P1 ") == [("pcn", "P1")]
    both = PlbReference(format="regex", pattern=r"(?P<pcn>[A-Z0-9]+)-(?P<icn>\d+)")
    assert both.keys("ACCT7-991") == [("icn", "991"), ("pcn", "ACCT7")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("payer_id: X\nname: X\nprogramme: medicare_b\ndeadline_days: 90\n", "statutory 60"),
        ("payer_id: X\nname: X\nprogramme: martian\n", "programme"),
        (
            "payer_id: X\nname: X\nprogramme: commercial\nplb_reference: {format: regex}\n",
            "needs a pattern",
        ),
        (
            "payer_id: X\nname: X\nprogramme: commercial\nplb_reference:\n  format: regex\n"
            "  pattern: '(?P<other>x)'\n",
            "named group",
        ),
        ("payer_id: X\nname: X\nprogramme: commercial\nsurprise: 1\n", "surprise"),
        ("payer_id: X\nname: X\nprogramme: commercial\nhold_days: -1\n", "hold_days"),
    ],
)
def test_bad_profiles_name_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(MappingError, match=message) as err:
        load_profile(path)
    assert "bad.yaml" in str(err.value)


def test_an_id_claimed_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "payer_id: A\nname: A\nprogramme: commercial\naliases: [SHARED]\n"
    )
    (tmp_path / "b.yaml").write_text(
        "payer_id: B\nname: B\nprogramme: commercial\naliases: [SHARED]\n"
    )
    with pytest.raises(MappingError, match="SHARED"):
        load_directory(tmp_path)
