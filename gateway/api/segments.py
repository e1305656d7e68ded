"""The segments around an error, rendered from the stored raw file with PHI masked.

Ops need to see *where* a file broke without the console becoming a PHI viewer: names and ids of
people (NM1 whose NM102 is not "2", i.e. not an organisation), demographics (DMG), addresses
(N3/N4), contact numbers (PER) and person identifiers in REF are replaced by ``***``.
Segment numbers count from the ISA as 1, like the parser's ``Location.segment_number``.
"""

from __future__ import annotations

from dataclasses import dataclass

MASK = "***"
_REF_PERSON = frozenset({"SY", "1W", "23", "EA", "IG", "HJ", "0B", "1L"})


@dataclass(frozen=True, slots=True)
class SegmentLine:
    number: int
    text: str
    is_error: bool


def _mask(elements: list[str]) -> list[str]:
    sid = elements[0]
    idx: set[int] = set()
    if sid == "NM1" and (len(elements) < 3 or elements[2] != "2"):
        idx = {3, 4, 5, 6, 7, 9}
    elif sid == "DMG":
        idx = {2, 3, 4, 5}
    elif sid == "N3":
        idx = {1, 2}
    elif sid == "N4":
        idx = {1, 2, 3}
    elif sid == "PER":
        idx = {2, 4, 6, 8}
    elif sid == "REF" and len(elements) > 1 and elements[1] in _REF_PERSON:
        idx = {2, 3}
    return [MASK if i in idx and e else e for i, e in enumerate(elements)]


def split_segments(data: bytes) -> tuple[list[str], str]:
    """(segments, element separator) of the first interchange's delimiters; [] if not X12."""
    text = data.decode("latin-1")
    start = text.find("ISA")
    if start < 0 or len(text) < start + 106:
        return [], "*"
    sep, term = text[start + 3], text[start + 105]
    segs = [s.strip("\r\n\t ") for s in text[start:].split(term)]
    return [s for s in segs if s], sep


def segments_around(data: bytes, segment_number: int | None, radius: int = 6,
                    ) -> list[SegmentLine]:
    """Masked segments ``radius`` either side of ``segment_number`` (the head when unknown)."""
    segs, sep = split_segments(data)
    if not segs:
        return []
    centre = segment_number if segment_number and segment_number > 0 else 1
    lo = max(1, centre - radius)
    hi = min(len(segs), centre + radius)
    out = []
    for n in range(lo, hi + 1):
        masked = sep.join(_mask(segs[n - 1].split(sep)))
        out.append(SegmentLine(n, masked, n == segment_number))
    return out


__all__ = ["MASK", "SegmentLine", "segments_around", "split_segments"]
