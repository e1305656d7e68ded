"""Envelope checks (ISA/GS/ST counts and control numbers) and the typed fatal errors.

Files are built here segment by segment, so each test changes exactly one thing in an otherwise
valid interchange and can say precisely where the problem must be reported.
"""

from __future__ import annotations

import pytest

import parsers
from parsers.result import ParseResult

ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240102*1230*^*"
    "00501*{icn}*0*P*:"
)
assert len(ISA.format(icn="000000001")) + 1 == 106


def tx835(control: str = "0001", se01: str | None = None, se02: str | None = None) -> list[str]:
    body = [
        f"ST*835*{control}",
        "BPR*I*100*C*CHK************20240102",
        "TRN*1*12345*1999999999",
        "N1*PR*PAYER",
        "N1*PE*PROVIDER*XX*1234567893",
        "LX*1",
        "CLP*PCN1*1*150*100**12*ICN1",
        "CAS*CO*45*50",
    ]
    count = str(len(body) + 1) if se01 is None else se01
    return [*body, f"SE*{count}*{control if se02 is None else se02}"]


def interchange(
    *groups: list[list[str]],
    icn: str = "000000001",
    gs08: str = "005010X221A1",
    ge01: str | None = None,
    ge02: str | None = None,
    iea01: str | None = None,
    iea02: str | None = None,
) -> list[str]:
    segs = [ISA.format(icn=icn)]
    for i, sets in enumerate(groups, start=1):
        segs.append(f"GS*HP*SENDER*RECEIVER*20240102*1230*{i}*X*{gs08}")
        for tx in sets:
            segs.extend(tx)
        segs.append(f"GE*{len(sets) if ge01 is None else ge01}*{i if ge02 is None else ge02}")
    segs.append(f"IEA*{len(groups) if iea01 is None else iea01}*{icn if iea02 is None else iea02}")
    return segs


def build(segments: list[str], term: str = "~", nl: str = "\n") -> bytes:
    return "".join(s + term + nl for s in segments).encode()


def one(segments: list[str] | None = None) -> list[str]:
    return segments if segments is not None else interchange([tx835()])


def codes(result: ParseResult) -> list[str]:
    return [f.code for f in result.findings]


def test_valid_interchange_has_no_findings() -> None:
    result = parsers.parse(build(one()))
    assert result.findings == []
    assert result.segment_count == 13
    [remit] = result.remittances
    assert remit.claims[0].paid == 100


def test_wrong_se01_is_located_at_the_se_segment() -> None:
    data = build(interchange([tx835(se01="7")]))
    result = parsers.parse(data)
    [f] = result.findings
    assert (f.code, f.severity, f.ack_level, f.ack_code) == (
        "segment_count_mismatch",
        parsers.ERROR,
        "IK5",
        "4",
    )
    # ISA, GS, then ST is segment 3; SE is the 9th segment of the set: segment 11 of the file.
    assert f.location.segment_number == 11
    assert f.location.segment_id == "SE"
    assert f.location.transaction_segment_number == 9
    assert f.location.transaction_control_number == "0001"
    assert f.location.line == 11
    assert f.location.byte_offset == data.index(b"SE*7*")
    assert not result.ok


def test_se02_differs_from_st02() -> None:
    [f] = parsers.parse(build(interchange([tx835(se02="0002")]))).findings
    assert (f.code, f.ack_level, f.ack_code) == ("transaction_control_mismatch", "IK5", "3")
    assert f.location.segment_number == 11


@pytest.mark.parametrize(
    ("kwargs", "code", "ack"),
    [
        ({"ge01": "2"}, "group_count_mismatch", ("AK9", "5")),
        ({"ge02": "99"}, "group_control_mismatch", ("AK9", "4")),
        ({"iea01": "3"}, "interchange_count_mismatch", ("TA1", "021")),
        ({"iea02": "000000002"}, "interchange_control_mismatch", ("TA1", "001")),
        ({"gs08": "004010X091A1"}, "unsupported_version", ("AK9", "2")),
    ],
)
def test_envelope_trailer_checks(kwargs: dict[str, str], code: str, ack: tuple[str, str]) -> None:
    data = build(interchange([tx835()], **kwargs))
    result = parsers.parse(data)
    [f] = result.findings
    assert f.code == code
    assert (f.ack_level, f.ack_code) == ack
    tag = {"group": "GE", "interchange": "IEA", "unsupported": "GS"}[code.split("_")[0]]
    assert f.location.segment_id == tag
    number = {"GE": 12, "IEA": 13, "GS": 2}[tag]
    assert f.location.segment_number == number
    assert f.location.line == number
    assert f.location.byte_offset == data.index(f"\n{tag}*".encode()) + 1


@pytest.mark.parametrize("cut_after", ["CLP*PCN1", "SE*9*0001~", "GE*1*1~", "ISA*00"])
def test_truncated_file(cut_after: str) -> None:
    data = build(one(), nl="")
    cut = data.index(cut_after.encode()) + len(cut_after)
    if cut_after == "ISA*00":
        with pytest.raises(parsers.InterchangeHeaderError):
            parsers.parse(data[:cut])
        return
    with pytest.raises(parsers.TruncatedError) as info:
        parsers.parse(data[:cut])
    assert info.value.reason
    assert info.value.location.segment_number > 0


def test_truncated_inside_transaction_says_which() -> None:
    data = build(one(), nl="")
    with pytest.raises(parsers.TruncatedError) as info:
        parsers.parse(data[: data.index(b"CAS*")])
    assert info.value.location.transaction_control_number == "0001"
    assert "0001" in info.value.reason


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", parsers.EmptyInputError),
        (b" \r\n\t \n", parsers.EmptyInputError),
        (b"\xef\xbb\xbf", parsers.EmptyInputError),
        (bytes(range(256)) * 8, parsers.NotX12Error),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), parsers.NotX12Error),
        (b"ST*835*0001~BPR*I*100*C*CHK~SE*3*0001~", parsers.NotX12Error),
        (b"GS*HP*A*B*20240102*1230*1*X*005010X221A1~", parsers.NotX12Error),
    ],
    ids=["0-bytes", "whitespace", "bom-only", "binary", "png", "st-fragment", "no-isa"],
)
def test_unreadable_inputs(data: bytes, error: type[parsers.X12Error]) -> None:
    with pytest.raises(error) as info:
        parsers.parse(data)
    assert info.value.reason
    assert isinstance(info.value.location, parsers.Location)


def test_not_x12_after_leading_whitespace_reports_where() -> None:
    with pytest.raises(parsers.NotX12Error) as info:
        parsers.parse(b"\n\n  ST*835*0001~")
    assert info.value.location.byte_offset == 4
    assert info.value.location.line == 3


def _with_isa(isa: str) -> bytes:
    segs = one()
    segs[0] = isa
    return build(segs, nl="")


@pytest.mark.parametrize(
    "isa",
    [
        ISA.format(icn="000000001").replace("*", "A"),  # alphanumeric element separator
        ISA.format(icn="000000001")[:-1] + "*",  # component separator = element separator
    ],
    ids=["alnum-element", "component-repeats-element"],
)
def test_bad_delimiters(isa: str) -> None:
    with pytest.raises(parsers.X12Error) as info:
        parsers.parse(_with_isa(isa))
    assert isinstance(info.value, parsers.DelimiterError | parsers.InterchangeHeaderError)
    assert info.value.location.segment_id == "ISA"
    assert info.value.location.byte_offset == 0


def test_terminator_equal_to_element_separator() -> None:
    data = (ISA.format(icn="000000001") + "*").encode() + b"GS*HP"
    with pytest.raises(parsers.DelimiterError):
        parsers.parse(data)


def test_alphanumeric_component_separator() -> None:
    with pytest.raises(parsers.DelimiterError):
        parsers.parse(_with_isa(ISA.format(icn="000000001")[:-1] + "X"))


@pytest.mark.parametrize(
    "prefix",
    [b"\xef\xbb\xbf", b"\n\n", b"   \t", b"\xef\xbb\xbf\r\n  "],
    ids=["bom", "newlines", "spaces", "bom-crlf-spaces"],
)
def test_bom_and_leading_whitespace_tolerated(prefix: bytes) -> None:
    result = parsers.parse(prefix + build(one()))
    assert result.findings == []
    assert len(result.remittances[0].claims) == 1


@pytest.mark.parametrize("nl", ["\r\n", "\r", "\n", "", "\r\n   "])
def test_line_breaks_after_terminators_tolerated(nl: str) -> None:
    result = parsers.parse(build(one(), nl=nl))
    assert result.findings == []
    assert result.segment_count == 13


def test_locations_count_lines_with_crlf() -> None:
    data = build(interchange([tx835(se01="1")]), nl="\r\n")
    [f] = parsers.parse(data).findings
    assert f.location.line == 11
    assert f.location.byte_offset == data.index(b"SE*1*")


def test_several_interchanges_with_different_delimiters() -> None:
    first = build(one())
    second_segs = interchange([tx835("0007")], icn="000000002")
    second = "".join(s.replace("*", "|").replace(":", ">") + "\n" for s in second_segs).encode()
    # ISA16 of the second interchange becomes '>'; its terminator is '\n'
    result = parsers.parse(first + second)
    assert result.findings == []
    assert [ic.interchange.control_number for ic in result.interchanges] == [
        "000000001",
        "000000002",
    ]
    d1 = result.interchanges[0].interchange.delimiters
    d2 = result.interchanges[1].interchange.delimiters
    assert (d1.element, d1.component, d1.segment) == ("*", ":", "~")
    assert (d2.element, d2.component, d2.segment) == ("|", ">", "\n")
    assert [r.header.control_number for r in result.remittances] == ["0001", "0007"]


def test_several_groups_and_sets() -> None:
    data = build(interchange([tx835("0001"), tx835("0002")], [tx835("0003")]))
    result = parsers.parse(data)
    assert result.findings == []
    [ic] = result.interchanges
    assert [len(g.transactions) for g in ic.groups] == [2, 1]
    assert [g.group.control_number for g in ic.groups] == ["1", "2"]
    assert [r.header.group_control_number for r in result.remittances] == ["1", "1", "2"]


def test_duplicate_st02_in_a_group() -> None:
    result = parsers.parse(build(interchange([tx835("0001"), tx835("0001")])))
    [f] = result.findings
    assert (f.code, f.ack_code) == ("duplicate_st_control_number", "23")
    assert f.location.segment_number == 12


def test_segment_longer_than_limit() -> None:
    segs = one()
    segs[6] = "N1*PE*" + "A" * 500 + "*XX*1234567893"
    data = build(segs)
    with pytest.raises(parsers.LimitExceededError) as info:
        parsers.parse(data, parsers.Limits(max_segment_length=200))
    assert info.value.location.segment_id == "N1"
    assert info.value.location.byte_offset == data.index(b"N1*PE*")
    assert parsers.parse(data).findings == []  # fine under the default limit


def test_segment_longer_than_default_limit() -> None:
    segs = one()
    segs[6] = "N1*PE*" + "A" * 70_000
    with pytest.raises(parsers.LimitExceededError):
        parsers.parse(build(segs))


def test_unterminated_giant_segment_is_bounded() -> None:
    data = build(one(), nl="")[:200] + b"A" * 300_000
    with pytest.raises(parsers.X12Error):
        parsers.parse(data, parsers.Limits(chunk_size=65_536, max_segment_length=1000))


def test_segment_outside_transaction_is_structure_error() -> None:
    segs = one()
    segs.insert(2, "CLP*X*1*1*1")
    with pytest.raises(parsers.StructureError) as info:
        parsers.parse(build(segs))
    assert info.value.location.segment_number == 3


@pytest.mark.parametrize("term", ["\\", "~", "'"])
def test_indented_segments_after_any_terminator(term: str) -> None:
    """Found by the damaged-input property test: a backslash terminator followed by
    indentation crashed in the regex that strips the indentation."""
    result = parsers.parse(build(one(), term=term, nl="\n  "))
    assert result.findings == []
    assert result.interchanges[0].interchange.delimiters.segment == term
    assert len(result.remittances[0].claims) == 1
