"""The accounting model: per-claim balance, credit detection and attribution (pure).

Remittances are the source of truth for what payers paid and adjusted; the ledger for charges,
patient money and the provider's own adjustments. For a claim c and payer p:

- Every CLP loop is an adjudication. A reversal (CLP02 = 22) cancels p's latest earlier,
  not yet reversed adjudication with the same payer claim control number (CLP07) — of those,
  the latest whose CLP04 it negates, since a correction may carry the same CLP07. The effective
  adjudication E(c,p) is p's latest adjudication that is neither a reversal nor reversed.
- N(c,p) = Σ CLP04 of all p's adjudications (reversals included) − PLB WO/72 recoupments that
  reference c − ledger refunds to p for c.
- W(c,p) = Σ CAS in E(c,p) with group CO/PI/OA (except reason 23) or legacy CR.
- COB order: primary (1/19) < secondary (2/20) < tertiary (3/21), ties by remittance date.
  When two payers both have a primary effective adjudication, the later is a *wrongful
  primary*: its W does not count and it does not take part in the COB chain.
- PR(c) = Σ CAS group PR in E of the last payer of the COB chain.
- B(c) = charges − Σ counted W − Σ_p N(c,p) − (patient payments − patient refunds)
  − provider adjustments. B(c) < 0 is a credit C = −B(c), attributed in this order until used:
  duplicate_payment, coordination_of_benefits, overpayment, patient_overpayment, unexplained.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal

from gateway.reconcile import medicare
from gateway.reconcile.model import (
    PRIOR_PAYER_REASON,
    WRITE_OFF_GROUPS,
    ZERO,
    Adjudication,
    ClaimBalance,
    ClaimFacts,
    CreditRow,
)
from schemas.payer import PayerRule

GOVERNMENT_60_DAY = frozenset({"MA", "MB", "MC"})
FEDERAL_OTHER = frozenset({"16", "CH", "VA", "OF"})
SIXTY_DAY_PROGRAMMES = frozenset({"medicare_a", "medicare_b", "medicaid"})


def effective_adjudications(adjs: Iterable[Adjudication]) -> tuple[
    dict[str, Adjudication], dict[str, list[Adjudication]]
]:
    """E(c,p) per payer, and each payer's non-reversed, non-reversal adjudications."""
    by_payer: dict[str, list[Adjudication]] = {}
    for a in sorted(adjs, key=lambda a: (a.remittance_date, a.key)):
        by_payer.setdefault(a.payer_id, []).append(a)
    effective: dict[str, Adjudication] = {}
    standing: dict[str, list[Adjudication]] = {}
    for payer, items in by_payer.items():
        alive: list[Adjudication] = []
        for a in items:
            if a.is_reversal:
                same = [i for i in range(len(alive))
                        if alive[i].payer_claim_control_number == a.payer_claim_control_number]
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
        standing[payer] = alive
        if alive:
            effective[payer] = alive[-1]
    return effective, standing


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


def claim_balance(facts: ClaimFacts) -> ClaimBalance:
    """Compute B(c) and the figures that explain it."""
    effective, _ = effective_adjudications(facts.adjudications)
    net: dict[str, Decimal] = {}
    for a in facts.adjudications:
        net[a.payer_id] = net.get(a.payer_id, ZERO) + a.paid
    for payer, amount in facts.recoupments.items():
        net[payer] = net.get(payer, ZERO) - amount
    for payer, amount in facts.payer_refunds.items():
        net[payer] = net.get(payer, ZERO) - amount

    order = sorted(effective.values(), key=lambda a: (a.cob_rank, a.remittance_date, a.key))
    wrongful: set[str] = set()
    seen_primary = False
    for a in order:
        if a.cob_rank == 1:
            if seen_primary:
                wrongful.add(a.payer_id)
            seen_primary = True
    chain = tuple(a.payer_id for a in order if a.payer_id not in wrongful)

    counted_w = ZERO
    for payer, a in effective.items():
        if payer not in wrongful:
            counted_w += write_offs(a)[0]
    pr = write_offs(effective[chain[-1]])[1] if chain else ZERO
    patient_net = facts.patient_payments - facts.patient_refunds
    balance = (facts.charges - counted_w - sum(net.values(), ZERO) - patient_net
               - facts.provider_adjustments)
    return ClaimBalance(balance, net, counted_w, pr, effective, frozenset(wrongful), chain)


def attribute(
    facts: ClaimFacts,
    *,
    as_of: dt.date,
    rules: Callable[[str], PayerRule],
) -> list[CreditRow]:
    """The credit rows of one claim (empty when B(c) ≥ 0). Σ amounts = C exactly."""
    cb = claim_balance(facts)
    if cb.balance >= 0:
        return []
    remaining = -cb.balance
    parts: list[tuple[str, str | None, Decimal, str]] = []  # owed_to, payer, amount, cause
    paid_back: dict[str, Decimal] = {}

    def take(owed_to: str, payer: str | None, amount: Decimal, cause: str) -> None:
        nonlocal remaining
        amount = min(amount, remaining)
        if amount <= 0:
            return
        remaining -= amount
        parts.append((owed_to, payer, amount, cause))
        if payer is not None:
            paid_back[payer] = paid_back.get(payer, ZERO) + amount

    _, standing = effective_adjudications(facts.adjudications)
    hold_until: dt.date | None = None
    # 1. duplicate payments: standing adjudications other than the effective one
    for payer in sorted(standing):
        alive = standing[payer]
        if len(alive) > 1:
            extra = sum((a.paid for a in alive[:-1] if a.paid > 0), ZERO)
            take("payer", payer, extra, "duplicate_payment")
            newest = max(a.remittance_date for a in alive)
            until = newest + dt.timedelta(days=rules(payer).hold_days)
            if as_of < until:
                hold_until = max(hold_until or until, until)
    # 2. coordination of benefits: wrongful primaries first, then excess over the chain
    for payer in sorted(cb.wrongful_primaries):
        take("payer", payer, cb.net_payments.get(payer, ZERO) - paid_back.get(payer, ZERO),
             "coordination_of_benefits")
    payers = [p for p in cb.net_payments if cb.net_payments[p] != 0 or p in cb.effective]
    allowed = facts.charges - cb.counted_write_offs - cb.patient_responsibility
    left_with_payers = sum(
        (cb.net_payments[p] - paid_back.get(p, ZERO) for p in cb.net_payments), ZERO
    )
    excess = left_with_payers - allowed
    last: str | None = cb.cob_order[-1] if cb.cob_order else (payers[-1] if payers else None)
    if len(payers) > 1 and last is not None:
        take("payer", last, excess, "coordination_of_benefits")
    elif len(payers) == 1 and last is not None:
        # 3. overpayment: one payer paid beyond charges − W − PR
        take("payer", last, excess, "overpayment")
    # 4. patient overpayment
    patient_net = facts.patient_payments - facts.patient_refunds
    take("patient", None, patient_net - cb.patient_responsibility, "patient_overpayment")
    # 5. whatever is left
    take("unknown", None, remaining, "unexplained")

    any_government = any(
        _government(facts, cb, p, rules)[0] for p in cb.net_payments
    )
    rows = []
    for owed_to, owed_payer, amount, cause in parts:
        if owed_payer is not None:
            government, deadline = _government(facts, cb, owed_payer, rules)
        else:
            government, deadline = (owed_to == "unknown" and any_government), None
            if government:
                deadline = 60
        status = "pending" if hold_until is not None else "open"
        rows.append(CreditRow(
            provider_id=facts.provider_id, account_id=facts.account_id,
            patient_control_number=facts.patient_control_number, owed_to=owed_to,
            payer_id=owed_payer, amount=amount, cause=cause, government=government,
            status=status, deadline_days=deadline, pending_until=hold_until,
        ))
    return rows


def _government(
    facts: ClaimFacts, cb: ClaimBalance, payer: str, rules: Callable[[str], PayerRule]
) -> tuple[bool, int | None]:
    """(government?, deadline days) for money owed to ``payer``.

    Medicare by the claim (CLP06 of the payer's effective adjudication, else the SBR09 of its
    own 837 loop: MA, MB) is Medicare's money, 60 days, whether or not the payer has a
    profile. Otherwise the payer profile decides; without one, that same indicator: MC → 60
    days; 16, CH, VA, OF → government with the profile's deadline.
    """
    rule = rules(payer)
    indicator = medicare.payer_indicator(facts, cb.effective.get(payer), payer)
    if indicator in medicare.MEDICARE_INDICATORS:
        return True, 60
    if rule.government is not None or rule.programme:
        gov = bool(rule.government) or rule.programme in SIXTY_DAY_PROGRAMMES
        if rule.programme in SIXTY_DAY_PROGRAMMES:
            return True, 60
        return gov, rule.deadline_days
    if indicator in GOVERNMENT_60_DAY:
        return True, 60
    if indicator in FEDERAL_OTHER:
        return True, rule.deadline_days
    return False, rule.deadline_days


def classify_rows(facts: ClaimFacts, rows: list[CreditRow], *,
                  rules: Callable[[str], PayerRule]) -> list[CreditRow]:
    """``rows`` of ``attribute`` with their claim kind, Medicare Part and return method."""
    if not rows:
        return rows
    effective, _ = effective_adjudications(facts.adjudications)
    return medicare.annotate(facts, rows, effective, rules)


def due_by(
    identified_on: dt.date, deadline_days: int | None, suspension_days: int = 0,
    suspension_cap: int = 180,
) -> dt.date | None:
    """Deadline: identification + the programme's days, plus an investigation's suspension.

    The suspension for a timely good-faith investigation is capped: 180 days for Medicare
    Parts A and B (42 CFR 401.305), a payer profile's ``investigation_days`` elsewhere, and
    0 (the deadline does not move) for a programme with neither.
    """
    if deadline_days is None:
        return None
    cap = min(max(suspension_cap, 0), 180)
    return identified_on + dt.timedelta(days=deadline_days + min(max(suspension_days, 0), cap))
