"""Which credits are Medicare's, of which Part, and how each goes back (pure).

Medicare by the claim itself, whether or not the payer has a profile: the claim filing
indicator MA or MB on the payer's effective adjudication (835 CLP06), else in the 837 loop of
that payer (the 2000B SBR09 when it is the claim's destination payer, else its own 2320 SBR09).
A payer whose profile runs ``medicare_a``/``medicare_b`` is a known Medicare contractor; one
that is Medicare only by indicator is *unverified* (reports and the API warn).

How a credit goes back (``return_method``):

- ``report``: a Medicare credit on an institutional claim (837I) billed to the A/B MAC: the
  CMS-838 (since 1 December 2024 filed only when there are credits to report);
- ``claim_adjustment``: the same, when the provider already sent the MAC an adjustment claim
  (837 frequency 7 or 8 whose REF*F8 is that payer's ICN): the MAC recovers it by reprocessing;
- ``refund``: everything else owed to a payer or the patient (a professional Part B credit
  goes through the MAC's voluntary refund form, never the CMS-838);
- none: the owner is not known yet (``unknown``).

The Part (A or B) of an institutional credit follows the type of bill: inpatient hospital
(11x), swing bed (18x), SNF inpatient (21x), home health (32x), religious non-medical (41x)
and hospice (81x, 82x) are Part A; other institutional bills (outpatient 13x, 85x, ...) are
Part B billed to the MAC. Without a type of bill: the payer profile's programme, else MA → A.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from schemas.payer import PayerRule
from schemas.states import UNVERIFIED_MEDICARE_PAYER

if TYPE_CHECKING:  # model.py holds a MedicareFacts: import its types for annotations only
    from gateway.reconcile.model import Adjudication, ClaimFacts, CreditRow

MEDICARE_INDICATORS = frozenset({"MA", "MB"})
MEDICARE_PROGRAMMES = frozenset({"medicare_a", "medicare_b"})
#: first two digits of the type of bill (facility type + bill classification) that are Part A
PART_A_BILLS = frozenset({"11", "18", "21", "32", "41", "81", "82"})
UNVERIFIED = UNVERIFIED_MEDICARE_PAYER


@dataclass(frozen=True, slots=True)
class PayerLoop:
    """One payer's loop of an 837 claim: who, its SBR09, and whether it was the destination."""

    payer_id: str
    filing_indicator: str
    destination: bool


@dataclass(frozen=True, slots=True)
class MedicareFacts:
    """What the 837s (or, without one, the 835s) say about the kind of claim.

    Appended to ``ClaimFacts`` as one field so the accounting model stays as it is.
    """

    #: 837P, 837I, 837D: the newest 837 of the claim; '' when no 837 was loaded
    kind: str = ""
    #: 837I CLM05-1 (facility type code), else the newest 835 CLP08 (read as a type of bill
    #: only for an institutional claim: on a professional one it is the place of service)
    facility_code: str = ""
    #: the payer loops of the claim's 837s, newest claim first (destination before 2320s)
    loops: tuple[PayerLoop, ...] = ()


def loop_indicator(facts: ClaimFacts, payer: str) -> str:
    """SBR09 of ``payer``'s own 837 loop: the one that names it (destination first, newest
    claim first); else, when no 2320 loop names any payer, the destination's 2000B."""
    m = facts.medicare
    for loop in m.loops:
        if loop.payer_id == payer:
            return loop.filing_indicator
    if m.loops and not any(not loop.destination for loop in m.loops):
        # a claim with no other payer: whoever answered it is its destination payer, even
        # under an id the 837 does not use (835 REF*2U and 837 NM1*PR ids often differ)
        return m.loops[0].filing_indicator
    return "" if m.loops else facts.claim_filing_indicator


def payer_indicator(facts: ClaimFacts, eff: Adjudication | None, payer: str) -> str:
    """The claim filing indicator that speaks for ``payer``: its 835 CLP06, else its 837 loop."""
    if eff is not None and eff.filing_indicator:
        return eff.filing_indicator
    latest = [a for a in facts.adjudications if a.payer_id == payer and a.filing_indicator]
    if latest:
        return max(latest, key=lambda a: (a.remittance_date, a.key)).filing_indicator
    return loop_indicator(facts, payer)


def claim_kind(facts: ClaimFacts, indicator: str, rule: PayerRule) -> str:
    """837I/837P/837D: the 837's own kind, else what the 835s and the payer suggest."""
    m = facts.medicare
    if m.kind:
        return m.kind
    if indicator == "MA" or any(
        a.drg_code
        or a.inpatient
        or any(ln.revenue_code or ln.procedure.startswith("NU:") for ln in a.lines)
        for a in facts.adjudications
    ):
        return "837I"  # revenue-code lines, a DRG or an MIA: an institutional claim
    if indicator == "MB":
        return "837P"
    if rule.programme == "medicare_a":
        return "837I"
    return "837P" if rule.programme == "medicare_b" else ""


def medicare_part(facts: ClaimFacts, kind: str, indicator: str, rule: PayerRule) -> str:
    """'A' or 'B' of a Medicare credit."""
    if kind != "837I":
        return "B"
    tob = facts.medicare.facility_code[:2]
    if len(tob) == 2 and tob.isdigit():
        return "A" if tob in PART_A_BILLS else "B"
    if rule.programme in MEDICARE_PROGRAMMES:
        return "A" if rule.programme == "medicare_a" else "B"
    return "A" if indicator == "MA" else "B"


@dataclass(frozen=True, slots=True)
class Medicare:
    """A payer's Medicare standing on this claim."""

    part: str  # A | B
    kind: str  # 837I | 837P | 837D | ''
    verified: bool  # the payer's profile is a Medicare contractor


def classify(
    facts: ClaimFacts, eff: Adjudication | None, payer: str, rule: PayerRule
) -> Medicare | None:
    """``payer``'s Medicare standing on the claim, or None when it is not Medicare."""
    indicator = payer_indicator(facts, eff, payer)
    verified = rule.programme in MEDICARE_PROGRAMMES
    if indicator not in MEDICARE_INDICATORS and not verified:
        return None
    kind = claim_kind(facts, indicator, rule)
    return Medicare(medicare_part(facts, kind, indicator, rule), kind, verified)


def return_method(facts: ClaimFacts, row: CreditRow, m: Medicare | None) -> str | None:
    """report | claim_adjustment | refund | None (owner unknown): see the module docstring."""
    if row.owed_to == "unknown":
        return None
    if row.owed_to != "payer" or m is None or m.kind != "837I":
        return "refund"
    icns = {
        a.payer_claim_control_number
        for a in facts.adjudications
        if a.payer_id == row.payer_id and a.payer_claim_control_number
    }
    if icns & {icn for icn, _ in facts.replacements}:
        return "claim_adjustment"
    return "report"


def annotate(
    facts: ClaimFacts,
    rows: list[CreditRow],
    effective: dict[str, Adjudication],
    rules: Callable[[str], PayerRule],
) -> list[CreditRow]:
    """``rows`` with their claim kind, Medicare Part, verification and return method.

    A credit owed to nobody known on a claim a Medicare payer paid carries that payer's Part
    (it may be Medicare's money: reports warn about it, an investigation suspends it).
    """
    payers = sorted({a.payer_id for a in facts.adjudications})
    standing = {p: classify(facts, effective.get(p), p, rules(p)) for p in payers}
    out = []
    for row in rows:
        if row.payer_id is not None:
            m = standing.get(row.payer_id)
        else:
            m = (
                next((v for v in standing.values() if v is not None), None)
                if row.owed_to == "unknown"
                else None
            )
        kind = m.kind if m is not None else (facts.medicare.kind or "")
        out.append(
            replace(
                row,
                claim_kind=kind,
                medicare_part=m.part if m is not None else None,
                medicare_verified=m.verified if m is not None else None,
                return_method=return_method(facts, row, m),
            )
        )
    return out


__all__ = [
    "MEDICARE_INDICATORS",
    "MEDICARE_PROGRAMMES",
    "PART_A_BILLS",
    "UNVERIFIED",
    "Medicare",
    "MedicareFacts",
    "PayerLoop",
    "annotate",
    "claim_kind",
    "classify",
    "loop_indicator",
    "medicare_part",
    "payer_indicator",
    "return_method",
]
