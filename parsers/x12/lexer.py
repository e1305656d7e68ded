"""Bytes to X12 segments.

Delimiters come from each ISA (element separator at byte 3, ISA11 repetition separator, ISA16
component separator, then the segment terminator). Each interchange is cut out by locating its
IEA with ``bytes.find`` and then split in bounded chunks with ``str.split``: that keeps the hot
loop in C and memory flat however large the file is. CR/LF after terminators and the indentation
of pretty-printed files are removed per chunk, also in C.

The lexer only yields segment strings; callers count them. Exact byte offsets and line numbers
are recovered only when something must be reported (``locate``), so the fast path never pays
for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

from parsers.errors import (
    LimitExceededError,
    Location,
    X12Error,
)
from parsers.x12.isa import WHITESPACE, bom_length, prepare, read_isa, skip_ws
from schemas.envelope import Delimiters


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits; anything beyond is rejected early (before the rest is read)."""

    max_segment_length: int = 65_536
    #: no 5010 element in the 835/837 guides is longer than a few hundred characters
    max_element_length: int = 1_024
    max_interchanges: int = 100_000
    max_segments: int = 50_000_000
    #: bytes split at a time: a window's segments live as Python strings (about 3.5 times its
    #: size) while it is parsed, so 1 MiB holds a streamed parse's working set near 10 MB
    chunk_size: int = 1024 * 1024


DEFAULT_LIMITS = Limits()


class Lexer:
    """Iterate the segments of every interchange in ``data``.

    After the ISA segment of an interchange is yielded, ``delimiters`` holds that interchange's
    delimiters and ``isa_fixed_width`` says whether the ISA had the standard 106 bytes.
    """

    def __init__(self, data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
        #: added to every offset in ``self.data`` to make it an offset in the original input
        self.offset_base = bom_length(data)
        self.data = prepare(data)
        self.limits = limits
        self.delimiters = Delimiters()
        self.isa_elements: list[str] = []
        self.isa_fixed_width = True
        self.interchange_count = 0
        self.segments_seen = 0
        #: (start offset, delimiters) of each interchange, for ``locate``.
        self.spans: list[tuple[int, int, Delimiters]] = []
        self.ended_with_iea = True

    def __iter__(self) -> Iterator[str]:
        # Chunks are flattened by C code (chain), not by nested generators: one Python frame
        # resumption per chunk instead of two per segment. State (delimiters, ISA) is still set
        # before the ISA segment is handed out, because chain pulls a chunk only when it needs it.
        return chain.from_iterable(self._chunks())

    def _chunks(self) -> Iterator[list[str]]:
        try:
            yield from self._interchange_chunks()
        except X12Error as exc:
            if self.offset_base and exc.location.byte_offset is not None:
                exc.location.byte_offset += self.offset_base
            raise

    def locate(
        self, segment_numbers: Iterable[int], texts: dict[int, str] | None = None
    ) -> dict[int, tuple[int, int]]:
        """Offset in the original input and line of the given 1-based segment numbers.

        ``texts``, when given, also receives each located segment's text.
        """
        return _locate(self.data, self.spans, segment_numbers, self.offset_base, texts)

    def _interchange_chunks(self) -> Iterator[list[str]]:
        data = self.data
        pos = skip_ws(data, 0)
        n = len(data)
        line, counted = 1, 0
        while pos < n:
            line += data.count(b"\n", counted, pos)
            counted = pos
            delims, isa_elements, after_isa, fixed = read_isa(
                data, pos, first=self.interchange_count == 0, line=line
            )
            self.interchange_count += 1
            if self.interchange_count > self.limits.max_interchanges:
                raise LimitExceededError(
                    f"more than {self.limits.max_interchanges} interchanges in one file",
                    Location(byte_offset=pos),
                )
            self.delimiters = delims
            self.isa_elements = isa_elements
            self.isa_fixed_width = fixed
            end, closed = self._interchange_end(after_isa, delims)
            self.ended_with_iea = closed
            self.spans.append((pos, end, delims))
            yield [delims.element.join(isa_elements)]
            yield from self._segments(after_isa, end, delims)
            pos = skip_ws(data, end)

    def _interchange_end(self, start: int, d: Delimiters) -> tuple[int, bool]:
        """Offset just past this interchange's IEA segment, or EOF when there is none."""
        data = self.data
        needle = ("IEA" + d.element).encode("latin-1")
        term = d.segment.encode("latin-1")
        cur = start
        while True:
            hit = data.find(needle, cur)
            if hit < 0:
                return len(data), False
            back = hit - 1
            while back >= start and data[back] in WHITESPACE and data[back : back + 1] != term:
                back -= 1
            if back < start or data[back : back + 1] == term:
                stop = data.find(term, hit)
                return (len(data), False) if stop < 0 else (stop + 1, True)
            cur = hit + 1

    def _segments(self, start: int, end: int, d: Delimiters) -> Iterator[list[str]]:
        data = self.data
        term_b = d.segment.encode("latin-1")
        chunk_size = self.limits.chunk_size
        split = Splitter(d, self.limits)
        pos = start
        while pos < end:
            stop = min(pos + chunk_size, end)
            if stop < end:
                cut = data.rfind(term_b, pos, stop)
                if cut < 0:
                    raise LimitExceededError(
                        f"a segment is longer than {chunk_size} bytes (no terminator found)",
                        Location(byte_offset=pos),
                    )
                stop = cut + 1
            segs = split(data[pos:stop], pos, self.segments_seen)
            self.segments_seen += len(segs)
            yield segs
            pos = stop


def _strip_pairs(term: str) -> tuple[str, ...]:
    """Line-break characters dropped from segment text (those that are not the terminator)."""
    if term in "\r\n":
        return ("\n" if term == "\r" else "\r",)
    return ("\r", "\n")


def _clean(raw: bytes, strip_pairs: tuple[str, ...]) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    for ch in strip_pairs:
        if ch in text:
            text = text.replace(ch, "")
    return text.lstrip(" \t\x00\x0b\x0c")


def segment_text(raw: bytes, terminator: str) -> str:
    """One segment's bytes (without terminator) as the splitter yields its text."""
    return _clean(raw, _strip_pairs(terminator))


class Splitter:
    """Split one chunk (whole segments, cut after a terminator) of one interchange.

    Shared by the bytes and the stream lexer so both strip, split and check limits alike.
    """

    def __init__(self, d: Delimiters, limits: Limits) -> None:
        self.d = d
        self.term = term = d.segment
        self.max_len = limits.max_segment_length
        self.max_element = limits.max_element_length
        self.max_segments = limits.max_segments
        self.strip_pairs = _strip_pairs(term)
        self.indent = re.compile(re.escape(term) + r"[ \t\x00\x0b\x0c]+")
        # a replacement template: a backslash terminator would read as an escape
        self.term_template = term.replace("\\", "\\\\")

    def __call__(self, raw: bytes, pos: int, seen: int) -> list[str]:
        """The segments of ``raw`` (at offset ``pos``), after ``seen`` earlier segments."""
        term = self.term
        text = _clean(raw, self.strip_pairs)
        if term + " " in text or term + "\t" in text or term + "\x00" in text:
            text = self.indent.sub(self.term_template, text)
        segs = text.split(term)
        if segs and not segs[-1].strip():
            segs.pop()
        if seen + len(segs) > self.max_segments:
            raise LimitExceededError(
                f"more than {self.max_segments} segments in one file",
                Location(segment_number=self.max_segments + 1, byte_offset=pos),
            )
        longest_len = max(map(len, segs)) if segs else 0
        if longest_len > self.max_len:
            longest = max(segs, key=len)
            tag = longest.split(self.d.element, 1)[0][:3]
            raise LimitExceededError(
                f"segment {tag!r} is {len(longest)} characters long (limit {self.max_len})",
                Location(segment_id=tag, byte_offset=_find(raw, longest, pos)),
            )
        if longest_len > self.max_element:
            # only segments longer than the element limit can hold a too-long element
            self._check_elements(segs, raw, pos)
        return segs

    def _check_elements(self, segs: list[str], raw: bytes, pos: int) -> None:
        limit, sep = self.max_element, self.d.element
        for seg in segs:
            if len(seg) <= limit:
                continue
            for number, element in enumerate(seg.split(sep)):
                if len(element) > limit:
                    tag = seg.split(sep, 1)[0][:3]
                    raise LimitExceededError(
                        f"element {tag}{number:02d} is {len(element)} characters long "
                        f"(limit {limit})",
                        Location(segment_id=tag, element=number, byte_offset=_find(raw, seg, pos)),
                    )


def _find(raw: bytes, seg: str, pos: int) -> int:
    """Offset of ``seg`` (its first 64 characters) in the chunk ``raw`` read at ``pos``."""
    hit = raw.find(seg[:64].encode("utf-8", "replace"))
    return -1 if hit < 0 else pos + hit


def locate(
    data: bytes, spans: Iterable[tuple[int, int, Delimiters]], segment_numbers: Iterable[int]
) -> dict[int, tuple[int, int]]:
    """Byte offset and line of the given 1-based segment numbers (slow path, errors only).

    ``data`` is the original input; ``spans`` come from a ``Lexer`` over it.
    """
    return _locate(prepare(data), spans, segment_numbers, bom_length(data))


def _locate(
    data: bytes,
    spans: Iterable[tuple[int, int, Delimiters]],
    segment_numbers: Iterable[int],
    base: int,
    texts: dict[int, str] | None = None,
) -> dict[int, tuple[int, int]]:
    wanted = sorted(set(segment_numbers))
    out: dict[int, tuple[int, int]] = {}
    if not wanted:
        return out
    i = 0
    number = 0
    line = 1
    last = 0
    for start, end, d in spans:
        term = d.segment.encode("latin-1")
        pos = start
        while pos < end and i < len(wanted):
            while pos < end and data[pos] in WHITESPACE and data[pos : pos + 1] != term:
                pos += 1
            if pos >= end:
                break
            number += 1
            if number == wanted[i]:
                line += data.count(b"\n", last, pos)
                last = pos
                out[number] = (pos + base, line)
                i += 1
                if texts is not None:
                    stop = data.find(term, pos, end)
                    texts[number] = segment_text(data[pos : end if stop < 0 else stop], d.segment)
            nxt = data.find(term, pos)
            pos = end if nxt < 0 else nxt + 1
        if i >= len(wanted):
            break
    return out
