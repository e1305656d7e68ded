"""What loading one file wrote: row counts per table and where the time went.

The ingest service records these on the file; the ledger load (``gateway.reconcile``) reports
its rows in the same shape, so one file report reads the same whatever the kind of file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LoadStats:
    """Row counts written for one file, and where the time went."""

    kind: str = "unknown"
    interchanges: int = 0
    groups: int = 0
    transactions: int = 0
    remittances: int = 0
    claim_payments: int = 0
    service_payments: int = 0
    adjustments: int = 0
    provider_adjustments: int = 0
    claims: int = 0
    claim_lines: int = 0
    other_payers: int = 0
    provider_id: int | None = None
    load_seconds: float = 0.0
    parse_seconds: float = 0.0
    kinds: set[str] = field(default_factory=set)
    #: claim payments and PLB pairs already loaded from another transaction (not counted)
    resent: int = 0

    @property
    def claim_count(self) -> int:
        return self.claim_payments + self.claims

    def counts(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in (
                "interchanges",
                "groups",
                "transactions",
                "remittances",
                "claim_payments",
                "service_payments",
                "adjustments",
                "provider_adjustments",
                "claims",
                "claim_lines",
                "other_payers",
            )
        }


__all__ = ["LoadStats"]
