"""The claim balance B(c) (pure): effective adjudications per payer, write-offs W(c,p), net
payments N(c,p), the COB chain and B(c) itself, as ``credit``'s docstring defines them
(``credit`` attributes a negative balance; ``explain`` shows these figures).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from gateway.reconcile import lines as ln
from gateway.reconcile.model import (
    PRIOR_PAYER_REASON,
    WRITE_OFF_GROUPS,
    ZERO,
    Adjudication,
    ClaimBalance,
    ClaimFacts,
)


def effective_adjudications(
    adjs: Iterable[Adjudication],
) -> tuple[dict[str, Adjudication], dict[str, list[Adjudication]]]:
    """E(c,p) per payer, and each payer's standing (non-reversed, non-reversal) adjudications,
    split-claim parts combined into one."""
    by_payer: dict[str, list[Adjudication]] = {}
    for a in sorted(adjs, key=lambda a: (a.remittance_date, a.key)):
        by_payer.setdefault(a.payer_id, []).append(a)
    effective: dict[str, Adjudication] = {}
    standing: dict[str, list[Adjudication]] = {}
    for payer, items in by_payer.items():
        alive: list[Adjudication] = []
        for a in items:
            if a.is_reversal:
                same = [
                    i
                    for i in range(len(alive))
                    if alive[i].payer_claim_control_number == a.payer_claim_control_number
                ]
                # The correction of a split reversal/correction often keeps the original's
                # CLP07: cancel the latest one whose paid amount the reversal negates, else the
                # latest with that CLP07.
                exact = [i for i in same if alive[i].paid == -a.paid]
                if exact or same:
                    del alive[(exact or same)[-1]]
                elif alive:
                    # A reversal whose original we never saw cancels the latest standing one.
                    alive.pop()
            else:
                alive.append(a)
        parts = _combine_split_parts(alive)
        standing[payer] = parts
        if parts:
            effective[payer] = parts[-1]
    return effective, standing


def _combine_split_parts(alive: list[Adjudication]) -> list[Adjudication]:
    """Adjudications that are parts of one claim (MA15 on both, or disjoint line groups)
    become one: all are effective together and none is a duplicate payment."""
    out: list[Adjudication] = []
    for a in alive:
        prev = out[-1] if out else None
        if prev is not None and _parts_of_one_claim(prev, a):
            out[-1] = replace(
                a,
                paid=prev.paid + a.paid,
                charge=prev.charge + a.charge,
                adjustments=[*prev.adjustments, *a.adjustments],
                claim_adjustments=[*prev.claim_adjustments, *a.claim_adjustments],
                lines=[*prev.lines, *a.lines],
                drg_code=a.drg_code or prev.drg_code,
                inpatient=a.inpatient or prev.inpatient,
                split=True,
                parts=(*(prev.parts or (prev.key,)), a.key),
                statement_from=_earliest(prev.statement_from, a.statement_from),
                statement_to=_latest(prev.statement_to, a.statement_to),
            )
        else:
            out.append(a)
    return out


def _parts_of_one_claim(a: Adjudication, b: Adjudication) -> bool:
    if a.split and b.split:
        return True
    if not a.lines or not b.lines:
        return False
    return not (ln.keys(ln.line_groups(a)) & ln.keys(ln.line_groups(b)))


def _earliest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return min(a, b) if a and b else a or b


def _latest(a: dt.date | None, b: dt.date | None) -> dt.date | None:
    return max(a, b) if a and b else a or b


def write_offs(a: Adjudication) -> tuple[Decimal, Decimal]:
    """(W, PR) of one adjudication."""
    w = ZERO
    pr = ZERO
    for group, reason, amount in a.adjustments:
        if group == "PR":
            pr += amount
        elif group in WRITE_OFF_GROUPS and reason != PRIOR_PAYER_REASON:
            w += amount
    return w, pr


def net_payments(facts: ClaimFacts) -> dict[str, Decimal]:
    """N(c,p) for every payer that paid, recouped or was refunded on the claim."""
    net: dict[str, Decimal] = {}
    for a in facts.adjudications:
        net[a.payer_id] = net.get(a.payer_id, ZERO) + a.paid
    for payer, amount in facts.recoupments.items():
        net[payer] = net.get(payer, ZERO) - amount
    for payer, amount in facts.payer_refunds.items():
        net[payer] = net.get(payer, ZERO) - amount
    return net


def claim_balance(
    facts: ClaimFacts,
    *,
    write_off_cuts: dict[str, Decimal] | None = None,
    effective: dict[str, Adjudication] | None = None,
) -> ClaimBalance:
    """Compute B(c) and the figures that explain it.

    ``write_off_cuts``: per payer, an amount taken off its counted write-off (the submitted
    charges of lines the ledger does not carry, on a claim-priced claim). ``effective``:
    E(c,p) when the caller has it already.
    """
    if effective is None:
        effective, _ = effective_adjudications(facts.adjudications)
    net = net_payments(facts)
    order = sorted(effective.values(), key=lambda a: (a.cob_rank, a.remittance_date, a.key))
    wrongful: set[str] = set()
    seen_primary = False
    for a in order:
        if a.cob_rank == 1:
            if seen_primary:
                wrongful.add(a.payer_id)
            seen_primary = True
    chain = tuple(a.payer_id for a in order if a.payer_id not in wrongful)

    cuts = write_off_cuts or {}
    counted_w = ZERO
    for payer, a in effective.items():
        if payer not in wrongful:
            counted_w += write_offs(a)[0] - cuts.get(payer, ZERO)
    pr = write_offs(effective[chain[-1]])[1] if chain else ZERO
    patient_net = facts.patient_payments - facts.patient_refunds
    balance = (
        facts.charges
        - counted_w
        - sum(net.values(), ZERO)
        - patient_net
        - facts.provider_adjustments
    )
    return ClaimBalance(balance, net, counted_w, pr, effective, frozenset(wrongful), chain)


__all__ = ["claim_balance", "effective_adjudications", "net_payments", "write_offs"]
