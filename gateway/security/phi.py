"""PHI masking: file content quoted in messages, and X12 segments shown to people.

**Messages.** Parser errors quote bytes of the file to say where it went wrong (``not_x12``
quotes the first 20 bytes, a bad element quotes its value), and those bytes can be a patient's
name, member id or date of birth. ``mask_quoted`` keeps the shape an operator needs (segment
ids, delimiters, lengths) and replaces the content of every quoted value (Python ``repr``
quoting, single or double): letters become ``A``, digits ``9``, except a quote's leading 2-3
character segment id (``'NM1*...'``, ``'ISA'``). Values of envelope elements that are never PHI
(control numbers, counts, versions, the transaction set id) stay readable when the message
names the element right before the quote and the value looks like one (``IEA02 '000000124'
does not match ISA13 '000000123'``).

**Segments.** ``mask_elements`` is an allowlist: per segment id, which elements are not PHI.
Everything else becomes ``•••``, and a segment without a rule is masked whole (its id stays). What
it masks, per the HIPAA Safe Harbor identifiers that occur in 835/837: names of people, member,
subscriber, patient-account and claim numbers, dates (only the year stays), street, city and
ZIP, phone/fax/e-mail, bank account numbers, and diagnosis codes (HI, DRG).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: never an X12 delimiter (X12 is ASCII), so a masked element cannot be misread as several
MASK = "\u2022\u2022\u2022"

# ---------------------------------------------------------------- quoted values in messages

#: a Python repr()'d string: single or double quoted, backslash escapes inside
_QUOTED = re.compile(r"""'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)\"""")
_LEAD_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}(?=$|[^A-Za-z0-9])")
#: the element reference right before a quote: ``IEA02 '``, ``transaction set '``
_REF_BEFORE = re.compile(r"(?:\b([A-Z][A-Z0-9]{1,2}\d{2})|(transaction set)) $")
_CONTROL = re.compile(r"^[0-9]{1,9}$")
_VERSION = re.compile(r"^[0-9]{5,6}[A-Z0-9]{0,6}$")
_FLAG = re.compile(r"^[A-Z0-9]$")
#: envelope elements whose values are never PHI, and what such a value looks like
_SAFE_ELEMENTS: dict[str, re.Pattern[str]] = {
    **dict.fromkeys(
        ("ISA13", "IEA01", "IEA02", "GS06", "GE01", "GE02", "ST02", "SE01", "SE02"), _CONTROL
    ),
    **dict.fromkeys(("ISA12", "GS08", "ST03"), _VERSION),
    **dict.fromkeys(("ISA14", "ISA15"), _FLAG),
    "ST01": re.compile(r"^[0-9]{3}$"),
    "transaction set": re.compile(r"^[0-9]{3}$"),
}


def _mask(value: str) -> str:
    lead = _LEAD_ID.match(value)
    keep = lead.end() if lead else 0
    rest = re.sub(r"[0-9]", "9", re.sub(r"[^\W\d_]", "A", value[keep:]))
    return value[:keep] + rest


def _masked_quote(message: str, m: re.Match[str]) -> str:
    quote = m.group(0)[0]
    value = m.group(1) if m.group(1) is not None else m.group(2)
    ref = _REF_BEFORE.search(message, 0, m.start())
    if ref is not None and ref.end() == m.start():
        pattern = _SAFE_ELEMENTS.get(ref.group(1) or ref.group(2))
        if pattern is not None and pattern.match(value):
            return m.group(0)
    return f"{quote}{_mask(value)}{quote}"


def mask_quoted(message: str | None) -> str | None:
    """``message`` with the content of every quoted value masked (None stays None)."""
    if message is None:
        return None
    return _QUOTED.sub(lambda m: _masked_quote(message, m), message)


def mask_findings(findings: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Findings with their ``message`` masked (the rest is codes and positions)."""
    if findings is None:
        return None
    return [
        {**f, "message": mask_quoted(f["message"])} if isinstance(f.get("message"), str) else f
        for f in findings
    ]


# ---------------------------------------------------------------- X12 segments

#: element policies: S shown, M masked, D date (year kept), C composite (first component
#: kept: a qualifier), P procedure composite (qualifier, code and modifiers kept; the
#: free-text description masked)
_S, _M, _D, _C, _P = "S", "M", "D", "C", "P"
_DATE = re.compile(r"^(\d{4})(\d{4,10})$")

#: per segment id: the policy of element 1, 2, ...; elements past the end are masked
# fmt: off
_RULES: dict[str, str] = {
    # envelopes: identifiers of trading partners, dates of transmission, control numbers
    "ISA": "S" * 16, "GS": "S" * 8, "GE": "SS", "IEA": "SS", "ST": "SSS", "SE": "SS",
    # 835
    "BPR": "SSSSSSSSMSSSSSMD", "TRN": "SSSS", "CUR": "S" * 21, "DTM": "SDMSSD",
    "LX": "S", "TS3": "SSDS" + "S" * 20, "TS2": "S" * 19, "CLP": "MSSSSSMSSSMSSS",
    "CAS": "S" * 19, "MIA": "S" * 24, "MOA": "S" * 9, "AMT": "SSS", "QTY": "SSS",
    "SVC": "PSSSSPS", "LQ": "SS", "PLB": "SD" + "CS" * 6, "RDM": "SMM",
    # 837
    "BHT": "SSSDMS", "HL": "SSSS", "PRV": "SSS", "SBR": "SSMMSSSSS", "PAT": "SSSSSDSMS",
    "DMG": "SD", "CLM": "M" + "S" * 19, "DTP": "SSD", "HI": "C" * 12, "CL1": "SSSS",
    "SV1": "P" + "S" * 20, "SV2": "SP" + "S" * 8, "SV3": "P" + "S" * 11, "SVD": "SSPSSS",
    "CN1": "S" * 6, "PWK": "SSSSSMSSS", "NTE": "SM", "CRC": "S" * 7, "OI": "S" * 6,
    "LIN": "SSS", "CTP": "S" * 11, "MEA": "SSSS",
    # addresses and contacts: only the state and country of an address stay
    "N3": "MM", "N4": "MSMSSMM", "PER": "SMSMSMSMS", "N2": "MM",
}
# fmt: on
#: REF01 qualifiers whose REF02 identifies an organisation, a payer or a version, not a person
_REF_NOT_PERSON = frozenset(
    {
        "EV",
        "2U",
        "F2",
        "TJ",
        "PQ",
        "HPI",
        "NF",
        "EI",
        "1A",
        "1B",
        "1C",
        "1D",
        "1G",
        "1H",
        "1J",
        "D3",
        "G2",
        "LU",
        "0B",
    }
)
#: N101 entity codes of organisations (payer, payee, providers, submitter, receiver)
_N1_ORGANISATION = frozenset({"PR", "PE", "85", "87", "PW", "41", "40", "FA", "BT", "RT"})
#: NM101 entity codes that are always people (patient, insured, responsible party, ...)
_NM1_PERSON = frozenset({"QC", "IL", "74", "QD", "03", "PW", "45"})


def _nm1(els: list[str]) -> str:
    org = len(els) > 2 and els[2] == "2" and els[1] not in _NM1_PERSON
    name = _S if org else _M
    return f"SS{name}MMMMS{name}SSM"


def _n1(els: list[str]) -> str:
    org = len(els) > 1 and els[1] in _N1_ORGANISATION
    return "SSSS" if org else "SMSM"


def _ref(els: list[str]) -> str:
    return "SSMM" if len(els) > 1 and els[1] in _REF_NOT_PERSON else "SMMM"


_CONDITIONAL: dict[str, Callable[[list[str]], str]] = {"NM1": _nm1, "N1": _n1, "REF": _ref}


def _year_only(value: str) -> str:
    parts = value.split("-")
    out = []
    for part in parts:
        m = _DATE.match(part)
        if m is None:
            return MASK
        out.append(m.group(1) + "\u2022" * len(m.group(2)))
    return "-".join(out)


def _components(value: str, component: str, keep: int) -> str:
    if not component:
        return MASK
    parts = value.split(component)
    return component.join(p if i < keep or not p else MASK for i, p in enumerate(parts))


def _apply(policy: str, value: str, component: str) -> str:
    if not value or policy == _S:
        return value
    if policy == _D:
        return _year_only(value)
    if policy == _C:
        return _components(value, component, 1)
    if policy == _P:
        return _components(value, component, 6)
    return MASK


def mask_elements(elements: list[str], component: str = ":") -> list[str]:
    """``elements`` (segment id first) with every element that may be PHI masked."""
    sid = elements[0]
    rule = _CONDITIONAL[sid](elements) if sid in _CONDITIONAL else _RULES.get(sid, "")
    return [sid] + [
        _apply(rule[i - 1] if i <= len(rule) else _M, value, component)
        for i, value in enumerate(elements[1:], start=1)
    ]


__all__ = ["MASK", "mask_elements", "mask_findings", "mask_quoted"]
