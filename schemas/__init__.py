"""Canonical models of the gateway.

These are plain slotted dataclasses (not pydantic models) because the parser builds hundreds of
thousands of them per second; pydantic is used only to export their JSON Schemas (see
``schemas.export``). Money is ``Decimal``, dates are ``datetime.date``.

The names below load on first use (PEP 562): a module that needs only ``schemas.states`` or
``schemas.errors`` (every read-only command) does not declare the parsed-document models.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: where each re-exported name lives
_HOME = {
    **dict.fromkeys(
        ("Claim", "ClaimLine", "ClaimSubmission", "OtherPayer", "Subscriber"), "schemas.claim"
    ),
    **dict.fromkeys(("Address", "Entity", "Reference"), "schemas.common"),
    **dict.fromkeys(
        ("Delimiters", "FunctionalGroup", "Interchange", "TransactionHeader"), "schemas.envelope"
    ),
    **dict.fromkeys(
        ("Adjustment", "ClaimPayment", "ProviderAdjustment", "Remittance", "ServicePayment"),
        "schemas.remittance",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:  # not ours: lets ``schemas.states`` and the other submodules resolve
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
