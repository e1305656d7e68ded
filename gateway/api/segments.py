"""The segments around an error, rendered from the stored raw file with PHI masked.

Ops and auditors need to see *where* a file broke without the console becoming a PHI viewer.
Two rules make the view fail closed:

- **Tokenizing is the parser's.** Segments come from ``parsers.x12.lexer.Lexer``: each
  interchange is split with its own delimiters, and the ISA padding the parser tolerates (a
  107-character ISA) is tolerated here the same way. Where the lexer gives up, nothing more
  is shown: one placeholder line says why. A "segment" that does not start with a segment id
  (wrong delimiters, binary junk) is withheld whole, with a placeholder.
- **Masking is an allowlist.** ``gateway.security.phi.mask_elements`` shows an element only when
  its segment's rule says that element is not PHI; everything else, including every element
  of a segment it has no rule for, becomes ``•••`` (dates keep only their year).

Segment numbers count from the first ISA as 1, like the parser's ``Location.segment_number``.
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from gateway.security.phi import MASK, mask_elements, mask_quoted
from parsers.errors import X12Error
from parsers.x12.lexer import Lexer
from schemas.envelope import Delimiters

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")


@dataclass(frozen=True, slots=True)
class SegmentLine:
    number: int
    text: str
    is_error: bool
    #: True for a placeholder: ``text`` says why the segment(s) are not shown
    withheld: bool = False


def tokenize(data: bytes) -> Iterator[tuple[str, Delimiters]]:
    """Every segment of every interchange with that interchange's delimiters.

    Raises the lexer's ``X12Error`` where the file cannot be split any further.
    """
    lexer = Lexer(data)
    for seg in lexer:
        yield seg, lexer.delimiters


def render_segment(seg: str, d: Delimiters) -> str | None:
    """The masked text of one segment, or None when it must be withheld whole."""
    elements = seg.split(d.element)
    if not _SEGMENT_ID.match(elements[0]):
        return None
    return d.element.join(mask_elements(elements, d.component))


def _line(n: int, seg: str, d: Delimiters, is_error: bool) -> SegmentLine:
    text = render_segment(seg, d)
    if text is None:
        return SegmentLine(
            n,
            "[segment not shown: it does not start with a segment id, so its "
            "delimiters are unknown]",
            is_error,
            withheld=True,
        )
    return SegmentLine(n, text, is_error)


def segments_around(
    data: bytes, segment_number: int | None, radius: int = 6, *, tail: bool = False
) -> list[SegmentLine]:
    """Masked segments ``radius`` either side of ``segment_number`` (the head when unknown;
    with ``tail``, the last ``2 * radius`` segments before the file ends or cannot be split
    further: where a lexer error without a segment number happened).

    Reads only as far as the last segment shown; holds and masks only the segments shown.
    """
    centre = segment_number if segment_number and segment_number > 0 else 1
    lo, hi = max(1, centre - radius), centre + radius
    if tail:
        lo, hi = 1, sys.maxsize
    window: deque[tuple[int, str, Delimiters]] = deque(maxlen=2 * radius if tail else None)
    n = 0
    stop: SegmentLine | None = None
    try:
        for seg, d in tokenize(data):
            n += 1
            if n < lo:
                continue
            if n > hi:
                break
            window.append((n, seg, d))
    except X12Error as exc:
        if n == 0 and exc.code in {"not_x12", "empty_file"}:
            return []
        reason = mask_quoted(exc.reason) or exc.code
        stop = SegmentLine(
            n + 1,
            "[segments from here on not shown: the file cannot be split "
            f"into segments here ({reason})]",
            tail or (segment_number is not None and segment_number > n),
            withheld=True,
        )
    out = [_line(k, seg, d, k == segment_number) for k, seg, d in window]
    return [*out, stop] if stop is not None else out


__all__ = ["MASK", "SegmentLine", "render_segment", "segments_around", "tokenize"]
