"""What a payer profile tells the accounting model (a canonical record shared by mappings/)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PayerRule:
    """What a payer profile says about government status and deadlines."""

    programme: str = ""  # medicare_a, medicare_b, medicaid, medicare_advantage, tricare, ...
    government: bool | None = None
    deadline_days: int | None = None
    hold_days: int = 30
    ledger_lag_days: int = 30
    #: days a good-faith investigation may suspend the deadline: Medicare Parts A and B have
    #: 180 by 42 CFR 401.305; any other programme only what its profile says (None: none)
    investigation_days: int | None = None
