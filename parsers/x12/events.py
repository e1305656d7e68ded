"""Markers that close envelope levels in the event stream (openers are the header models)."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.envelope import FunctionalGroup, Interchange, TransactionHeader


@dataclass(slots=True)
class TransactionEnd:
    """SE reached: the transaction's segment count as counted and as declared."""

    header: TransactionHeader
    segment_count: int
    claim_count: int


@dataclass(slots=True)
class GroupEnd:
    group: FunctionalGroup
    transaction_count: int


@dataclass(slots=True)
class InterchangeEnd:
    interchange: Interchange
    group_count: int
