"""Service codes as reconciliation compares them (pure): one spelling for the 835, the 837
and the ledger."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-]")


def procedure_code(text: str) -> str:
    """The bare procedure code of a composite or a ledger cell.

    ``HC:99213:25`` (SVC01/SV101 with qualifier and modifiers) → ``99213``; a ledger's
    ``99213-25`` or ``99213 25`` → ``99213``; ``j1100`` → ``J1100``.
    """
    value = text.strip().upper()
    if ":" in value:
        parts = value.split(":")
        value = (
            parts[1] if len(parts) > 1 and parts[0].isalpha() and len(parts[0]) == 2 else parts[0]
        )
    return _SEPARATORS.split(value.strip(), maxsplit=1)[0]


def revenue_code(text: str) -> str:
    """A revenue code as four digits (``450`` → ``0450``); other text as it is, trimmed."""
    value = text.strip()
    if ":" in value:  # NU:0450 (an SVC01 that is a revenue code)
        value = value.split(":", 1)[1]
    return value.zfill(4) if value.isdigit() and len(value) < 4 else value
