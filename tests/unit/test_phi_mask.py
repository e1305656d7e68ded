"""``gateway.security.phi``: quoted values in messages and segment elements fail closed."""

from __future__ import annotations

from gateway.security.phi import MASK, mask_elements, mask_quoted


def test_quotes_of_any_repr_form_and_length_are_masked() -> None:
    name = "O'BRIEN"
    assert mask_quoted(f"NM103 {name!r} is odd") == 'NM103 "A\'AAAAA" is odd'
    both = "O'B\"X"
    assert "O" not in (mask_quoted(f"DMG02 {both!r} x") or "").replace("DMG", "")
    long = "SECRET" * 100
    assert "SECRET" not in (mask_quoted(f"NM103 {long!r} is too long") or "")


def test_envelope_values_stay_readable_only_when_they_look_like_one() -> None:
    assert (
        mask_quoted("IEA02 '000000124' does not match ISA13 '000000123'")
        == "IEA02 '000000124' does not match ISA13 '000000123'"
    )
    assert (
        mask_quoted("GS08 '005010X221A1' is not supported")
        == "GS08 '005010X221A1' is not supported"
    )
    assert (
        mask_quoted("transaction set '277' is not handled")
        == "transaction set '277' is not handled"
    )
    # a named envelope element whose value does not look like one is masked all the same
    assert (
        mask_quoted("ISA13 'SMITH JOHN' must be 9 digits") == "ISA13 'AAAAA AAAA' must be 9 digits"
    )
    # the value of any other element is masked
    assert mask_quoted("DMG02 '19800101' is not a date") == "DMG02 '99999999' is not a date"


def test_segments_without_a_rule_are_masked_whole() -> None:
    assert mask_elements(["ZZZ", "SECRET", "", "X"]) == ["ZZZ", MASK, "", MASK]
    assert mask_elements(["DMG", "D8", "19800101", "F"]) == [
        "DMG",
        "D8",
        "1980\u2022\u2022\u2022\u2022",
        MASK,
    ]
    assert mask_elements(["DTP", "472", "RD8", "20240101-20240131"]) == [
        "DTP",
        "472",
        "RD8",
        "2024\u2022\u2022\u2022\u2022-2024\u2022\u2022\u2022\u2022",
    ]
    assert mask_elements(["DTP", "472", "D8", "2024JAN1"]) == ["DTP", "472", "D8", MASK]
    assert mask_elements(["HI", "ABK:J189", "ABF:E119"]) == ["HI", f"ABK:{MASK}", f"ABF:{MASK}"]
    assert mask_elements(["NM1", "QC", "2", "ACME"]) == ["NM1", "QC", "2", MASK]
    assert mask_elements(["NM1", "PR", "2", "ACME", "", "", "", "", "PI", "X1"]) == [
        "NM1",
        "PR",
        "2",
        "ACME",
        "",
        "",
        "",
        "",
        "PI",
        "X1",
    ]
    assert mask_elements(["REF", "1W", "M123"]) == ["REF", "1W", MASK]
    assert mask_elements(["REF", "2U", "ACME01"]) == ["REF", "2U", "ACME01"]
    assert mask_elements(["SV1", "HC:99213:25::::KNEE PAIN", "100"]) == [
        "SV1",
        f"HC:99213:25::::{MASK}",
        "100",
    ]
