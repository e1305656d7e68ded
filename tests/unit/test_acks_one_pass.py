"""The acknowledgments come from the parse that read the file, never from a second pass.

The reader records every ISA/GS/ST and the text of the segments of element-level findings as it
streams; ``acknowledge`` builds the TA1/999 from that record. The bytes scan it replaced stays
for results without one, so every corpus file (and files damaged the way senders damage them)
must give the same acknowledgments both ways, byte for byte, read from bytes or from a stream.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest

import parsers
from parsers.ack import Acknowledgments, acknowledge
from tests.conftest import CORPUS

NOW = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md")


class Unreadable(io.BytesIO):
    """The file's stream after the parse: reading it again fails the test."""

    def read(self, size: int | None = -1) -> bytes:  # noqa: ARG002 - BytesIO's signature
        raise AssertionError("acknowledge read the file a second time")


def _contents(acks: Acknowledgments) -> list[tuple[str, str, bytes]]:
    return [(a.kind, a.status, a.content) for a in acks.all]


def _both_ways(data: bytes, *, stream: bool) -> tuple[Acknowledgments, Acknowledgments] | None:
    """Both ways' acks, or None for a fatal file (checked to need its bytes: its TA1 is cut
    from the header, by design)."""
    try:
        result = parsers.check(io.BytesIO(data) if stream else data)
    except parsers.X12Error as exc:
        with pytest.raises(ValueError, match="from the file's bytes"):
            acknowledge(None, exc, control_number=5, now=NOW)
        return None
    assert result.envelopes is not None
    one_pass = acknowledge(Unreadable(), result, control_number=5, now=NOW)
    scanned = acknowledge(
        data, dataclasses.replace(result, envelopes=None), control_number=5, now=NOW
    )
    return one_pass, scanned


@pytest.mark.parametrize("stream", [False, True], ids=["bytes", "stream"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_acks_equal_the_scanned_ones(path: Path, stream: bool) -> None:
    both = _both_ways(path.read_bytes(), stream=stream)
    if both is not None:
        assert _contents(both[0]) == _contents(both[1])


@pytest.mark.parametrize("stream", [False, True], ids=["bytes", "stream"])
def test_ik4_copies_of_bad_elements_come_from_the_first_pass(stream: bool) -> None:
    """Bad amounts and dates, CRLF line breaks and an indented segment: the IK404 copies (the
    bad value echoed back) must be the same as when the file was scanned for them."""
    path = CORPUS / "affect-therapeutics-edi-835-parser" / "sample_835.txt"
    data = path.read_bytes().replace(b"~", b"~\r\n")
    data = data.replace(b"DTM*405*", b"DTM*405*2X", 1).replace(b"~\r\nCLP*", b"~\r\n  CLP*", 1)
    both = _both_ways(data, stream=stream)
    assert both is not None
    one_pass, scanned = both
    [ack] = one_pass.x999
    assert b"IK4*" in ack.content
    assert b"2X" in ack.content  # the bad date is echoed in IK404
    assert _contents(one_pass) == _contents(scanned)


def test_a_result_without_envelopes_or_bytes_is_refused() -> None:
    result = parsers.check((CORPUS / "imsweb-x12-parser" / "x12_valid.txt").read_bytes())
    with pytest.raises(ValueError, match="without envelopes"):
        acknowledge(None, dataclasses.replace(result, envelopes=None), control_number=1, now=NOW)
