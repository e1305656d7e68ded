"""The console's segment pages, read from a stream prefix, equal the whole-file view.

``segments_page`` splits a growing prefix of the stored file with the parser's lexer and stops
once a segment after the view appears; these tests force many small prefixes (including ones
that end inside a UTF-8 character) and check every view against ``segments_around`` of the
whole file, and that a view near the head reads only a small part of a large file.
"""

from __future__ import annotations

import io

import pytest

from gateway.api import segments
from gateway.api.segments import segments_around, segments_page
from tests.integration.x12gen import make_835


def _file() -> bytes:
    """Two interchanges, the second with other delimiters, and a non-ASCII payee name."""
    first = make_835(1, claims=30).replace(b"GOOD CLINIC", "GÖÖD CLÏNIC".encode(), 1)
    second = make_835(2, claims=30).replace(b"*", b"|").replace(b":", b">").replace(b"~", b"!")
    return first + b"\n" + second


class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


@pytest.mark.parametrize("first_read", [7, 100, 4096])
def test_every_view_equals_the_whole_file_view(
    monkeypatch: pytest.MonkeyPatch, first_read: int
) -> None:
    monkeypatch.setattr(segments, "FIRST_READ", first_read)
    data = _file()
    total = len(segments_around(data, None, tail=True, radius=10**6))
    assert total > 300
    for centre in [None, 1, 2, 7, 50, total // 2, total - 1, total, total + 5]:
        page = segments_page(io.BytesIO(data), centre)
        assert page.lines == segments_around(data, centre), centre
    assert segments_page(io.BytesIO(data), None, tail=True).lines == segments_around(
        data, None, tail=True
    )
    for start in [1, 13, total - 10, total]:
        page = segments_page(io.BytesIO(data), first=start, count=25)
        expected = segments_around(data, None, tail=True, radius=10**6)[start - 1 : start + 24]
        assert page.lines == expected
        assert page.more == (start + 25 <= total)


def test_head_view_reads_a_small_prefix_of_a_large_file() -> None:
    data = make_835(3, claims=4000)
    assert len(data) > 1_000_000
    stream = _Counting(data)
    page = segments_page(stream, None)
    assert [line.number for line in page.lines] == list(range(1, 8))
    assert page.more
    assert stream.taken <= 64 * 1024


def test_views_deeper_than_the_read_limit_are_withheld() -> None:
    data = make_835(4, claims=400)
    page = segments_page(io.BytesIO(data), first=5000, count=10, max_read=16 * 1024)
    [line] = page.lines
    assert line.withheld
    assert "beyond the first" in line.text
