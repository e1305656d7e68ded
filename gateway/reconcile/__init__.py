"""Reconciliation: match remittances to claims and posted charges, find credit balances.

The pure accounting rules are in ``credit`` (see its docstring); ``model`` holds their inputs
and outputs.
"""

from gateway.reconcile.credit import attribute, claim_balance, due_by, effective_adjudications
from gateway.reconcile.model import CAUSES, Adjudication, ClaimFacts, CreditRow, PayerRule

__all__ = [
    "CAUSES",
    "Adjudication",
    "ClaimFacts",
    "CreditRow",
    "PayerRule",
    "attribute",
    "claim_balance",
    "due_by",
    "effective_adjudications",
]
