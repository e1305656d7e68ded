"""Reconciliation: match remittances to claims and posted charges, find credit balances.

The pure accounting rules are in ``credit`` (see its docstring; ``docs/accounting.md`` has
worked examples); ``model`` holds their inputs and outputs. ``service.run_reconcile`` runs them
over the database with set-based SQL; ``queries`` is the read side (credits, variances,
exceptions) and ``refunds`` validates payers' refund requests. These are the Python API the
CLI and the HTTP layer share.
"""

from gateway.reconcile.credit import attribute, claim_balance, due_by, effective_adjudications
from gateway.reconcile.model import CAUSES, Adjudication, ClaimFacts, CreditRow
from gateway.reconcile.queries import (
    CreditView,
    ExceptionView,
    VarianceView,
    list_credits,
    list_exceptions,
    list_variances,
    record_investigation,
)
from gateway.reconcile.service import RunSummary, latest_run, run_reconcile
from schemas.payer import PayerRule

__all__ = [
    "CAUSES",
    "Adjudication",
    "ClaimFacts",
    "CreditRow",
    "CreditView",
    "ExceptionView",
    "PayerRule",
    "RunSummary",
    "VarianceView",
    "attribute",
    "claim_balance",
    "due_by",
    "effective_adjudications",
    "latest_run",
    "list_credits",
    "list_exceptions",
    "list_variances",
    "record_investigation",
    "run_reconcile",
]
