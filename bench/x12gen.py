"""Shared pieces of the synthetic X12 generators: envelopes, money formatting, names.

Everything is deterministic for a given seed. Amounts are integer cents until they are written,
so totals balance exactly (no float anywhere).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

SENDER = "PAYERSENDER"
RECEIVER = "GATEWAYRECV"
DATE8 = "20240115"
DATE6 = "240115"
TIME = "1200"

LAST_NAMES = (
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
)
FIRST_NAMES = (
    "JAMES",
    "MARY",
    "ROBERT",
    "PATRICIA",
    "JOHN",
    "JENNIFER",
    "MICHAEL",
    "LINDA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "BARBARA",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
)
PROCEDURES = (
    "99213",
    "99214",
    "99203",
    "36415",
    "80053",
    "85025",
    "93000",
    "71046",
    "97110",
    "90471",
    "J1100",
    "G0008",
)
MODIFIERS = ("", "", "", "25", "59", "GT", "LT")


def money(cents: int) -> str:
    """Cents as an X12 R value: '123.45', '-7.5' never, trailing '.00' dropped ('100')."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:02d}"


def isa(control: int, functional_sender: str = SENDER, receiver: str = RECEIVER) -> str:
    """A fixed-width (106 byte) ISA with '*', '^', ':' and '~'."""
    return (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{functional_sender:<15}*ZZ*{receiver:<15}*{DATE6}*"
        f"{TIME}*^*00501*{control:09d}*0*T*:~"
    )


def split_counts(total: int, size: int) -> list[int]:
    """``total`` items in chunks of at most ``size`` (the last one may be short)."""
    out = [size] * (total // size)
    if total % size:
        out.append(total % size)
    return out or [0]


TxBuilder = Callable[[int, int, random.Random], tuple[list[str], int]]
"""(control number, claims) -> (segments ST..SE, claim count): one transaction set."""


def interchanges(
    claims: int,
    per_st: int,
    st_per_isa: int,
    functional_id: str,
    version: str,
    build: TxBuilder,
    rng: random.Random,
) -> Iterator[str]:
    """Yield the file text piece by piece: ISA/GS/(ST..SE)*/GE/IEA, counts and numbers right."""
    sets = split_counts(claims, per_st)
    st_no = 0
    for ic_no, start in enumerate(range(0, len(sets), st_per_isa), start=1):
        chunk = sets[start : start + st_per_isa]
        yield isa(ic_no)
        yield f"GS*{functional_id}*{SENDER}*{RECEIVER}*{DATE8}*{TIME}*{ic_no}*X*{version}~"
        for n_claims in chunk:
            st_no += 1
            segs, _ = build(st_no, n_claims, rng)
            yield "~".join(segs)
            yield "~"
        yield f"GE*{len(chunk)}*{ic_no}~"
        yield f"IEA*1*{ic_no:09d}~"


def write(path: Path, pieces: Iterator[str], newline: bool) -> int:
    """Write the pieces as ASCII; with ``newline`` a LF follows every terminator."""
    text = "".join(pieces)
    if newline:
        text = text.replace("~", "~\n")
    data = text.encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)
