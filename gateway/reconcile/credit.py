"""The accounting model: per-claim balance, credit detection and attribution (pure).

Remittances are the source of truth for what payers paid and adjusted; the ledger for charges,
patient money and the provider's own adjustments. For a claim c and payer p:

- Every CLP loop is an adjudication. A reversal (CLP02 = 22) cancels p's latest earlier,
  not yet reversed adjudication with the same payer claim control number (CLP07) — of those,
  the latest whose CLP04 it negates, since a correction may carry the same CLP07. Standing
  adjudications that are parts of one split claim (remark MA15, or disjoint line groups) are
  combined. The effective adjudication E(c,p) is p's latest standing one.
- N(c,p) = Σ CLP04 (less claim interest AMT*I where CLP04 includes it) of all p's
  adjudications, reversals included − PLB WO/72 recoupments that reference c − ledger refunds
  to p for c.
- W(c,p) = Σ CAS in E(c,p) with group CO/PI/OA (except reason 23) or legacy CR.
- COB order: primary (1/19) < secondary (2/20) < tertiary (3/21), ties by remittance date.
  When two payers both have a primary effective adjudication, the later is a *wrongful
  primary*: its W does not count and it does not take part in the COB chain.
- PR(c) = Σ CAS group PR in E of the last payer of the COB chain.
- B(c) = charges − Σ counted W − Σ_p N(c,p) − (patient payments − patient refunds)
  − provider adjustments. B(c) < 0 is a credit C = −B(c), attributed in this order until used:
  duplicate_payment, coordination_of_benefits, overpayment, patient_overpayment, unexplained.

Before that, the lines of each E are matched to the posted charges (``lines``). On a
line-priced claim a payer's payment on a line the ledger never charged is owed back to it first
and apart, and the balance runs over the charged lines only; on a claim-priced one (DRG, MIA,
claim-level CO/PI/PR) the uncharged lines' charges come off the write-off instead. Credits of a
claim with an uncharged line are held (``pending``, ``unposted_line``) for an analyst. A claim
with remittances and no posted charge at all waits ``ledger_lag_days`` for its ledger; then its
payers' net payments become pending credits. No payer or patient is ever owed more than it paid.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

from gateway.reconcile import credit_rows
from gateway.reconcile import lines as ln
from gateway.reconcile.balance import (
    claim_balance,
    effective_adjudications,
    net_payments,
    write_offs,
)
from gateway.reconcile.credit_rows import Part, Rules
from gateway.reconcile.deadlines import (
    FEDERAL_OTHER,
    GOVERNMENT_60_DAY,
    SIXTY_DAY_PROGRAMMES,
    due_by,
    government_by,
)
from gateway.reconcile.model import (
    ZERO,
    Adjudication,
    ClaimBalance,
    ClaimFacts,
    ClaimOutcome,
    CreditRow,
    LineGroup,
    LineVariance,
)

# ---------------------------------------------------------------- one claim, end to end


def attribute(facts: ClaimFacts, *, as_of: dt.date, rules: Rules) -> list[CreditRow]:
    """The credit rows of one claim (empty when it holds no credit)."""
    return reconcile_claim(facts, as_of=as_of, rules=rules).credits


def reconcile_claim(facts: ClaimFacts, *, as_of: dt.date, rules: Rules) -> ClaimOutcome:
    """Credits and line variances of one claim, as of a day."""
    effective, standing = effective_adjudications(facts.adjudications)
    if facts.adjudications and not facts.has_charge_rows:
        return _without_charges(facts, as_of, rules)

    variances: list[LineVariance] = []
    uncharged: dict[str, list[LineGroup]] = {}
    for payer in sorted(effective):
        m = ln.match(effective[payer], facts.ledger_charges, facts.charges)
        if m.mismatch:
            variances.append(LineVariance("charge_mismatch", payer, "", m.mismatch))
            return ClaimOutcome(_claim_level_unexplained(facts, rules), variances)
        if m.uncharged:
            uncharged[payer] = list(m.uncharged)

    line_priced = all(not a.claim_priced for a in effective.values())
    kind = "unposted_line" if line_priced else "charge_mismatch"
    reason = (
        "the ledger carries no charge for this billed line"
        if line_priced
        else "claim-priced (DRG, per diem or claim-level adjustments): the line's charge "
        "comes off the payer's write-off instead of creating a credit"
    )
    held = False
    virtual: dict[str, Decimal] = {}
    for payer, groups in uncharged.items():
        still: list[LineGroup] = []
        for g in groups:
            variances.append(
                LineVariance(kind, payer, g.key, reason, ln.describe_lines(g), g.charge, g.paid)
            )
            decision = facts.line_decisions.get(g.key)
            if decision in ("missed", "transfer"):
                virtual[g.key] = g.charge  # the charge exists (to be posted, or elsewhere)
                continue
            held = held or decision != "billed_in_error"
            still.append(g)
        uncharged[payer] = still
    if virtual:
        facts = replace(facts, charges=facts.charges + sum(virtual.values(), ZERO))

    if not any(uncharged.values()):
        parts, hold_until, cb = _attribute(facts, as_of, rules, effective, standing)
    elif line_priced:
        parts, hold_until, cb = _line_priced(facts, effective, uncharged, as_of, rules)
    else:
        parts, hold_until, cb = _claim_priced(facts, effective, standing, uncharged, as_of, rules)

    reason_held: str | None = None
    if held:
        reason_held, hold_until = "unposted_line", None
    else:
        replaced = _replacement_hold(facts, effective, as_of, rules)
        if replaced is not None:
            reason_held, hold_until = "replacement_claim", max(replaced, hold_until or replaced)
        elif hold_until is not None:
            reason_held = "hold_window"
    rows = credit_rows.rows(facts, cb, _capped(facts, parts), rules, reason_held, hold_until)
    return ClaimOutcome(rows, variances)


Attributed = tuple[list[Part], dt.date | None, ClaimBalance]


def _line_priced(
    facts: ClaimFacts,
    effective: dict[str, Adjudication],
    uncharged: dict[str, list[LineGroup]],
    as_of: dt.date,
    rules: Rules,
) -> Attributed:
    """Uncharged payments owed back first and apart; the rest over the charged lines."""
    net = net_payments(facts)
    first: list[Part] = []
    swapped: dict[int, Adjudication] = {}
    for payer in sorted(uncharged):
        groups = uncharged[payer]
        if not groups:
            continue
        e = effective[payer]
        unapplied = min(max(sum((g.paid for g in groups), ZERO), ZERO), max(net[payer], ZERO))
        if unapplied > 0:
            first.append(Part("payer", payer, unapplied, "overpayment"))
        gone = ln.keys(groups)
        kept = [g for g in ln.line_groups(e) if g.key not in gone]
        line_cas = [adj for g in kept for line in g.lines for adj in line.adjustments]
        swapped[e.key] = replace(
            e,
            paid=e.paid - unapplied,
            adjustments=[*e.claim_adjustments, *line_cas],
            lines=[line for g in kept for line in g.lines],
        )
    charged = replace(facts, adjudications=[swapped.get(a.key, a) for a in _flat(facts, effective)])
    now, standing = effective_adjudications(charged.adjudications)
    rest, hold_until, cb = _attribute(charged, as_of, rules, now, standing)
    return first + rest, hold_until, cb


def _flat(facts: ClaimFacts, effective: dict[str, Adjudication]) -> list[Adjudication]:
    """The claim's adjudications with each combined split claim in place of its parts."""
    combined = {a.key: a for a in effective.values() if a.parts}
    if not combined:
        return list(facts.adjudications)
    absorbed = {k for a in combined.values() for k in a.parts if k != a.key}
    return [combined.get(a.key, a) for a in facts.adjudications if a.key not in absorbed]


def _claim_priced(
    facts: ClaimFacts,
    effective: dict[str, Adjudication],
    standing: dict[str, list[Adjudication]],
    uncharged: dict[str, list[LineGroup]],
    as_of: dt.date,
    rules: Rules,
) -> Attributed:
    """The uncharged lines' charges come off the write-off: an uncharged line never creates
    a payer credit. Where that would take a payer's write-off below 0, the difference is held
    as ``unexplained`` for the analyst, never attributed to a payer."""
    cb = claim_balance(facts, effective=effective)
    cuts = {p: sum((g.charge for g in gs), ZERO) for p, gs in uncharged.items() if gs}
    parts, hold_until, reduced = _attribute(
        facts, as_of, rules, effective, standing, write_off_cuts=cuts
    )
    beyond = ZERO
    for payer, cut in cuts.items():
        if payer in cb.effective and payer not in cb.wrongful_primaries:
            w = write_offs(cb.effective[payer])[0]
            beyond += cut - min(cut, max(w, ZERO))
    if beyond > 0:
        # B with the floored cuts is B − beyond: the extra credit that floor makes is for review
        extra = max(beyond - reduced.balance, ZERO) - max(-reduced.balance, ZERO)
        if extra > 0:
            parts.append(Part("unknown", None, extra, "unexplained"))
    return parts, hold_until, cb


def _claim_level_unexplained(facts: ClaimFacts, rules: Rules) -> list[CreditRow]:
    """The lines cannot be matched: the claim-level credit, if any, is all for review."""
    cb = claim_balance(facts)
    if cb.balance >= 0:
        return []
    parts = [Part("unknown", None, -cb.balance, "unexplained")]
    return credit_rows.rows(facts, cb, _capped(facts, parts), rules, None, None)


def _without_charges(facts: ClaimFacts, as_of: dt.date, rules: Rules) -> ClaimOutcome:
    """Remittances but no posted charge: an exception for the payers' ledger lag, then each
    payer's net payment (never its write-offs) is a pending credit for review."""
    newest: dict[str, dt.date] = {}
    for a in facts.adjudications:
        newest[a.payer_id] = max(newest.get(a.payer_id, a.remittance_date), a.remittance_date)
    until = max(day + dt.timedelta(days=rules(p).ledger_lag_days) for p, day in newest.items())
    if as_of < until:
        net = net_payments(facts)
        payer = max(sorted(net), key=lambda p: net[p])
        return ClaimOutcome(
            [],
            [],
            no_charges_until=until,
            waiting=(payer, sum(net.values(), ZERO), max(newest.values())),
        )
    parts = [
        Part("payer", p, n, "overpayment") for p, n in sorted(net_payments(facts).items()) if n > 0
    ]
    patient = facts.patient_payments - facts.patient_refunds
    if patient > 0:
        parts.append(Part("patient", None, patient, "patient_overpayment"))
    return ClaimOutcome(
        credit_rows.rows(facts, claim_balance(facts), parts, rules, "no_posted_charges", None), []
    )


def _attribute(
    facts: ClaimFacts,
    as_of: dt.date,
    rules: Rules,
    effective: dict[str, Adjudication],
    standing: dict[str, list[Adjudication]],
    *,
    write_off_cuts: dict[str, Decimal] | None = None,
) -> Attributed:
    """The five attribution steps over C = −B(c); Σ parts = C exactly."""
    cb = claim_balance(facts, write_off_cuts=write_off_cuts, effective=effective)
    if cb.balance >= 0:
        return [], None, cb
    remaining = -cb.balance
    parts: list[Part] = []
    paid_back: dict[str, Decimal] = {}

    def take(owed_to: str, payer: str | None, amount: Decimal, cause: str) -> None:
        nonlocal remaining
        amount = min(amount, remaining)
        if amount <= 0:
            return
        remaining -= amount
        parts.append(Part(owed_to, payer, amount, cause))
        if payer is not None:
            paid_back[payer] = paid_back.get(payer, ZERO) + amount

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
        take(
            "payer",
            payer,
            cb.net_payments.get(payer, ZERO) - paid_back.get(payer, ZERO),
            "coordination_of_benefits",
        )
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
    return parts, hold_until, cb


def _capped(facts: ClaimFacts, parts: list[Part]) -> list[Part]:
    """No payer is owed more than its net payment, no patient more than the patient's net
    payments, and the claim's credits never exceed the money received: what a part would owe
    beyond that goes to review (``unexplained``), and what exceeds every payment is no credit."""
    limits = {p: max(n, ZERO) for p, n in net_payments(facts).items()}
    patient_limit = max(facts.patient_payments - facts.patient_refunds, ZERO)
    used: dict[str, Decimal] = {}
    out: list[Part] = []
    spill = ZERO
    for part in parts:
        key = part.payer if part.owed_to == "payer" and part.payer else part.owed_to
        if part.owed_to == "unknown":
            out.append(part)
            continue
        limit = limits.get(key, ZERO) if part.owed_to == "payer" else patient_limit
        room = max(limit - used.get(key, ZERO), ZERO)
        amount = min(part.amount, room)
        spill += part.amount - amount
        if amount > 0:
            used[key] = used.get(key, ZERO) + amount
            out.append(Part(part.owed_to, part.payer, amount, part.cause))
    if spill > 0:
        out.append(Part("unknown", None, spill, "unexplained"))
    room = sum(limits.values(), ZERO) + patient_limit - sum(used.values(), ZERO)
    capped: list[Part] = []
    for part in out:
        if part.owed_to == "unknown":
            amount = min(part.amount, max(room, ZERO))
            room -= amount
            if amount <= 0:
                continue
            part = Part(part.owed_to, part.payer, amount, part.cause)
        capped.append(part)
    return capped


def _replacement_hold(
    facts: ClaimFacts,
    effective: dict[str, Adjudication],
    as_of: dt.date,
    rules: Rules,
) -> dt.date | None:
    """A replacement or void 837 sent after E's remittance: hold until that payer's reversal
    arrives or its hold window (from the day the replacement was sent) passes."""
    latest: dt.date | None = None
    for payer, e in effective.items():
        for icn, sent in facts.replacements:
            if not icn or icn != e.payer_claim_control_number or sent < e.remittance_date:
                continue
            reversed_after = any(
                a.is_reversal
                and a.payer_id == payer
                and a.payer_claim_control_number == icn
                and a.remittance_date >= sent
                for a in facts.adjudications
            )
            until = sent + dt.timedelta(days=rules(payer).hold_days)
            if not reversed_after and as_of < until:
                latest = max(latest or until, until)
    return latest


__all__ = [
    "FEDERAL_OTHER",
    "GOVERNMENT_60_DAY",
    "SIXTY_DAY_PROGRAMMES",
    "Rules",
    "attribute",
    "claim_balance",
    "due_by",
    "effective_adjudications",
    "government_by",
    "net_payments",
    "reconcile_claim",
    "write_offs",
]
