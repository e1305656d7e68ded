"""999 implementation acknowledgment (005010X231A1), one per received functional group.

Findings are placed by their ``ack_level``:

- ``IK3`` → an IK3 with the finding's code as IK304;
- ``IK4`` → an IK4 (IK403 = code) under an IK3 for its segment (IK304 = 8, "segment has data
  element errors"); IK402 is the data element reference number where we know it, and IK404 a
  copy of the bad value only for amounts, quantities and non-birth dates (never identifiers,
  names or other data that may be PHI);
- ``IK5`` → an IK502..IK506 code of the transaction; IK3/IK4 errors add code 5;
- ``AK9`` → an AK905..AK909 code of the group.

Any *error* finding in a transaction set rejects it (IK501 R). Warnings (835 balancing, ST03 ≠
GS08, ...) never change A/R and are not written into the 999: it is a syntax acknowledgment,
and a sender's translator treats IK5 E as "fix your syntax". Balancing (SNIP 3) is a business
question for the remittance's reconciliation, reported in ``gateway validate`` and the finding
log. AK901 is A (all accepted), P (some), R (none, or the group itself unsupported: version or
functional group codes 1/2, in which case no AK2 loops are sent), or E when every set was
accepted but the group trailer has errors (GE01 count, GE02 control number).

No CTX segments are written: IK302 already locates the segment, and CTX business-unit context
would echo patient control numbers (CLM01/CLP01) back over the wire.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field

from parsers.ack.envelope import Writer, close_interchange, open_interchange
from parsers.errors import ERROR, Finding
from parsers.x12.envelopes import InboundGroup, InboundInterchange, InboundTransaction
from schemas.envelope import Delimiters

GUIDE = "005010X231A1"
#: GS01 codes a 005010X231A1 999 may acknowledge (AK101); other groups get no 999
HIPAA_FUNCTIONAL_IDS = frozenset({"BE", "HB", "HC", "HI", "HN", "HP", "HR", "HS", "RA"})
#: AK905 codes that mean the group as a whole could not be processed
_GROUP_REJECT = frozenset({"1", "2"})
_MAX_CODES = 5
#: IK5 code when an error carries no usable IK3/IK4/IK5 code ("implementation one or more
#: segments in error")
_FALLBACK_IK5 = "I5"

_AMOUNT, _QUANTITY, _DATE, _NUMBER = "782", "380", "373", "554"
_DATE_TIME_PERIOD = "1251"
#: data element reference numbers (IK402) of the elements our parsers check
_ELEMENT_REFS: dict[tuple[str, int], str] = {
    ("BPR", 2): _AMOUNT,
    ("BPR", 16): _DATE,
    ("CLP", 3): _AMOUNT,
    ("CLP", 4): _AMOUNT,
    ("CLP", 5): _AMOUNT,
    ("SVC", 2): _AMOUNT,
    ("SVC", 3): _AMOUNT,
    ("SVC", 5): _QUANTITY,
    ("SVC", 7): _QUANTITY,
    ("DTM", 2): _DATE,
    ("PLB", 2): _DATE,
    ("QTY", 2): _QUANTITY,
    ("AMT", 2): _AMOUNT,
    ("CLM", 2): _AMOUNT,
    ("SV1", 2): _AMOUNT,
    ("SV1", 4): _QUANTITY,
    ("SV2", 3): _AMOUNT,
    ("SV2", 5): _QUANTITY,
    ("SV3", 2): _AMOUNT,
    ("DTP", 3): _DATE_TIME_PERIOD,
    ("BHT", 4): _DATE,
    ("LX", 1): _NUMBER,
    ("CAS", 1): "1033",
    ("DMG", 2): _DATE_TIME_PERIOD,
    ("CLP", 1): "1028",
    ("CLP", 2): "1029",
    ("CLM", 1): "1028",
}
for _i in range(6):
    _ELEMENT_REFS[("CAS", 2 + 3 * _i)] = "1034"
    _ELEMENT_REFS[("CAS", 3 + 3 * _i)] = _AMOUNT
    _ELEMENT_REFS[("CAS", 4 + 3 * _i)] = _QUANTITY
for _i in range(6):
    _ELEMENT_REFS[("PLB", 4 + 2 * _i)] = _AMOUNT
#: values of these element types are copied into IK404 (not identifiers, names, birth dates)
_COPYABLE = frozenset({_AMOUNT, _QUANTITY, _DATE, _NUMBER, _DATE_TIME_PERIOD})
_NEVER_COPY = frozenset({"DMG"})


@dataclass(slots=True)
class _SegmentErrors:
    segment_id: str
    position: int
    code: str = ""
    elements: list[tuple[int, str, str, str]] = field(default_factory=list)


@dataclass(slots=True)
class TransactionOutcome:
    """IK5 of one transaction set and the IK3/IK4 detail behind it."""

    tx: InboundTransaction
    status: str
    codes: list[str]
    segments: list[_SegmentErrors]


def _add_code(codes: list[str], code: str) -> None:
    if code and code not in codes and len(codes) < _MAX_CODES:
        codes.append(code)


def _element_value(segment: str | None, element: int, d: Delimiters) -> str:
    if segment is None:
        return ""
    els = segment.split(d.element)
    return els[element] if 0 < element < len(els) else ""


def answerable(group: InboundGroup) -> bool:
    """Can a valid 999 name this group (AK101 HIPAA code, AK102 1-9 digits, AK103 1-12)?

    A group that fails this is reported in the TA1 (024, invalid interchange content) instead.
    """
    gcn, version = group.control_number, group.version
    return (
        group.functional_id in HIPAA_FUNCTIONAL_IDS
        and gcn.isdigit()
        and len(gcn) <= 9
        and 0 < len(version) <= 12
    )


def judge_transaction(
    tx: InboundTransaction, findings: list[Finding], segments: dict[int, str], d: Delimiters
) -> TransactionOutcome:
    """IK5 status/codes and IK3/IK4 detail from the error findings inside one set."""
    codes: list[str] = []
    by_position: dict[int, _SegmentErrors] = {}
    segment_errors = False
    for f in findings:
        if f.severity != ERROR:
            continue
        loc = f.location
        position = loc.transaction_segment_number or (loc.segment_number - tx.start + 1)
        if f.ack_level in ("IK3", "IK4") and f.ack_code and loc.segment_id and position > 0:
            seg = by_position.setdefault(position, _SegmentErrors(loc.segment_id, position))
            segment_errors = True
            if f.ack_level == "IK3":
                seg.code = seg.code or f.ack_code
            else:
                seg.code = seg.code or "8"
                element = loc.element or 0
                ref = _ELEMENT_REFS.get((loc.segment_id, element), "")
                copy = ""
                if ref in _COPYABLE and loc.segment_id not in _NEVER_COPY:
                    copy = _element_value(segments.get(loc.segment_number), element, d)[:99]
                if element > 0:
                    seg.elements.append((element, ref, f.ack_code, copy))
        elif f.ack_level == "IK5" and f.ack_code:
            _add_code(codes, f.ack_code)
        else:
            _add_code(codes, _FALLBACK_IK5)
    if segment_errors:
        _add_code(codes, "5")
    status = "R" if codes else "A"
    ordered = [by_position[p] for p in sorted(by_position)]
    return TransactionOutcome(tx, status, codes, ordered)


def group_status(outcomes: list[TransactionOutcome], group_codes: list[str]) -> tuple[str, int]:
    """(AK901, AK904) for a group."""
    if _GROUP_REJECT.intersection(group_codes):
        return "R", 0
    accepted = sum(1 for o in outcomes if o.status in ("A", "E"))
    if outcomes and accepted == 0:
        return "R", 0
    if accepted < len(outcomes):
        return "P", accepted
    return ("E" if group_codes else "A"), accepted


def render_999(
    ic: InboundInterchange,
    group: InboundGroup,
    findings: list[Finding],
    segments: dict[int, str],
    delimiters: Delimiters,
    *,
    control_number: int,
    now: dt.datetime,
) -> tuple[bytes, str]:
    """The 999 for ``group`` (its findings only) and its AK901 code.

    ``segments`` maps file segment numbers to raw text for IK404 copies; ``delimiters`` are the
    outbound ones (those of the inbound interchange where usable).
    """
    group_codes: list[str] = []
    per_tx: dict[int, list[Finding]] = {}
    starts = [t.start for t in group.transactions]
    for f in findings:
        n = f.location.segment_number
        tx_index = _containing(group.transactions, starts, n)
        if f.ack_level == "AK9" or tx_index is None:
            if f.severity == ERROR and f.ack_level == "AK9":
                _add_code(group_codes, f.ack_code)
            continue
        per_tx.setdefault(tx_index, []).append(f)
    outcomes = [
        judge_transaction(tx, per_tx.get(i, []), segments, ic.delimiters)
        for i, tx in enumerate(group.transactions)
    ]
    status, accepted = group_status(outcomes, group_codes)
    received = len(group.transactions)
    declared = group.ge01 if group.ge01.isdigit() else str(received)

    w = Writer(delimiters)
    open_interchange(w, ic.isa, control_number, now)
    w.add(
        "GS",
        "FA",
        group.elements[3].strip(),
        group.elements[2].strip(),
        now.strftime("%Y%m%d"),
        now.strftime("%H%M"),
        str(control_number),
        "X",
        GUIDE,
    )
    first = len(w.segments)
    w.add("ST", "999", "0001", GUIDE)
    w.add("AK1", group.functional_id, group.control_number, group.version)
    if not _GROUP_REJECT.intersection(group_codes):
        for o in outcomes:
            _write_transaction(w, o)
    w.add("AK9", status, declared, str(received), str(accepted), *group_codes)
    w.add("SE", str(len(w.segments) - first + 1), "0001")
    w.add("GE", "1", str(control_number))
    close_interchange(w, control_number, 1)
    return w.render(), status


def _write_transaction(w: Writer, o: TransactionOutcome) -> None:
    w.add("AK2", o.tx.st01, o.tx.st02, o.tx.st03)
    for seg in o.segments:
        w.add("IK3", seg.segment_id, str(seg.position), "", seg.code)
        for element, ref, code, copy in sorted(seg.elements):
            w.add("IK4", str(element), ref, code, _clean(copy, w.d))
    w.add("IK5", o.status, *o.codes)


def _clean(value: str, d: Delimiters) -> str:
    """A copy of bad data must not contain our own delimiters."""
    for ch in (d.element, d.component, d.repetition, d.segment):
        if ch and ch in value:
            return ""
    return value


def _containing(txs: list[InboundTransaction], starts: list[int], n: int) -> int | None:
    """Index of the transaction whose ST..SE span holds file segment ``n``."""
    i = bisect_right(starts, n) - 1
    if i < 0:
        return None
    tx = txs[i]
    return i if tx.end == 0 or n <= tx.end else None
