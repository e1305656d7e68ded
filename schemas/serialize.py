"""JSON-ready views of the canonical models: money as 2-decimal strings, dates ISO."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: Decimal fields that hold money (printed with exactly two decimals); others (units,
#: quantities, DRG weights) keep their own precision.
MONEY_FIELDS = frozenset(
    {
        "amount",
        "charge",
        "paid",
        "patient_responsibility",
        "payment_amount",
        "allowed",
        "total_charge",
        "non_covered",
    }
)
_CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    """A Decimal amount as a string with exactly two decimals (half-up)."""
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def to_jsonable(obj: Any, key: str = "") -> Any:
    """Dataclasses, Decimals, dates and times to plain JSON types (ISO 8601 strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Decimal):
        return money(obj) if key in MONEY_FIELDS else str(obj)
    if isinstance(obj, dt.date | dt.time):
        return obj.isoformat()
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, key) for v in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v, k if key != "amounts" else "amount") for k, v in obj.items()}
    return obj
