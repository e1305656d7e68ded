"""TA1 and 999 acknowledgments rendered from parse findings, checked on real corpus files.

Every 999 produced for the corpus is read back with our own lexer and validated with pyx12's
005010X231A1 map: an acknowledgment a partner's translator rejects is worse than none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

import parsers
from gateway.validation import validate_ig
from parsers.ack import Acknowledgments, acknowledge
from parsers.x12.lexer import Lexer
from tests.conftest import CORPUS

NOW = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)


def _ack(path: Path | bytes, control_number: int = 1) -> Acknowledgments:
    data = path if isinstance(path, bytes) else path.read_bytes()
    try:
        result: parsers.ParseResult | parsers.X12Error = parsers.parse(data)
    except parsers.X12Error as exc:
        result = exc
    return acknowledge(data, result, control_number=control_number, now=NOW)


def _segments(content: bytes) -> list[list[str]]:
    lexer = Lexer(content)
    return [seg.split(lexer.delimiters.element) for seg in lexer]


def _only(segs: list[list[str]], tag: str) -> list[list[str]]:
    return [s for s in segs if s[0] == tag]


def test_clean_file_is_accepted() -> None:
    acks = _ack(CORPUS / "keironstoddart-edi-835-parser" / "emedny_sample.txt")
    assert acks.ta1 == []  # ISA14 = 0 and a clean envelope: no TA1
    [ack] = acks.x999
    segs = _segments(ack.content)
    assert _only(segs, "IK5") == [["IK5", "A"]]
    assert _only(segs, "AK9") == [["AK9", "A", "1", "1", "1"]]
    assert _only(segs, "AK1") == [["AK1", "HP", "6000600", "005010X221A1"]]
    st = _only(segs, "ST")[0]
    assert st == ["ST", "999", "0001", "005010X231A1"]
    # sender and receiver are swapped from the inbound ISA
    inbound = Lexer((CORPUS / "keironstoddart-edi-835-parser" / "emedny_sample.txt").read_bytes())
    next(iter(inbound))
    isa = segs[0]
    assert (isa[5], isa[6]) == (inbound.isa_elements[7], inbound.isa_elements[8])
    assert (isa[7], isa[8]) == (inbound.isa_elements[5], inbound.isa_elements[6])
    assert isa[9:11] == ["260304", "0506"]
    assert isa[13] == "000000001"


def test_wrong_se01_rejects_the_transaction_with_ik502_4() -> None:
    [ack] = _ack(CORPUS / "imsweb-x12-parser" / "x12_valid.txt").x999
    segs = _segments(ack.content)
    assert _only(segs, "IK5") == [["IK5", "R", "4"]]
    assert _only(segs, "AK9")[0][:5] == ["AK9", "R", "1", "1", "0"]
    assert ack.status == "R"


def test_wrong_ge01_gives_ak905_5() -> None:
    [ack] = _ack(CORPUS / "imsweb-x12-parser" / "x12_complex.txt").x999
    ak9 = _only(_segments(ack.content), "AK9")[0]
    assert ak9[2:4] == ["1", "2"]  # GE01 declared 1, two sets received
    assert ak9[5] == "5"


def test_bad_amount_gives_ik3_and_ik4_code_6_at_the_right_position() -> None:
    path = CORPUS / "affect-therapeutics-edi-835-parser" / "sample_835.txt"
    data = path.read_bytes()
    result = parsers.parse(data)
    bad = [f for f in result.findings if f.code == "bad_number" and f.location.element == 3]
    assert bad
    finding = bad[0]
    [ack] = acknowledge(data, result, control_number=7, now=NOW).x999
    segs = _segments(ack.content)
    ik3 = _only(segs, "IK3")[0]
    assert ik3[1] == "CAS"
    assert ik3[2] == str(finding.location.transaction_segment_number)
    assert ik3[4] == "8"
    # the position really is the CAS within its transaction set
    inbound = _segments(data)
    st_index = next(
        i for i in range(finding.location.segment_number - 1, -1, -1) if inbound[i][0] == "ST"
    )
    assert inbound[st_index + int(ik3[2]) - 1][0] == "CAS"
    ik4 = segs[segs.index(ik3) + 1]
    assert ik4 == ["IK4", "3", "782", "6", "amount"]
    assert _only(segs, "IK5")[0][:2] == ["IK5", "R"]
    assert "5" in _only(segs, "IK5")[0]


def test_mismatched_iea02_gives_ta1_001() -> None:
    acks = _ack(CORPUS / "affect-therapeutics-edi-835-parser" / "nevada_medicaid.txt", 40)
    [ta1] = acks.ta1
    [seg] = _only(_segments(ta1.content), "TA1")
    assert seg == ["TA1", "100000300", "180613", "1230", "E", "001"]
    assert ta1.control_number == 40
    # the content was readable, so its 999 still goes out, with the next control number
    assert [a.control_number for a in acks.x999] == [41]
    assert acks.next_control_number == 42


def test_ack_requested_gives_ta1_accepted() -> None:
    acks = _ack(CORPUS / "linuxforhealth-x12" / "medicare-part-a.835")
    [ta1] = acks.ta1
    assert _only(_segments(ta1.content), "TA1")[0][4:] == ["A", "000"]


def test_truncated_file_gives_ta1_rejected_023_and_no_999() -> None:
    acks = _ack(CORPUS / "oopfactory-x12parser" / "_837P" / "_5010" / "UnicodeExample.txt")
    assert acks.x999 == []
    [ta1] = acks.ta1
    assert (ta1.status, ta1.note) == ("R", "023")


CLEAN = (CORPUS / "keironstoddart-edi-835-parser" / "emedny_sample.txt").read_bytes()


@pytest.mark.parametrize(
    ("damage", "note"),
    [
        (lambda b: b.replace(b"*", b"A", 1), "026"),  # element separator is a letter
        (lambda b: b[:104] + b"A" + b[105:], "027"),  # ISA16 is a letter
        (lambda b: b[:105] + b"Z" + b[106:], "004"),  # segment terminator is a letter
    ],
)
def test_bad_delimiters_give_ta1_rejected_with_the_matching_note(
    damage: Callable[[bytes], bytes], note: str
) -> None:
    data = damage(CLEAN)
    with pytest.raises(parsers.DelimiterError):
        parsers.parse(data)
    acks = _ack(data)
    [ta1] = acks.ta1
    assert (ta1.status, ta1.note) == ("R", note)
    seg = _only(_segments(ta1.content), "TA1")[0]
    assert seg[1] == "006000600"  # ISA13 read by fixed position


def test_not_x12_gives_no_acknowledgment() -> None:
    acks = _ack(b"hello, this is not X12")
    assert acks.all == []


def test_output_is_deterministic_and_numbers_are_consecutive() -> None:
    path = CORPUS / "imsweb-x12-parser" / "x12_multiple_isa.txt"
    first, second = _ack(path, 999_999_998), _ack(path, 999_999_998)
    assert [a.content for a in first.all] == [a.content for a in second.all]
    assert [a.control_number for a in first.all] == [999_999_998, 999_999_999, 1, 2][
        : len(first.all)
    ]


def test_control_number_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="control number"):
        acknowledge(CLEAN, parsers.parse(CLEAN), control_number=0, now=NOW)


def test_junk_group_gets_no_999_but_a_ta1() -> None:
    acks = _ack(CORPUS / "jdavisp3-tigershark" / "sample_835.txt")
    assert acks.x999 == []  # GS01 'TEST' is not a HIPAA functional group a 999 may name
    [ta1] = acks.ta1
    assert ta1.status == "E"


CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())


def test_every_corpus_999_lexes_and_validates_clean_with_pyx12() -> None:
    """All 999s of the corpus, written as one multi-interchange file, pass pyx12's 999 map."""
    # pyx12 takes the delimiters of the first ISA for the whole file: one batch per set
    batches: dict[bytes, list[bytes]] = {}
    number = 1  # one running counter, as in production: ISA13s must be unique per batch
    for path in CORPUS_FILES:
        acks = _ack(path, number)
        number = acks.next_control_number
        for ack in acks.all:
            assert list(Lexer(ack.content)), path  # our own lexer reads it back
            if ack.kind == "999":
                key = ack.content[3:4] + ack.content[104:106]
                batches.setdefault(key, []).append(ack.content)
    assert sum(map(len, batches.values())) > 500
    for batch in batches.values():
        findings = validate_ig(b"".join(batch))
        assert [(f.code, f.location.describe(), f.message) for f in findings] == []


def test_ta1_for_bad_delimiters_after_a_bom() -> None:
    """Locations count from the original bytes; the TA1 must still find the ISA after a BOM."""
    isa = (
        b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *"
        b"260101*1200*^*00501*000000001*1*P*A~"
    )
    data = b"\xef\xbb\xbf" + isa + b"GS*HP*S*R*20260101*1200*1*X*005010X221A1~"
    try:
        parsers.parse(data)
    except parsers.X12Error as exc:
        acks = acknowledge(data, exc, control_number=7, now=dt.datetime(2026, 1, 2, 3, 4))
    else:
        raise AssertionError("alphanumeric component separator must be fatal")
    [ta1] = acks.ta1
    assert (ta1.interchange_control_number, ta1.status, ta1.note) == ("000000001", "R", "027")
    assert b"TA1*000000001*260101*1200*R*027~" in ta1.content
