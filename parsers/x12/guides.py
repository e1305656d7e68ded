"""Which transaction set a file holds: the implementation guides we read, by GS08/ST03.

The 5010 guides (and the errata clearinghouses still send) name the kind of an 835 or 837
(P, I, D); older 837 guide ids are recognised by their X-number. A group whose GS08 is not
one of ``GUIDES`` is reported (a 999 AK9 finding, code 2).
"""

from __future__ import annotations

#: implementation guide (GS08/ST03) → transaction kind
GUIDES = {
    "005010X221A1": "835",
    "005010X222A1": "837P",
    "005010X223A2": "837I",
    "005010X224A2": "837D",
    # later errata of the same guides, sent by many clearinghouses
    "005010X222A2": "837P",
    "005010X223A3": "837I",
    "005010X224A3": "837D",
}
_LEGACY_837 = {
    "X098": "837P",
    "X096": "837I",
    "X097": "837D",
    "X222": "837P",
    "X223": "837I",
    "X224": "837D",
}


def transaction_kind(st01: str, guide: str) -> str:
    """835, 837P, 837I, 837D, or '' when the set is not one we handle."""
    if st01 == "835":
        return "835"
    if st01 == "837":
        if guide in GUIDES:
            return GUIDES[guide]
        for key, kind in _LEGACY_837.items():
            if key in guide:
                return kind
        return "837P"
    return ""


__all__ = ["GUIDES", "transaction_kind"]
