"""Which billed lines the ledger carries: line groups and their posted charges (pure).

A payer's adjudication answers lines; the provider's ledger posts charges. A payment on a line
the ledger never charged is not the provider's money, so before any balance is computed the
lines of each effective adjudication are grouped and matched to the posted charges:

- **Groups.** Lines that share a REF*6R are one group (payers split a line into several with
  the same 6R, or echo the 837's LX number). Lines without one group by submitted code (SVC06,
  else SVC01, qualifier and modifiers aside; the SVC04 revenue code too) and service date
  (DTM*472, else the claim's DTM*150–151 statement period).
- **Line-level ledger** (every charge row carries line detail): a group is charged when the
  posted charges with its ``line_ref``, else its code and date, cover its submitted charges.
  Nothing posted: uncharged. Something but less: the claim cannot be matched (``mismatch``).
- **Claim-level ledger**: every group is charged when the posted charges reach CLP03; when they
  fall short, the uncharged groups are the one set whose submitted charges add up to the
  shortfall. A bounded search finds it; none, or several with different payments, write-offs
  or patient responsibility, is a mismatch.

Lines with SVC02 = 0 (unbundled, payer-added) never form an uncharged group of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway.reconcile.model import (
    PRIOR_PAYER_REASON,
    WRITE_OFF_GROUPS,
    ZERO,
    Adjudication,
    LedgerCharge,
    LineGroup,
    ServiceLine,
)

#: the subset search of a claim-level ledger gives up beyond these (837P/D carry at most 50
#: lines, 837I 999; a claim that large with a shortfall goes to an analyst as a mismatch)
MAX_SEARCH_GROUPS = 64
MAX_SEARCH_STATES = 50_000

Signature = tuple[int, int, int]  # cents of (paid, write-off, patient responsibility)


def group_key(line: ServiceLine, period: tuple[dt.date | None, dt.date | None]) -> str:
    """The identity of the billed line a service line answers (stable across runs)."""
    if line.line_ref:
        return f"6R:{line.line_ref}"
    if line.service_date is not None:
        day = line.service_date.isoformat()
    else:
        start, end = period
        day = f"{start.isoformat() if start else ''}..{end.isoformat() if end else ''}"
    return f"LN:{line.code}|{line.revenue_code}|{day}"


def line_groups(a: Adjudication) -> list[LineGroup]:
    """The groups of one adjudication's lines, in the order they first appear."""
    period = (a.statement_from, a.statement_to)
    order: dict[str, list[ServiceLine]] = {}
    for ln in a.lines:
        order.setdefault(group_key(ln, period), []).append(ln)
    return [LineGroup(k, tuple(v)) for k, v in order.items()]


def group_figures(g: LineGroup) -> tuple[Decimal, Decimal, Decimal]:
    """(paid, counted write-off, patient responsibility) of a group's lines."""
    w = pr = ZERO
    for ln in g.lines:
        for group, reason, amount in ln.adjustments:
            if group == "PR":
                pr += amount
            elif group in WRITE_OFF_GROUPS and reason != PRIOR_PAYER_REASON:
                w += amount
    return g.paid, w, pr


@dataclass(frozen=True, slots=True)
class Matching:
    """The outcome of matching one adjudication's groups to the ledger."""

    uncharged: tuple[LineGroup, ...] = ()
    #: why the lines cannot be matched to the posted charges; the claim then stays at claim level
    mismatch: str = ""
    groups: tuple[LineGroup, ...] = ()


def match(a: Adjudication, charges: Sequence[LedgerCharge], posted: Decimal) -> Matching:
    """Which of ``a``'s groups the posted ``charges`` (summing to ``posted``) do not carry."""
    groups = tuple(line_groups(a))
    if not groups:
        if posted < a.charge:
            return Matching(
                mismatch=(
                    f"the posted charges are {a.charge - posted} short of the billed charges, and "
                    "the payer answered at claim level only (no service lines to match)"
                )
            )
        return Matching()
    if charges and all(c.has_line_detail for c in charges):
        return _match_lines(a, groups, charges)
    return _match_total(a, groups, posted)


def _match_lines(
    a: Adjudication, groups: tuple[LineGroup, ...], charges: Sequence[LedgerCharge]
) -> Matching:
    by_ref: dict[str, Decimal] = {}
    for c in charges:
        if c.line_ref:
            by_ref[c.line_ref] = by_ref.get(c.line_ref, ZERO) + c.amount
    claimed_refs = {ln.line_ref for g in groups for ln in g.lines if ln.line_ref in by_ref}
    loose = [c for c in charges if c.line_ref not in claimed_refs]
    period = (a.statement_from, a.statement_to)
    uncharged: list[LineGroup] = []
    for g in groups:
        if g.charge <= 0:
            continue  # follows its group; never uncharged on its own
        refs = {ln.line_ref for ln in g.lines if ln.line_ref in by_ref}
        if refs:
            posted = sum((by_ref[r] for r in refs), ZERO)
        else:
            posted = sum((c.amount for c in loose if _same_service(g, c, period)), ZERO)
        if posted >= g.charge:
            continue
        if posted > 0:
            return Matching(
                mismatch=(
                    f"line {_describe(g)} was billed {g.charge} but {posted} is posted for it"
                ),
                groups=groups,
            )
        uncharged.append(g)
    return Matching(tuple(uncharged), groups=groups)


def _same_service(
    g: LineGroup, c: LedgerCharge, period: tuple[dt.date | None, dt.date | None]
) -> bool:
    ln = g.lines[0]
    compared = False
    if c.code and ln.code:
        if c.code != ln.code:
            return False
        compared = True
    if c.revenue_code and ln.revenue_code:
        if c.revenue_code != ln.revenue_code:
            return False
        compared = True
    if not compared or c.service_date is None:
        return compared
    if ln.service_date is not None:
        return c.service_date == ln.service_date
    start, end = period
    return (start is None or c.service_date >= start) and (end is None or c.service_date <= end)


def _match_total(a: Adjudication, groups: tuple[LineGroup, ...], posted: Decimal) -> Matching:
    billed = a.charge if a.charge > 0 else sum((g.charge for g in groups), ZERO)
    if posted >= billed:
        return Matching(groups=groups)
    shortfall = billed - posted
    candidates = [g for g in groups if g.charge > 0]
    found = _unique_subset(candidates, shortfall)
    if isinstance(found, str):
        return Matching(mismatch=found, groups=groups)
    return Matching(tuple(candidates[i] for i in found), groups=groups)


def _cents(x: Decimal) -> int:
    return int((x * 100).to_integral_value())


def _unique_subset(groups: list[LineGroup], shortfall: Decimal) -> tuple[int, ...] | str:
    """Indexes of the one set of groups whose charges add up to ``shortfall`` (0/1 knapsack
    over cents, keeping at most two differently-signed sets per partial sum), or the reason
    there is none."""
    target = _cents(shortfall)
    if len(groups) > MAX_SEARCH_GROUPS:
        return (
            f"the posted charges are {shortfall} short of the billed charges and the claim "
            f"has {len(groups)} lines, too many to tell which were not posted"
        )
    sigs = [tuple(_cents(x) for x in group_figures(g)) for g in groups]
    # partial sum → up to two (signature, member indexes) with distinct signatures
    states: dict[int, list[tuple[Signature, tuple[int, ...]]]] = {0: [((0, 0, 0), ())]}
    for i, g in enumerate(groups):
        c = _cents(g.charge)
        additions: list[tuple[int, Signature, tuple[int, ...]]] = []
        for total, entries in states.items():
            if total + c > target:
                continue
            for sig, members in entries:
                s = sigs[i]
                additions.append(
                    (total + c, (sig[0] + s[0], sig[1] + s[1], sig[2] + s[2]), (*members, i))
                )
        for total, sig, members in additions:
            kept = states.setdefault(total, [])
            if len(kept) < 2 and all(k[0] != sig for k in kept):
                kept.append((sig, members))
        if len(states) > MAX_SEARCH_STATES:
            return (
                f"the posted charges are {shortfall} short of the billed charges and too "
                "many combinations of lines could explain it"
            )
    answers = states.get(target, [])
    if not answers:
        return (
            f"the posted charges are {shortfall} short of the billed charges, and no set "
            "of billed lines adds up to that"
        )
    if len(answers) > 1:
        return (
            f"the posted charges are {shortfall} short of the billed charges, and more "
            "than one set of billed lines with different payments adds up to that"
        )
    return answers[0][1]


def describe_lines(g: LineGroup) -> tuple[dict[str, str | None], ...]:
    """The lines of a group as an analyst reads them (no PHI: codes, dates and money)."""
    return tuple(
        {
            "procedure": ln.procedure or ln.code,
            "revenue_code": ln.revenue_code or None,
            "service_date": ln.service_date.isoformat() if ln.service_date else None,
            "charge": f"{ln.charge:.2f}",
            "paid": f"{ln.paid:.2f}",
            "line_ref": ln.line_ref or None,
        }
        for ln in g.lines
    )


def _describe(g: LineGroup) -> str:
    ln = g.lines[0]
    what = ln.procedure or ln.code or ln.revenue_code or "?"
    return f"{what} ({ln.line_ref})" if ln.line_ref else what


def keys(groups: Iterable[LineGroup]) -> set[str]:
    return {g.key for g in groups}


__all__ = [
    "Matching",
    "describe_lines",
    "group_figures",
    "group_key",
    "keys",
    "line_groups",
    "match",
]
