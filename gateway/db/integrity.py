"""Orphan checks for the relations that carry no foreign-key constraint.

The per-claim bulk rows reference their parents by id without constraints (see
``gateway.db.models``); this finds any row whose parent is missing, one set-wise query per
relation, so ops (``gateway db check``) and the tests can prove the loader kept the tree whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, exists, func, select
from sqlalchemy.orm import Session

from gateway.db.claim_rows import ClaimLineRow, ClaimRow, OtherPayerPaymentRow
from gateway.db.models import InboundFile, Provider, TransactionRow
from gateway.db.remittance_rows import (
    AdjustmentRow,
    ClaimPaymentRow,
    RemittanceRow,
    ServicePaymentRow,
)
from gateway.db.types import tbl

#: (child model, column, parent model) of every unconstrained reference
RELATIONS: tuple[tuple[type, str, type], ...] = (
    (ClaimPaymentRow, "file_id", InboundFile),
    (ClaimPaymentRow, "remittance_id", RemittanceRow),
    (ClaimPaymentRow, "provider_id", Provider),
    (ServicePaymentRow, "file_id", InboundFile),
    (ServicePaymentRow, "claim_payment_id", ClaimPaymentRow),
    (AdjustmentRow, "file_id", InboundFile),
    (AdjustmentRow, "claim_payment_id", ClaimPaymentRow),
    (AdjustmentRow, "service_payment_id", ServicePaymentRow),
    (ClaimRow, "file_id", InboundFile),
    (ClaimRow, "transaction_id", TransactionRow),
    (ClaimRow, "provider_id", Provider),
    (ClaimLineRow, "file_id", InboundFile),
    (ClaimLineRow, "claim_id", ClaimRow),
    (OtherPayerPaymentRow, "file_id", InboundFile),
    (OtherPayerPaymentRow, "claim_id", ClaimRow),
)


@dataclass(frozen=True, slots=True)
class Orphans:
    table: str
    column: str
    parent: str
    count: int

    def __str__(self) -> str:
        return (
            f"{self.count} row(s) of {self.table} point at a missing {self.parent} "
            f"through {self.column}"
        )


def find_orphans(session: Session) -> list[Orphans]:
    """Every relation with rows whose parent is missing (empty when the data is whole)."""
    found = []
    for child_model, column, parent_model in RELATIONS:
        child: Table = tbl(child_model)
        parent: Table = tbl(parent_model)
        ref = child.c[column]
        count = session.execute(
            select(func.count())
            .select_from(child)
            .where(ref.is_not(None), ~exists().where(parent.c.id == ref))
        ).scalar_one()
        if count:
            found.append(Orphans(child.name, column, parent.name, int(count)))
    return found


__all__ = ["RELATIONS", "Orphans", "find_orphans"]
