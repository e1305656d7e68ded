"""Spreadsheet formula injection (CSV injection): text cells that a spreadsheet would run.

A value that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
spreadsheets skip before such a character) is read by Excel, LibreOffice and Google Sheets as
a formula: ``=cmd|' /C calc'!A0`` in a claim id from an 835 would run on the payer's desk when
it opens our refund file. Following the OWASP guidance, such a text cell is written with a
leading single quote, which every spreadsheet shows as text; the value stays recognisable.
Numbers (amounts, counts) are never passed through here: a negative amount stays a number.
The full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20) are treated the same, since spreadsheet
imports may fold them to their ASCII forms.
"""

from __future__ import annotations

FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def neutralise(text: str) -> str:
    """``text``, prefixed with ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text and text[0] in FORMULA_START else text


__all__ = ["FORMULA_START", "neutralise"]
