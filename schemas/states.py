"""The lifecycle states of the gateway's records, as ``StrEnum`` so a member *is* its stored
string: rows written before these enums existed read back unchanged and JSON prints the same
value. They live at the bottom of the stack so the read models (``gateway.read``), the tables
and the workflows share one vocabulary. docs/states.md draws the machines.
"""

from __future__ import annotations

import enum


class FileState(enum.StrEnum):
    """Lifecycle of an inbound file; ``failed`` means quarantined until replayed."""

    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


class CreditStatus(enum.StrEnum):
    """A credit balance as reconciliation sees it: ``pending`` while a late posting may still
    explain it, ``open`` once it is owed, ``resolved`` once the money went back."""

    PENDING = "pending"
    OPEN = "open"
    RESOLVED = "resolved"


class CaseState(enum.StrEnum):
    """A credit's resolution case (``gateway.resolve.workflow.TRANSITIONS`` is the contract)."""

    OPEN = "open"
    APPROVED = "approved"
    REFUND_SENT = "refund_sent"
    OFFSET_REQUESTED = "offset_requested"
    PATIENT_REFUND_ISSUED = "patient_refund_issued"
    RESOLVED = "resolved"
    DISPUTED = "disputed"
    ESCHEAT_PENDING = "escheat_pending"


class BatchState(enum.StrEnum):
    """A resolution batch: issued once, cancelled (never deleted) to take it back."""

    ISSUED = "issued"
    CANCELLED = "cancelled"


class BatchDelivery(enum.StrEnum):
    """A batch's delivery, read from the outbound queue rows of its files."""

    NOT_QUEUED = "not_queued"
    QUEUED = "queued"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboundState(enum.StrEnum):
    """A file's transfer to a partner (the outbound queue): retried until delivered or failed."""

    QUEUED = "queued"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    FAILED = "failed"


#: the warning a Medicare credit carries until its payer is verified as a Medicare contractor
UNVERIFIED_MEDICARE_PAYER = "unverified_medicare_payer"

#: what an analyst may decide about an open line variance
LINE_DECISIONS = ("missed", "transfer", "billed_in_error")


__all__ = [
    "LINE_DECISIONS",
    "UNVERIFIED_MEDICARE_PAYER",
    "BatchDelivery",
    "BatchState",
    "CaseState",
    "CreditStatus",
    "FileState",
    "OutboundState",
]
