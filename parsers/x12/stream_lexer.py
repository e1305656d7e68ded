"""Binary stream to X12 segments, in a bounded window.

``StreamLexer`` yields exactly what ``Lexer`` yields for the same bytes (segments, delimiters,
typed errors at the same offsets) but reads its input from a ``BinaryIO`` in pieces of
``read_size`` bytes and holds at most about one ``Limits.chunk_size`` window of it, so memory
does not grow with the file. Where ``Lexer`` finds an interchange's IEA in the whole buffer
first, this one looks for it in each window before splitting it: a window never reaches past
the IEA, so the next interchange's delimiters are read from its own ISA, as before.

Offsets are absolute (counted from the start of the stream, the BOM included) and lines are
counted as windows pass. ``locate`` recovers a segment's offset from a small index of the
windows: from the two most recent windows, which are kept, or by seeking back when the stream
is seekable. The stream is only read; opening and closing it is the caller's business.
"""

from __future__ import annotations

import codecs
import io
from bisect import bisect_right
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from itertools import chain
from typing import BinaryIO

from parsers.errors import EmptyInputError, LimitExceededError, Location, X12Error
from parsers.x12.isa import WHITESPACE, prepare, read_isa
from parsers.x12.lexer import DEFAULT_LIMITS, Limits, Splitter, segment_text
from schemas.envelope import Delimiters

#: bytes asked of the stream at a time
READ_SIZE = 1024 * 1024
#: bytes an ISA header may take (read_isa looks 400 bytes ahead)
_ISA_WINDOW = 512
#: windows kept for ``locate`` on streams that cannot seek back
_RECENT = 2


class StreamLexer:
    """Iterate the segments of every interchange read from ``stream``.

    The same attributes as ``Lexer`` (``delimiters``, ``isa_elements``, ``isa_fixed_width``,
    ``interchange_count``, ``segments_seen``, ``spans``) mean the same things.
    """

    def __init__(
        self, stream: BinaryIO, limits: Limits = DEFAULT_LIMITS, read_size: int = READ_SIZE
    ) -> None:
        self.limits = limits
        self.delimiters = Delimiters()
        self.isa_elements: list[str] = []
        self.isa_fixed_width = True
        self.interchange_count = 0
        self.segments_seen = 0
        self.spans: list[tuple[int, int, Delimiters]] = []
        self.ended_with_iea = True
        self.offset_base = 0
        self._stream = stream
        self._read_size = max(read_size, 1)
        self._origin: int | None = None
        try:
            if stream.seekable():
                self._origin = stream.tell()
        except (OSError, ValueError):
            self._origin = None
        self._buf = b""
        #: offset (in the input after its BOM) of ``_buf[0]``
        self._base = 0
        self._eof = False
        self._total = 0
        self._lines_to = 0
        self._lines = 1
        self._number = 0
        #: per window: first segment number, start, end, line of start, segment terminator
        self._firsts: list[int] = []
        self._index: list[tuple[int, int, int, bytes]] = []
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=_RECENT)

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(self._chunks())

    def _chunks(self) -> Iterator[list[str]]:
        try:
            self._start()
            yield from self._interchanges()
        except X12Error as exc:
            if self.offset_base and exc.location.byte_offset is not None:
                exc.location.byte_offset += self.offset_base
            raise

    # -- reading ---------------------------------------------------------------------------

    def _read(self, n: int) -> bytes:
        piece = self._stream.read(n)
        if not piece:
            self._eof = True
            return b""
        self._total += len(piece)
        return piece

    def _start(self) -> None:
        """Strip a BOM; UTF-16 input (rare) is transcoded whole, like ``prepare`` does."""
        head = b""
        while len(head) < 4 and not self._eof:
            head += self._read(4 - len(head))
        if head.startswith(codecs.BOM_UTF8):
            self.offset_base = 3
            self._total -= 3
            self._buf = head[3:]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
            len(head) == 4
            and (
                (head[1] == 0 and head[3] == 0 and head[0] != 0)
                or (head[0] == 0 and head[2] == 0 and head[1] != 0)
            )
        ):
            rest = [head]
            while not self._eof:
                rest.append(self._read(self._read_size))
            self._buf = prepare(b"".join(rest))
            self._eof = True
        else:
            self._buf = head

    def _fill(self, pos: int, need: int) -> None:
        """Hold ``[pos - 1, pos + need)`` (or up to the end of input) in the buffer."""
        keep = max(pos - 1, 0)
        self._count_lines(keep)
        rel = keep - self._base
        parts = [self._buf[rel:]] if rel > 0 else [self._buf]
        have = len(parts[0])
        want = pos + need - keep
        while have < want and not self._eof:
            piece = self._read(max(self._read_size, want - have) if have == 0 else self._read_size)
            parts.append(piece)
            have += len(piece)
        self._buf = parts[0] if len(parts) == 1 else b"".join(parts)
        self._base = max(keep, self._base)

    def _count_lines(self, upto: int) -> None:
        if upto > self._lines_to:
            a = self._lines_to - self._base
            self._lines += self._buf.count(b"\n", a, upto - self._base)
            self._lines_to = upto

    def _line(self, pos: int) -> int:
        self._count_lines(pos)
        return self._lines

    def _skip_ws(self, pos: int) -> int:
        while True:
            self._fill(pos, self._read_size)
            buf, rel = self._buf, pos - self._base
            n = len(buf)
            while rel < n and buf[rel] in WHITESPACE:
                rel += 1
            pos = self._base + rel
            if rel < n or self._eof:
                return pos

    def _at_end(self, pos: int) -> bool:
        return self._eof and pos - self._base >= len(self._buf)

    # -- lexing ----------------------------------------------------------------------------

    def _interchanges(self) -> Iterator[list[str]]:
        pos = self._skip_ws(0)
        if self._at_end(pos):
            raise EmptyInputError(
                "file is empty" if not self._total else "file holds only whitespace"
            )
        while not self._at_end(pos):
            self._fill(pos, _ISA_WINDOW)
            line = self._line(pos)
            base = self._base
            try:
                delims, elements, after, fixed = read_isa(
                    self._buf, pos - base, first=self.interchange_count == 0, line=line
                )
            except X12Error as exc:
                if exc.location.byte_offset is not None:
                    exc.location.byte_offset += base
                raise
            after += base
            self.interchange_count += 1
            if self.interchange_count > self.limits.max_interchanges:
                raise LimitExceededError(
                    f"more than {self.limits.max_interchanges} interchanges in one file",
                    Location(byte_offset=pos),
                )
            self.delimiters = delims
            self.isa_elements = elements
            self.isa_fixed_width = fixed
            self._note(pos, self._buf[pos - base : after - base], 1, line, delims)
            yield [delims.element.join(elements)]
            end, closed = yield from self._segments(after, delims)
            self.spans.append((pos, end, delims))
            self.ended_with_iea = closed
            pos = self._skip_ws(end)

    def _note(self, pos: int, raw: bytes, count: int, line: int, d: Delimiters) -> None:
        self._firsts.append(self._number + 1)
        self._index.append((pos, pos + len(raw), line, d.segment.encode("latin-1")))
        self._recent.append((pos, raw))
        self._number += count

    def _segments(self, start: int, d: Delimiters) -> Generator[list[str], None, tuple[int, bool]]:
        """Windows of one interchange; returns (offset after it, closed by IEA?)."""
        size = self.limits.chunk_size
        term = d.segment.encode("latin-1")
        needle = ("IEA" + d.element).encode("latin-1")
        split = Splitter(d, self.limits)
        pos = start
        while not self._at_end(pos):
            self._fill(pos, size)
            buf, base = self._buf, self._base
            rel = pos - base
            limit = min(rel + size, len(buf))
            stop, closed = self._iea_end(buf, rel, limit, needle, term)
            if stop < 0:
                if self._eof and limit == len(buf):
                    stop = limit
                else:
                    cut = buf.rfind(term, rel, limit)
                    if cut < 0:
                        raise LimitExceededError(
                            f"a segment is longer than {size} bytes (no terminator found)",
                            Location(byte_offset=pos),
                        )
                    stop = cut + 1
            raw = buf[rel:stop]
            segs = split(raw, pos, self.segments_seen)
            self.segments_seen += len(segs)
            self._note(pos, raw, len(segs), self._line(pos), d)
            yield segs
            pos = base + stop
            if closed:
                return pos, True
        return pos, False

    def _iea_end(
        self, buf: bytes, rel: int, limit: int, needle: bytes, term: bytes
    ) -> tuple[int, bool]:
        """End of the IEA segment in this window: (-1, False) when it is not wholly in it.

        An IEA counts only right after a terminator (whitespace between allowed), as in
        ``Lexer``; a window always starts right after one.
        """
        cur = rel
        while True:
            hit = buf.find(needle, cur, limit)
            if hit < 0:
                return -1, False
            back = hit - 1
            while back >= rel and buf[back] in WHITESPACE and buf[back : back + 1] != term:
                back -= 1
            if back < rel or buf[back : back + 1] == term:
                stop = buf.find(term, hit, limit)
                if stop >= 0:
                    return stop + 1, True
                if self._eof and limit == len(buf):
                    return limit, False
                return -1, False
            cur = hit + 1

    # -- locating --------------------------------------------------------------------------

    def locate(
        self,
        segment_numbers: Iterable[int],
        *,
        recent_only: bool = False,
        texts: dict[int, str] | None = None,
    ) -> dict[int, tuple[int, int]]:
        """Offset in the original input and line of the given 1-based segment numbers.

        Segments of the recent windows are found in memory; older ones by seeking back in the
        stream, when it can seek (otherwise, or with ``recent_only``, they are left out).
        ``texts``, when given, also receives each located segment's text.
        """
        out: dict[int, tuple[int, int]] = {}
        by_window: dict[int, list[int]] = {}
        for n in set(segment_numbers):
            w = bisect_right(self._firsts, n) - 1
            if w >= 0:
                by_window.setdefault(w, []).append(n)
        recent = dict(self._recent)
        for w, numbers in sorted(by_window.items()):
            start, end, line, term = self._index[w]
            raw = recent.get(start)
            if raw is None and not recent_only:
                raw = self._reread(start, end)
            if raw is not None:
                self._walk(raw, start, line, term, self._firsts[w], numbers, out, texts)
        return out

    def _reread(self, start: int, end: int) -> bytes | None:
        if self._origin is None:
            return None
        try:
            here = self._stream.tell()
            self._stream.seek(self._origin + self.offset_base + start)
            raw = self._stream.read(end - start)
            self._stream.seek(here)
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        return raw if len(raw) == end - start else None

    def _walk(
        self,
        raw: bytes,
        start: int,
        line: int,
        term: bytes,
        first: int,
        numbers: list[int],
        out: dict[int, tuple[int, int]],
        texts: dict[int, str] | None = None,
    ) -> None:
        wanted = set(numbers)
        last = max(numbers)
        n, pos, number = len(raw), 0, first - 1
        while pos < n and number < last:
            while pos < n and raw[pos] in WHITESPACE and raw[pos : pos + 1] != term:
                pos += 1
            if pos >= n:
                break
            number += 1
            nxt = raw.find(term, pos)
            if number in wanted:
                out[number] = (start + pos + self.offset_base, line + raw.count(b"\n", 0, pos))
                if texts is not None:
                    texts[number] = segment_text(
                        raw[pos : n if nxt < 0 else nxt], term.decode("latin-1")
                    )
            pos = n if nxt < 0 else nxt + 1
