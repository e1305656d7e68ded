"""The stream lexer yields what the bytes lexer yields: segments, errors and locations.

Every fixture file, and damaged variants of it (truncated, BOM, CRLF, indentation, two
interchanges, a bad ISA), is read both ways with tiny windows and tiny reads, so interchange
ends, terminators and whitespace fall across window and read boundaries.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

import parsers
from parsers.x12.lexer import Lexer, Limits
from parsers.x12.stream_lexer import StreamLexer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FILES = sorted(
    p
    for p in [*FIXTURES.glob("x12/*"), *FIXTURES.glob("corpus/x12/**/*")]
    if p.is_file() and p.suffix != ".md" and p.read_bytes().lstrip()[:3] == b"ISA"
)
SMALL = Limits(chunk_size=700)


class _Unseekable(io.RawIOBase):
    """A stream that cannot seek back, like a decrypting or decompressing store stream."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(min(len(buffer), 5))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _variants(data: bytes) -> dict[str, bytes]:
    isa_end = data.find(b"GS")
    return {
        "as_is": data,
        "bom": b"\xef\xbb\xbf" + data,
        "crlf": data.replace(b"~", b"~\r\n"),
        "indented": data.replace(b"~", b"~\n   "),
        "twice": data + b"\n" + data,
        "truncated_half": data[: len(data) // 2],
        "truncated_before_iea": data[: data.rfind(b"IEA")],
        "no_iea_terminator": data.rstrip()[:-1] if data.rstrip().endswith(b"~") else data,
        "junk_after": data + b"\nNOT X12 AT ALL",
        "short_isa": data[:50] + data[52:] if isa_end > 60 else data,
        "leading_ws": b"\n\n  \t" + data,
    }


def _lex(lexer: Lexer | StreamLexer) -> tuple[list[tuple[str, str]], Any]:
    segs: list[tuple[str, str]] = []
    try:
        for seg in lexer:
            segs.append((seg, lexer.delimiters.segment))
    except parsers.X12Error as exc:
        return segs, (type(exc).__name__, exc.reason, exc.location.as_dict())
    return segs, None


def _read(data: bytes | io.RawIOBase) -> Any:
    reader = parsers.X12Reader(data, SMALL)  # type: ignore[arg-type]
    events: list[str] = []
    try:
        for event in reader:
            events.append(type(event).__name__)
    except parsers.X12Error as exc:
        return events, (type(exc).__name__, exc.reason, exc.location.as_dict()), []
    return events, None, [f.as_dict() for f in reader.findings.items]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_stream_lexer_matches_bytes_lexer(path: Path) -> None:
    assert FILES, "no fixtures found"
    for name, data in _variants(path.read_bytes()).items():
        want = _lex(Lexer(data, SMALL))
        for read_size in (3, 64, 1 << 20):
            got = _lex(StreamLexer(io.BytesIO(data), SMALL, read_size=read_size))
            assert got == want, (name, read_size)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_stream_reader_matches_bytes_reader(path: Path) -> None:
    for name, data in _variants(path.read_bytes()).items():
        want = _read(data)
        assert _read(io.BytesIO(data)) == want, name  # type: ignore[arg-type]


def test_unseekable_stream_locates_findings_of_recent_windows() -> None:
    data = next(p for p in FILES if p.name == "medicare-part-a.835").read_bytes()
    bad = data.replace(b"SE*", b"SE*9", 1)  # a wrong SE01: a finding on the SE segment
    events, error, findings = _read(bad)
    assert error is None
    assert findings
    assert any(f["location"].get("byte_offset") for f in findings)
    assert _read(_Unseekable(bad)) == (events, error, findings)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "EmptyInputError"),
        (b" \n\t ", "EmptyInputError"),
        (b"\xef\xbb\xbf", "EmptyInputError"),
    ],
)
def test_empty_streams_fail_like_bytes(data: bytes, error: str) -> None:
    with pytest.raises(parsers.X12Error) as want:
        list(Lexer(data))
    got = _lex(StreamLexer(io.BytesIO(data)))
    assert got[1] == (error, want.value.reason, want.value.location.as_dict())
