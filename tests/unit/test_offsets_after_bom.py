"""Locations are offsets in the ORIGINAL input, even when ``prepare`` strips a UTF-8 BOM.

A support engineer opens the file the partner sent (BOM included) and jumps to the byte offset in
a finding or error; it must land on the segment that is reported.
"""

from __future__ import annotations

import pytest

import parsers
from parsers.x12.lexer import Lexer, locate
from tests.unit.test_envelope import build, interchange, tx835

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("prefix", [b"", BOM, BOM + b"\r\n  "], ids=["plain", "bom", "bom-ws"])
def test_finding_offset_points_at_the_segment_in_the_original_bytes(prefix: bytes) -> None:
    data = prefix + build(interchange([tx835(se01="1")]), nl="\r\n")
    for findings in (parsers.parse(data).findings, _streamed(data)):
        [f] = findings
        assert f.code == "segment_count_mismatch"
        assert f.location.byte_offset == data.index(b"SE*1*")
        assert f.location.line == 11 + prefix.count(b"\n")


def _streamed(data: bytes) -> list[parsers.Finding]:
    reader = parsers.stream(data)
    for _ in reader:
        pass
    return reader.findings.items


@pytest.mark.parametrize("prefix", [b"", BOM], ids=["plain", "bom"])
def test_fatal_error_offset_is_in_the_original_bytes(prefix: bytes) -> None:
    good = build(interchange([tx835()]))
    data = prefix + good + b"GS*HP*oops~"
    with pytest.raises(parsers.StructureError) as info:
        parsers.parse(data)
    assert info.value.location.byte_offset == data.index(b"GS*HP*oops")


def test_not_x12_after_bom_and_whitespace() -> None:
    data = BOM + b"\n  ST*835*0001~"
    with pytest.raises(parsers.NotX12Error) as info:
        parsers.parse(data)
    assert info.value.location.byte_offset == data.index(b"ST*")


def test_locate_takes_the_original_input() -> None:
    data = BOM + build(interchange([tx835()]))
    lexer = Lexer(data)
    count = sum(1 for _ in lexer)
    where = locate(data, lexer.spans, [1, count])
    assert where[1] == (3, 1)
    assert data[where[count][0] :].startswith(b"IEA*")
    assert lexer.locate([count]) == {count: where[count]}
