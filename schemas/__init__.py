"""Canonical models of the gateway.

These are plain slotted dataclasses (not pydantic models) because the parser builds hundreds of
thousands of them per second; pydantic is used only to export their JSON Schemas (see
``schemas.export``). Money is ``Decimal``, dates are ``datetime.date``.
"""

from schemas.claim import (
    Claim,
    ClaimLine,
    ClaimSubmission,
    OtherPayer,
    Subscriber,
)
from schemas.common import Address, Entity, Reference
from schemas.envelope import (
    Delimiters,
    FunctionalGroup,
    Interchange,
    TransactionHeader,
)
from schemas.remittance import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)

__all__ = [
    "Address",
    "Adjustment",
    "Claim",
    "ClaimLine",
    "ClaimPayment",
    "ClaimSubmission",
    "Delimiters",
    "Entity",
    "FunctionalGroup",
    "Interchange",
    "OtherPayer",
    "ProviderAdjustment",
    "Reference",
    "Remittance",
    "ServicePayment",
    "Subscriber",
    "TransactionHeader",
]
