"""The interchange header: an input's encoding and the delimiters its ISA declares.

Everything that reads X12 starts here: a UTF-8 BOM is stripped (and its length kept, so that
reported offsets are offsets in the original bytes), UTF-16 is transcoded, and each ISA gives
the element separator (byte 3), ISA11 repetition separator, ISA16 component separator and the
segment terminator. Both lexers (bytes and stream), the acknowledgment scan and the upload's
provider scan read ISAs through ``read_isa``.
"""

from __future__ import annotations

import codecs

from parsers.errors import (
    DelimiterError,
    EmptyInputError,
    EncodingError,
    InterchangeHeaderError,
    Location,
    NotX12Error,
    StructureError,
)
from schemas.envelope import Delimiters

#: what X12 senders put between segments and around a file (NUL and SUB padding included)
WHITESPACE = b" \t\r\n\x00\x1a\x0b\x0c"
#: bytes of a fixed-width ISA with its terminator
ISA_LEN = 106


def bom_length(data: bytes) -> int:
    """Bytes of a UTF-8 byte order mark that ``prepare`` strips (0 or 3).

    Offsets reported to users are offsets in the original input, so everything located in the
    prepared data is shifted back by this much. (UTF-16 input is transcoded as a whole; offsets
    in it refer to its UTF-8 transcoding.)
    """
    return 3 if data.startswith(codecs.BOM_UTF8) else 0


def prepare(data: bytes) -> bytes:
    """Strip a BOM, transcode UTF-16 (with BOM) and reject empty input."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(
                "file has a UTF-16 byte order mark but is not valid UTF-16",
                Location(byte_offset=exc.start),
            ) from None
    elif len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        data = _utf16(data, "utf-16-le")
    elif len(data) >= 4 and data[0] == 0 and data[2] == 0 and data[1] != 0:
        data = _utf16(data, "utf-16-be")
    if not data.strip(WHITESPACE):
        raise EmptyInputError("file is empty" if not data else "file holds only whitespace")
    return data


def _utf16(data: bytes, codec: str) -> bytes:
    """UTF-16 without a byte order mark, recognised by its NUL pattern."""
    try:
        return data.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"file looks like {codec.upper()} text but does not decode as such",
            Location(byte_offset=exc.start),
        ) from None


def skip_ws(data: bytes, pos: int) -> int:
    """The first offset at or after ``pos`` that is not whitespace."""
    n = len(data)
    while pos < n and data[pos] in WHITESPACE:
        pos += 1
    return pos


def read_isa(
    data: bytes, pos: int, first: bool = False, line: int | None = None
) -> tuple[Delimiters, list[str], int, bool]:
    """Read the ISA at ``pos``: delimiters, its 17 elements, the offset after it, fixed-width?

    ``first`` says no interchange came before (leading whitespace may precede it). ``line`` is
    the 1-based line of ``pos`` when the caller tracks it (counting from 0 for every ISA would
    make a file of many interchanges quadratic).
    """
    if line is None:
        line = data.count(b"\n", 0, pos) + 1
    head = data[pos : pos + 3]
    if head != b"ISA":
        snippet = data[pos : pos + 20].decode("latin-1").replace("\r", "\\r").replace("\n", "\\n")
        if first or pos == 0 or not snippet:
            raise NotX12Error(
                f"expected the interchange header 'ISA' but found {snippet[:20]!r}",
                Location(segment_number=1, byte_offset=pos, line=line),
            )
        raise StructureError(
            f"expected an ISA after IEA but found {snippet!r}",
            Location(byte_offset=pos, line=line),
        )
    loc = Location(segment_id="ISA", byte_offset=pos, line=line)
    if len(data) < pos + 4:
        raise InterchangeHeaderError("file ends inside the ISA header", loc)
    sep = data[pos + 3 : pos + 4]
    if sep.isalnum() or sep in b" \r\n":
        raise DelimiterError(f"ISA element separator {sep!r} is not a valid delimiter", loc)
    # Find the 16th element separator; ISA16 is the single byte after it, then the terminator.
    cur = pos + 3
    for _ in range(15):
        cur = data.find(sep, cur + 1, pos + 400)
        if cur < 0:
            raise InterchangeHeaderError(
                "ISA header has fewer than 16 elements (or is truncated)", loc
            )
    if cur + 2 >= len(data):
        raise InterchangeHeaderError("file ends inside the ISA header", loc)
    component = data[cur + 1 : cur + 2]
    terminator = data[cur + 2 : cur + 3]
    end = cur + 3
    fixed = end - pos == ISA_LEN
    try:
        text = data[pos : cur + 2].decode("ascii")
    except UnicodeDecodeError:
        raise InterchangeHeaderError("ISA header contains non-ASCII bytes", loc) from None
    elements = text.split(sep.decode("ascii"))
    if len(elements) != 17:
        raise InterchangeHeaderError(
            f"ISA header has {len(elements) - 1} elements, expected 16", loc
        )
    comp_s = component.decode("latin-1")
    term_s = terminator.decode("latin-1")
    sep_s = sep.decode("ascii")
    if comp_s.isalnum() or comp_s == " ":
        raise DelimiterError(f"ISA16 component separator {comp_s!r} is not a valid delimiter", loc)
    if term_s.isalnum() or term_s == " ":
        raise DelimiterError(f"segment terminator {term_s!r} is not a valid delimiter", loc)
    if len({sep_s, comp_s, term_s}) != 3:
        raise DelimiterError(
            "element separator, component separator and segment terminator must differ "
            f"(got {sep_s!r}, {comp_s!r}, {term_s!r})",
            loc,
        )
    rep = elements[11]
    rep_s = ""
    if len(rep) == 1 and not rep.isalnum() and rep not in (sep_s, comp_s, term_s, " "):
        rep_s = rep
    return Delimiters(sep_s, comp_s, rep_s, term_s), elements, end, fixed


__all__ = ["ISA_LEN", "WHITESPACE", "bom_length", "prepare", "read_isa", "skip_ws"]
