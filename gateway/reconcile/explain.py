"""Why one claim holds a credit, computed by the same model reconciliation runs.

``explain`` loads the claim's facts exactly as a run does (``facts.load_facts`` over a
one-row candidate table) and returns B(c) with its terms (charges, W and N per payer, PR,
patient money, provider adjustments) and the credit rows attribution makes of it, so the case
page shows the figures that produced the credit, not a second formula that could drift.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.reconcile import sql as q
from gateway.reconcile.credit import claim_balance, reconcile_claim, write_offs
from gateway.reconcile.facts import load_facts
from gateway.reconcile.model import ZERO, ClaimBalance, ClaimFacts, CreditRow
from mappings.payers import PayerDirectory


@dataclass(frozen=True, slots=True)
class Explanation:
    facts: ClaimFacts
    balance: ClaimBalance
    #: per payer, its counted write-off W(c,p) (0 for a wrongful primary)
    write_offs: dict[str, Decimal]
    credits: list[CreditRow]


def explain(
    s: Session, provider_id: int, pcn: str, payers: PayerDirectory, as_of: dt.date
) -> Explanation:
    """The claim's figures and attribution as of ``as_of`` (a session that may create a
    temporary table; nothing is written)."""
    q.create_temp(s, "rc_cand", numbered=True)
    try:
        s.execute(text(q.EXPLAIN_CANDIDATE), {"p": provider_id, "n": pcn})
        facts = load_facts(s, "1 = 1", {}, payers).get((provider_id, pcn))
    finally:
        q.drop_temp(s, "rc_cand")
    if facts is None:
        facts = ClaimFacts(provider_id=provider_id, account_id="", patient_control_number=pcn)
    bal = claim_balance(facts)
    written = {
        payer: ZERO if payer in bal.wrongful_primaries else write_offs(a)[0]
        for payer, a in bal.effective.items()
    }
    outcome = reconcile_claim(facts, as_of=as_of, rules=payers.rule)
    return Explanation(facts, bal, written, outcome.credits)


__all__ = ["Explanation", "explain"]
