"""Masking of file content quoted in error messages before they are stored or served.

Parser errors quote bytes of the file to say where it went wrong (``not_x12`` quotes the first
20 bytes, a bad element quotes its value), and those bytes can be a patient's name, member id
or date of birth. ``mask_quoted`` keeps the shape an operator needs (segment ids, delimiters,
lengths) and replaces the content of every quoted value: letters become ``A``, digits ``9``,
except a quote's leading 2-3 character segment id (``'NM1*...'``, ``'ISA'``).
"""

from __future__ import annotations

import re
from typing import Any

_QUOTED = re.compile(r"'([^'\n]{0,200})'")
_LEAD_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}(?=$|[^A-Za-z0-9])")


def _mask(value: str) -> str:
    lead = _LEAD_ID.match(value)
    keep = lead.end() if lead else 0
    rest = re.sub(r"[0-9]", "9", re.sub(r"[^\W\d_]", "A", value[keep:]))
    return value[:keep] + rest


def mask_quoted(message: str | None) -> str | None:
    """``message`` with the content of every ``'quoted'`` value masked (None stays None)."""
    if message is None:
        return None
    return _QUOTED.sub(lambda m: f"'{_mask(m.group(1))}'", message)


def mask_findings(findings: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Findings with their ``message`` masked (the rest is codes and positions)."""
    if findings is None:
        return None
    return [{**f, "message": mask_quoted(f["message"])} if isinstance(f.get("message"), str)
            else f for f in findings]


__all__ = ["mask_findings", "mask_quoted"]
