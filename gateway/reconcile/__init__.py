"""Reconciliation: match remittances to claims and posted charges, find credit balances.

The pure accounting rules are in ``credit`` (see its docstring; ``docs/accounting.md`` has
worked examples); ``model`` holds their inputs and outputs. ``service.run_reconcile`` runs them
over the database with set-based SQL; ``queries`` is the read side (credits, variances,
exceptions) and ``refunds`` validates payers' refund requests. These are the Python API the
CLI and the HTTP layer share.

The names below load on first use (PEP 562): importing ``gateway.reconcile.queries`` for a
read-only command then does not import the engine (``service``: structlog, payer YAML).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: where each re-exported name lives
_HOME = {
    **dict.fromkeys(
        ("attribute", "claim_balance", "due_by", "effective_adjudications"),
        "gateway.reconcile.credit",
    ),
    **dict.fromkeys(
        ("CAUSES", "Adjudication", "ClaimFacts", "CreditRow"), "gateway.reconcile.model"
    ),
    **dict.fromkeys(
        (
            "CreditView",
            "ExceptionView",
            "VarianceView",
            "list_credits",
            "list_exceptions",
            "list_variances",
            "record_investigation",
        ),
        "gateway.reconcile.queries",
    ),
    **dict.fromkeys(("RunSummary", "latest_run", "run_reconcile"), "gateway.reconcile.service"),
    "PayerRule": "schemas.payer",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:  # not ours: lets ``from gateway.reconcile import sql`` find the submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
