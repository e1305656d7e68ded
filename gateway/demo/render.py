"""Render the planned month as files: 837 batches (``render_837``), one 835 per payer run
(``render_835``), ledger exports (``render_ledger``); this module holds the file record they
return and what they share.

Pure apart from the byte strings they return: the caller writes them. Envelope dates, times and
control numbers come from the plan, never from the clock, so a seed gives identical bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.demo.payers import DemoPayer
from schemas.envelope import TransactionHeader

PROVIDER_ISA_ID = "DEMORMC"


@dataclass(frozen=True, slots=True)
class DemoFile:
    """One generated file: where it goes, what it is, and the day it 'arrives'."""

    path: str
    kind: str  # 837 | 835 | ledger
    day: dt.date
    data: bytes


def transaction_header(kind: str) -> TransactionHeader:
    """The ST header of a demo transaction set (ST02 0001; a resent 835 renumbers its own)."""
    return TransactionHeader(kind[:3], "0001", "", kind, "", "")


def payers_in(payers: Iterable[DemoPayer]) -> list[dict[str, object]]:
    return [
        {
            "payer_id": p.payer_id,
            "name": p.name,
            "programme": p.programme,
            "government": p.government,
            "deadline_days": p.deadline_days,
            "hold_days": p.hold_days,
        }
        for p in payers
    ]
