"""Synthesise a large, valid 005010X222A1 837P for benchmarks (deterministic per seed).

One billing provider HL per transaction, a subscriber HL per patient (a dependent patient HL 23
under it for about a fifth), one or two claims per HL with 1–4 SV1 lines; CLM02 equals the sum
of the line charges; about a tenth carry an other-payer (2320) loop with CAS and AMT*D.

    .venv/bin/python bench/make_big_837.py --claims 100000 -o bench/out/big-100000.837
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from x12gen import (
    DATE8,
    FIRST_NAMES,
    LAST_NAMES,
    MODIFIERS,
    PROCEDURES,
    TIME,
    interchanges,
    money,
    write,
)

_DATES = [f"202401{d:02d}" for d in range(1, 29)] + [f"202312{d:02d}" for d in range(1, 32)]
_DX = ("J069", "R05", "E119", "I10", "M545", "Z0000", "K219", "F419", "N390", "R509")
_GUIDE = "005010X222A1"


def _person(rng: random.Random) -> tuple[str, str, str]:
    dob = f"19{rng.randint(40, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES), dob


def _claim(out: list[str], rng: random.Random, pcn: str) -> None:
    lines: list[tuple[str, int, int, str]] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        proc = rng.choice(PROCEDURES)
        mod = rng.choice(MODIFIERS)
        lines.append(
            (
                proc + (":" + mod if mod else ""),
                rng.randint(25, 900) * 100 + rng.choice((0, 50, 25)),
                rng.choice((1, 1, 2)),
                rng.choice(_DATES),
            )
        )
    total = sum(ln[1] for ln in lines)
    out.append(f"CLM*{pcn}*{money(total)}***11:B:1*Y*A*Y*Y")
    if rng.random() < 0.2:
        out.append(f"REF*G1*AUTH{rng.randint(10**5, 10**6 - 1)}")
    dx = rng.sample(_DX, rng.randint(1, 4))
    out.append("HI*ABK:" + dx[0] + "".join(f"*ABF:{d}" for d in dx[1:]))
    if rng.random() < 0.3:
        out.append(f"NM1*82*1*{rng.choice(LAST_NAMES)}*{rng.choice(FIRST_NAMES)}****XX*1987654321")
        out.append("PRV*PE*PXC*207Q00000X")
    if rng.random() < 0.1:
        prior_paid = total * rng.randint(30, 80) // 100
        out.append("SBR*S*18*GRP7788******CI")
        out.append(f"CAS*CO*45*{money(total - prior_paid)}")
        out.append(f"AMT*D*{money(prior_paid)}")
        out.append("OI***Y***Y")
        out.append(f"NM1*IL*1*{rng.choice(LAST_NAMES)}*{rng.choice(FIRST_NAMES)}****MI*OTH1234")
        out.append("NM1*PR*2*OTHER HEALTH PLAN*****PI*88888")
    for i, (proc, charge, units, day) in enumerate(lines, start=1):
        out.append(f"LX*{i}")
        out.append(f"SV1*HC:{proc}*{money(charge)}*UN*{units}***1")
        out.append(f"DTP*472*D8*{day}")
        out.append(f"REF*6R*{pcn}-{i}")


def build_837(st_no: int, n_claims: int, rng: random.Random) -> tuple[list[str], int]:
    """One 837P transaction set with ``n_claims`` CLM loops."""
    segs = [
        f"ST*837*{st_no:04d}*{_GUIDE}",
        f"BHT*0019*00*BATCH{st_no:06d}*{DATE8}*{TIME}*CH",
        "NM1*41*2*SYNTHETIC CLINIC*****46*TGJ23",
        "PER*IC*EDI DEPT*TE*8005551212",
        "NM1*40*2*GATEWAY CLEARINGHOUSE*****46*66783JJT",
        "HL*1**20*1",
        "PRV*BI*PXC*207Q00000X",
        "NM1*85*2*SYNTHETIC CLINIC*****XX*1234567893",
        "N3*100 MAIN ST",
        "N4*DAYTON*OH*45402",
        "REF*EI*311234567",
    ]
    hl = 1
    written = 0
    while written < n_claims:
        hl += 1
        sub_hl = hl
        dependent = rng.random() < 0.2
        last, first, dob = _person(rng)
        segs.append(f"HL*{sub_hl}*1*22*{1 if dependent else 0}")
        segs.append(f"SBR*P*{'' if dependent else '18'}*GRP{rng.randint(1000, 9999)}******CI")
        segs.append(f"NM1*IL*1*{last}*{first}****MI*MBR{rng.randint(10**8, 10**9 - 1)}")
        segs.append("N3*12 ELM ST")
        segs.append("N4*DAYTON*OH*45403")
        segs.append(f"DMG*D8*{dob}*{rng.choice('FM')}")
        segs.append("NM1*PR*2*SYNTHETIC HEALTH PLAN*****PI*99999")
        if dependent:
            hl += 1
            plast, pfirst, pdob = _person(rng)
            segs.append(f"HL*{hl}*{sub_hl}*23*0")
            segs.append("PAT*19")
            segs.append(f"NM1*QC*1*{plast}*{pfirst}")
            segs.append("N3*12 ELM ST")
            segs.append("N4*DAYTON*OH*45403")
            segs.append(f"DMG*D8*{pdob}*{rng.choice('FM')}")
        for _ in range(min(rng.choice((1, 1, 1, 2)), n_claims - written)):
            _claim(segs, rng, f"PCN{st_no:03d}{written:07d}")
            written += 1
    segs.append(f"SE*{len(segs) + 1}*{st_no:04d}")
    return segs, n_claims


def generate(
    path: Path,
    claims: int,
    per_st: int = 5_000,
    st_per_isa: int = 3,
    seed: int = 837,
    newline: bool = False,
) -> int:
    """Write the file; returns its size in bytes."""
    rng = random.Random(seed)
    return write(
        path, interchanges(claims, per_st, st_per_isa, "HC", _GUIDE, build_837, rng), newline
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=20_000)
    ap.add_argument("--per-st", type=int, default=5_000, help="claims per ST..SE")
    ap.add_argument("--st-per-isa", type=int, default=3, help="transaction sets per interchange")
    ap.add_argument("--seed", type=int, default=837)
    ap.add_argument("--newline", action="store_true", help="LF after every segment terminator")
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    out = args.output or Path(__file__).parent / "out" / f"big-{args.claims}.837"
    t0 = time.perf_counter()
    size = generate(out, args.claims, args.per_st, args.st_per_isa, args.seed, args.newline)
    print(f"{out}: {args.claims} claims, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
