"""``gateway.ingest.provider_scan.scan`` reads an upload as chunks arrive: whatever the chunk size,
with a byte-order mark, CR/LF line ends, indentation or an unterminated last segment, it finds
the same providers per transaction as reading the whole file at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.ingest.provider_scan import scan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FILES = sorted(
    p
    for p in [*FIXTURES.glob("x12/*"), *FIXTURES.glob("reconcile/**/*")]
    if p.is_file() and p.suffix in {".835", ".837", ".x12", ".txt", ".edi"}
)


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _terminator(data: bytes) -> bytes:
    """The segment terminator: the byte after a fixed-width ISA's 106th character."""
    start = data.find(b"ISA")
    return data[start + 105 : start + 106]


def _found(data: bytes, size: int) -> tuple[bool, list[tuple[str, dict[str | None, int]]]]:
    sc = scan(_chunks(data, size))
    return sc.readable, [(t.kind, dict(t.named)) for t in sc.transactions]


def test_fixtures_are_there_and_name_providers() -> None:
    assert len(FILES) >= 20
    named = [p for p in FILES if any(n for _, n in _found(p.read_bytes(), 4096)[1])]
    assert len(named) >= 20


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_any_chunking_finds_what_the_whole_file_holds(path: Path) -> None:
    data = path.read_bytes()
    whole = _found(data, len(data) or 1)
    assert whole[0], path
    assert whole[1], "no 835 or 837 transaction found"
    for size in (1, 7, 106, 4096):
        assert _found(data, size) == whole, size
    # the shapes senders produce: a BOM, CR/LF after each segment, indentation
    assert _found(b"\xef\xbb\xbf" + data, 5) == whole
    term = _terminator(data)
    if term not in (b"\r", b"\n"):
        assert _found(data.replace(term, term + b"\r\n  "), 3) == whole


def test_an_unterminated_last_segment_is_still_read() -> None:
    data = next(p for p in FILES if p.suffix == ".835").read_bytes().rstrip()
    term = _terminator(data)
    assert data.endswith(term)
    cut = data[:-1]
    assert _found(cut, 9) == _found(data, len(data))
