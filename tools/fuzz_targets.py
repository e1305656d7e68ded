"""The fuzz targets: what "the X12 parser" and "the ledger parser" mean for fuzzing.

A target returns normally or raises one of ``EXPECTED``; anything else is a crasher.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable

import parsers
from mappings.ledger_layouts import load_layouts
from parsers.ledger import LedgerError, parse_ledger, sniff_layout

#: the typed errors a parser may raise on bad input; anything else is a bug
EXPECTED: tuple[type[Exception], ...] = (parsers.X12Error, LedgerError)

#: tight limits so the limit paths (segment length, envelope count) are exercised too
SMALL_LIMITS = parsers.Limits(
    max_segment_length=256, max_interchanges=3, max_segments=400, chunk_size=64
)
LAYOUTS = load_layouts()


def x12_target(data: bytes) -> None:
    """Whole-file parse, with default or tight limits (chosen by the input, so reproducible)."""
    small = zlib.crc32(data) % 4 == 0
    result = parsers.parse(data, SMALL_LIMITS if small else parsers.Limits())
    for f in result.findings:  # findings must be describable without raising
        f.location.describe()


def ledger_target(data: bytes) -> None:
    """Sniff the layout, then parse with it (or canonical) and with one other layout."""
    layout = sniff_layout(data, LAYOUTS)
    parse_ledger(data) if layout is None else parse_ledger(data, layout)
    other = LAYOUTS[zlib.crc32(data) % len(LAYOUTS)] if LAYOUTS else None
    if other is not None:
        with contextlib.suppress(LedgerError):
            parse_ledger(data, other)


TARGETS: dict[str, Callable[[bytes], None]] = {"x12": x12_target, "ledger": ledger_target}
