"""PHI tokens of the test fixtures: patient and subscriber names, member ids, dates of birth.

Read from the fixtures themselves (NM1*QC/IL and DMG segments, the ISA's own delimiters) so a
new fixture is covered without editing a list. Tokens shorter than 4 characters, or one
character repeated or only ``X`` (the fixtures' ``XXXXXXX`` and ``99999999999`` masks), and
numbers shorter than 8 digits are left out: they would match unrelated text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: a distinctive X12 string every fixture interchange starts with (the ISA header elements)
X12_MARKER = b"ISA*00*"


def fixture_files() -> list[Path]:
    """Every X12 and ledger fixture (tests/fixtures/x12/*, tests/fixtures/reconcile/**)."""
    x12 = [p for p in sorted((FIXTURES / "x12").iterdir()) if p.suffix != ".md" and p.is_file()]
    rec = [
        p
        for p in sorted((FIXTURES / "reconcile").rglob("*"))
        if p.is_file() and p.suffix in {".835", ".837", ".csv"}
    ]
    return x12 + rec


def _segments(data: bytes) -> list[list[bytes]]:
    start = data.find(b"ISA")
    if start < 0 or len(data) < start + 106:
        return []
    elem, term = data[start + 3 : start + 4], data[start + 105 : start + 106]
    return [s.strip().split(elem) for s in data[start:].split(term)]


def _keep(token: bytes) -> bool:
    t = token.strip()
    if len(t) < 4 or set(t) <= set(b"X -") or len(set(t)) == 1:
        return False
    return not (t.isdigit() and len(t) < 8)  # short numbers match byte counts and ids


@cache
def phi_tokens() -> frozenset[str]:
    """Names, member ids and dates of birth appearing in the fixtures."""
    out: set[bytes] = set()
    for path in fixture_files():
        for seg in _segments(path.read_bytes()):
            if seg[0] == b"NM1" and len(seg) > 3 and seg[1] in (b"QC", b"IL"):
                out.update(t for t in seg[3:5] if _keep(t))
                if len(seg) > 9 and _keep(seg[9]):
                    out.add(seg[9].strip())
            elif seg[0] == b"DMG" and len(seg) > 2 and _keep(seg[2]):
                out.add(seg[2].strip())
    return frozenset(t.decode("ascii", "replace") for t in out)


def leaks(text: str | bytes, tokens: frozenset[str] | None = None) -> list[str]:
    """The PHI tokens found in ``text`` (empty list: none)."""
    hay = text.decode("latin-1") if isinstance(text, bytes) else text
    return sorted(t for t in (tokens or phi_tokens()) if t in hay)
