"""Field types of the read models: how money and timestamps are written in JSON."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, PlainSerializer

from schemas.serialize import money


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


#: money: a Decimal in Python, exactly two decimals (half-up) as a JSON string
Money = Annotated[Decimal, PlainSerializer(money, return_type=str, when_used="json")]
#: a timestamp written as ``datetime.isoformat()`` (``+00:00``, not pydantic's ``Z``)
Timestamp = Annotated[dt.datetime, PlainSerializer(_iso, return_type=str, when_used="json")]
#: read models are values: frozen, and an unknown field is a programming error
READ = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True)

__all__ = ["READ", "Money", "Timestamp"]
