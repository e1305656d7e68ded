"""Content sniffing for uploads: X12 835/837 or a ledger CSV, else a reason to refuse.

Only the head of the file is looked at (the ISA, the first ST, or the CSV header), so sniffing
costs the same for 2 KB and 2 GB. The verdict is advisory for X12 (the worker validates the
whole file and quarantines with a located reason); its job is to turn away what is plainly
not ours (a PDF, a 270, an image) with a 415 before anything is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mappings.ledger_layouts import load_layouts
from parsers.ledger import LedgerLayout, sniff_layout

#: how much of the upload is sniffed
HEAD_BYTES = 64 * 1024
_BOMS = (b"\xef\xbb\xbf",)
_X12_KINDS = {"835": "835", "837": "837"}


@dataclass(frozen=True, slots=True)
class Sniffed:
    ok: bool
    kind: str  # "835", "837", "ledger" or "" when refused
    reason: str = ""


@lru_cache(maxsize=1)
def _layouts() -> tuple[LedgerLayout, ...]:
    return tuple(load_layouts())


def sniff(head: bytes) -> Sniffed:
    """Classify an upload by its first bytes."""
    data = head
    for bom in _BOMS:
        if data.startswith(bom):
            data = data[len(bom) :]
    data = data.lstrip(b" \t\r\n")
    if not data:
        return Sniffed(False, "", "the upload is empty")
    if data[:3] == b"ISA":
        return _x12(data)
    if data[:5] == b"%PDF-" or b"\x00" in data[:4096]:
        return Sniffed(False, "", "binary content: expected X12 835/837 text or a ledger CSV")
    layout = sniff_layout(data, list(_layouts()))
    if layout is not None:
        return Sniffed(True, "ledger")
    return Sniffed(
        False,
        "",
        "not X12 (no ISA segment at the start) and not a ledger CSV "
        "(the header lacks the required columns of every known layout)",
    )


def _x12(data: bytes) -> Sniffed:
    if len(data) < 106:
        return Sniffed(False, "", "X12 interchange header (ISA) is shorter than 106 characters")
    sep = re.escape(data[3:4])
    m = re.search(rb"(?:^|[^A-Za-z0-9])ST" + sep + rb"(\d{3})", data)
    if m is None:
        # a group or transaction may start beyond the head of a huge file: let the worker judge
        return Sniffed(True, "x12")
    code = m.group(1).decode()
    kind = _X12_KINDS.get(code)
    if kind is None:
        return Sniffed(
            False,
            "",
            f"X12 transaction set {code} is not accepted here "
            "(only 835 remittances and 837 claims)",
        )
    return Sniffed(True, kind)


__all__ = ["HEAD_BYTES", "Sniffed", "sniff"]
