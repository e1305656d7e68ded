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
The console reads a view from the raw store's stream only as far as it needs
(``segments_page``), never the whole file (issue 17, item 6).
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from gateway.security.phi import MASK, mask_elements, mask_quoted
from gateway.store.base import CHUNK
from parsers.errors import X12Error
from parsers.x12.lexer import Lexer
from schemas.envelope import Delimiters

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_NON_ASCII = bytes(range(0x80, 0x100))


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


@dataclass(frozen=True, slots=True)
class SegmentPage:
    """The lines of one view and where it sits in the file (for paging links)."""

    lines: list[SegmentLine]
    #: first segment number the view asked for
    first: int
    #: a segment after the view exists (the file was read just that far)
    more: bool


@dataclass(slots=True)
class _Scan:
    window: deque[tuple[int, str, Delimiters]]
    #: segments read before the scan stopped (at an error, the end, or past ``hi``)
    n: int
    error: X12Error | None
    #: a segment after ``hi`` was read: every segment of the window is complete
    beyond: bool


def _scan(data: bytes, lo: int, hi: int, keep: int | None) -> _Scan:
    window: deque[tuple[int, str, Delimiters]] = deque(maxlen=keep)
    n = 0
    try:
        for seg, d in tokenize(data):
            n += 1
            if n < lo:
                continue
            if n > hi:
                return _Scan(window, n - 1, None, True)
            window.append((n, seg, d))
    except X12Error as exc:
        return _Scan(window, n, exc, False)
    return _Scan(window, n, None, False)


def _lines(scan: _Scan, segment_number: int | None, tail: bool) -> list[SegmentLine]:
    stop: SegmentLine | None = None
    exc = scan.error
    if exc is not None:
        if scan.n == 0 and exc.code in {"not_x12", "empty_file"}:
            return []
        reason = mask_quoted(exc.reason) or exc.code
        stop = SegmentLine(
            scan.n + 1,
            "[segments from here on not shown: the file cannot be split "
            f"into segments here ({reason})]",
            tail or (segment_number is not None and segment_number > scan.n),
            withheld=True,
        )
    out = [_line(k, seg, d, k == segment_number) for k, seg, d in scan.window]
    return [*out, stop] if stop is not None else out


def _bounds(segment_number: int | None, radius: int, tail: bool) -> tuple[int, int, int | None]:
    if tail:
        return 1, sys.maxsize, 2 * radius
    centre = segment_number if segment_number and segment_number > 0 else 1
    return max(1, centre - radius), centre + radius, None


def segments_around(
    data: bytes, segment_number: int | None, radius: int = 6, *, tail: bool = False
) -> list[SegmentLine]:
    """Masked segments ``radius`` either side of ``segment_number`` (the head when unknown;
    with ``tail``, the last ``2 * radius`` segments before the file ends or cannot be split
    further: where a lexer error without a segment number happened).

    Reads only as far as the last segment shown; holds and masks only the segments shown.
    """
    lo, hi, keep = _bounds(segment_number, radius, tail)
    return _lines(_scan(data, lo, hi, keep), segment_number, tail)


#: the first read of a stored file for one view; each further read takes four times as much
FIRST_READ = 64 * 1024
#: a view never reads more of a file than this (the console is no bulk reader: ops download)
MAX_READ = 64 * 1024 * 1024


def segments_page(
    stream: BinaryIO,
    segment_number: int | None = None,
    radius: int = 6,
    *,
    tail: bool = False,
    first: int | None = None,
    count: int = 50,
    max_read: int = MAX_READ,
) -> SegmentPage:
    """One view read from the stored file's ``stream``: the segments around
    ``segment_number`` (as ``segments_around``), or with ``first`` the ``count`` segments
    from there on.

    The file is read only as far as the view needs: a growing prefix is split by the
    parser's own lexer until a segment after the view appears (so every segment shown is
    complete and numbered as in the whole file) or the file ends. Beyond ``max_read`` bytes
    one placeholder line says the rest lies too deep to show here.
    """
    if first is not None:
        lo, hi, keep = max(1, first), max(1, first) + max(1, count) - 1, None
    else:
        lo, hi, keep = _bounds(segment_number, radius, tail)
    buf = bytearray()
    want, eof = min(FIRST_READ, max_read), False
    while True:
        while len(buf) < want and not eof:
            chunk = stream.read(min(CHUNK, want - len(buf)))
            if chunk:
                buf += chunk
            else:
                eof = True
        data = bytes(buf)
        if not eof:  # never end a prefix inside a UTF-8 sequence (the lexer would decode
            data = data.rstrip(_NON_ASCII)  # that chunk as latin-1)
        scan = _scan(data, lo, hi, keep)
        if scan.beyond or eof:
            return SegmentPage(_lines(scan, segment_number, tail), lo, scan.beyond)
        if len(buf) >= max_read:
            return SegmentPage(
                [
                    SegmentLine(
                        lo,
                        f"[segments not shown: they lie beyond the first {max_read // 2**20} MiB "
                        "of the file, further than the console reads]",
                        False,
                        withheld=True,
                    )
                ],
                lo,
                False,
            )
        want = min(want * 4, max_read)


__all__ = [
    "MASK",
    "SegmentLine",
    "SegmentPage",
    "render_segment",
    "segments_around",
    "segments_page",
    "tokenize",
]
