"""Synthesise a large, valid, balanced 005010X221A1 835 for benchmarks (deterministic per seed).

Every claim balances (CLP03 − Σ claim CAS − Σ line CAS = CLP04; SVC02 − Σ line CAS = SVC03),
CLP05 is the sum of the PR adjustments, BPR02 = Σ CLP04 − Σ PLB in every transaction, and the
envelope counts and control numbers are right. About 3 % of claims come as a reversal
(CLP02 = 22, every amount negated) followed by its correction.

    .venv/bin/python bench/make_big_835.py --claims 100000 -o bench/out/big-100000.835
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
    interchanges,
    money,
    write,
)

_DATES = [f"202401{d:02d}" for d in range(1, 29)] + [f"202312{d:02d}" for d in range(1, 32)]
_REMARKS = ("N130", "M15", "N381", "MA130", "N4")


class _Line:
    """One service line in cents: charge, paid and its (group, reason, amount, qty) CAS rows."""

    __slots__ = ("allowed", "cas", "charge", "date", "paid", "proc", "remark", "units")

    def __init__(self, rng: random.Random) -> None:
        self.charge = rng.randint(25, 900) * 100 + rng.choice((0, 0, 50, 25, 99))
        self.units = rng.choice((1, 1, 1, 2, 3))
        self.proc = rng.choice(PROCEDURES)
        mod = rng.choice(MODIFIERS)
        if mod:
            self.proc += ":" + mod
        self.date = rng.choice(_DATES)
        self.remark = rng.choice(_REMARKS) if rng.random() < 0.25 else ""
        cas: list[tuple[str, str, int, str]] = []
        if rng.random() < 0.06:  # denied line
            cas.append(("CO", "97", self.charge, ""))
            self.allowed = 0
            self.paid = 0
        else:
            self.allowed = self.charge * rng.randint(40, 95) // 100
            co = self.charge - self.allowed
            if co:
                if rng.random() < 0.2 and co > 200:
                    seq = co // 50
                    cas.append(("CO", "45", co - seq, ""))
                    cas.append(("CO", "253", seq, ""))
                else:
                    cas.append(("CO", "45", co, ""))
            room = self.allowed
            for reason, share in (("1", 0.3), ("2", 0.2), ("3", 0.1)):
                if rng.random() < share and room > 1000:
                    amt = rng.randint(500, room // 2)
                    cas.append(("PR", reason, amt, "1" if reason == "3" else ""))
                    room -= amt
            if rng.random() < 0.08 and room > 1000:
                amt = rng.randint(100, room // 3)
                cas.append(("OA", "23", amt, ""))
                room -= amt
            self.paid = room
        self.cas = cas

    def segments(self, out: list[str], sign: int, ctrl: str) -> None:
        out.append(
            f"SVC*HC:{self.proc}*{money(sign * self.charge)}*{money(sign * self.paid)}"
            f"**{self.units}"
        )
        out.append(f"DTM*472*{self.date}")
        _cas(out, self.cas, sign)
        out.append(f"REF*6R*{ctrl}")
        if self.allowed:
            out.append(f"AMT*B6*{money(sign * self.allowed)}")
        if self.remark:
            out.append(f"LQ*HE*{self.remark}")


def _cas(out: list[str], rows: list[tuple[str, str, int, str]], sign: int) -> None:
    """CAS segments, one per group, up to six triplets each (in order of appearance)."""
    groups: dict[str, list[str]] = {}
    for group, reason, amount, qty in rows:
        groups.setdefault(group, []).append(f"{reason}*{money(sign * amount)}*{qty}")
    for group, triplets in groups.items():
        for i in range(0, len(triplets), 6):
            out.append(f"CAS*{group}*" + "*".join(triplets[i : i + 6]).rstrip("*"))


class _Claim:
    """A claim: lines, optional claim-level CAS, its patient; renders with a sign (reversals)."""

    def __init__(self, rng: random.Random, number: int) -> None:
        self.pcn = f"PCN{number:08d}"
        self.lines = [_Line(rng) for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
        self.cas: list[tuple[str, str, int, str]] = []
        line_paid = sum(ln.paid for ln in self.lines)
        if rng.random() < 0.15 and line_paid > 2000:
            amt = rng.randint(100, line_paid // 4)
            self.cas.append((rng.choice(("OA", "CO")), rng.choice(("23", "45", "94")), amt, ""))
        self.charge = sum(ln.charge for ln in self.lines)
        self.paid = line_paid - sum(c[2] for c in self.cas)
        self.pr = sum(c[2] for ln in self.lines for c in ln.cas if c[0] == "PR")
        self.status = "4" if self.paid == 0 else rng.choice(("1", "1", "1", "1", "2", "19"))
        self.last = rng.choice(LAST_NAMES)
        self.first = rng.choice(FIRST_NAMES)
        self.member = f"MBR{rng.randint(10**8, 10**9 - 1)}"
        self.insured = rng.random() < 0.3
        self.mrn = f"MRN{rng.randint(10**6, 10**7 - 1)}" if rng.random() < 0.5 else ""
        self.stmt = rng.choice(_DATES)

    def segments(self, out: list[str], status: str, sign: int, ccn: str) -> int:
        """Append the CLP loop; returns CLP04 in cents."""
        paid = sign * self.paid
        out.append(
            f"CLP*{self.pcn}*{status}*{money(sign * self.charge)}*{money(paid)}*"
            f"{money(sign * self.pr)}*12*{ccn}*11*1"
        )
        _cas(out, self.cas, sign)
        out.append(f"NM1*QC*1*{self.last}*{self.first}****MI*{self.member}")
        if self.insured:
            out.append(f"NM1*IL*1*{self.last}*{FIRST_NAMES[0]}****MI*{self.member}01")
        if self.mrn:
            out.append(f"REF*EA*{self.mrn}")
        out.append(f"DTM*232*{self.stmt}")
        out.append(f"DTM*233*{self.stmt}")
        for i, ln in enumerate(self.lines, start=1):
            ln.segments(out, sign, f"{self.pcn}-{i}")
        return paid


def build_835(st_no: int, n_claims: int, rng: random.Random) -> tuple[list[str], int]:
    """One 835 transaction set with ``n_claims`` CLP loops (reversal + correction count two)."""
    body: list[str] = ["LX*1"]
    total_paid = 0
    written = 0
    while written < n_claims:
        if written and written % 500 == 0:
            body.append(f"LX*{written // 500 + 1}")
        number = st_no * 1_000_000 + written
        claim = _Claim(rng, number)
        ccn = f"{st_no:03d}{written:07d}"
        if n_claims - written >= 2 and rng.random() < 0.03:
            total_paid += claim.segments(body, "22", -1, ccn)
            corrected = _Claim(rng, number)  # same patient control number
            total_paid += corrected.segments(body, "1", 1, ccn + "C")
            written += 2
        else:
            total_paid += claim.segments(body, claim.status, 1, ccn)
            written += 1
    pairs: list[tuple[str, int]] = []
    for reason, lo, hi in (
        ("WO", 1000, 50000),
        ("72", -30000, -1000),
        ("L6", -5000, -100),
        ("FB", 1000, 20000),
    ):
        ref = f"{'PCN' if reason == 'WO' else 'REF'}{rng.randint(1, 99999):05d}"
        pairs.append((f"{reason}:{ref}", rng.randint(lo, hi)))
    if rng.random() < 0.5:  # a second FB, the other half of a carried balance
        pairs.append((f"FB:REF{rng.randint(1, 99999):05d}", -rng.randint(1000, 20000)))
    if total_paid - sum(a for _, a in pairs) <= 0:  # keep BPR02 positive: drop the recovery
        pairs[0] = (pairs[0][0], 0)
    plb_total = sum(a for _, a in pairs)
    rendered = [f"{code}*{money(amt)}" for code, amt in pairs]
    body.append("PLB*1234567893*20241231*" + "*".join(rendered))  # at most 6 pairs fit one
    payment = total_paid - plb_total
    head = [
        f"ST*835*{st_no:04d}",
        f"BPR*I*{money(payment)}*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*"
        f"987654321*{DATE8}",
        f"TRN*1*TRACE{st_no:06d}*1512345678",
        "REF*EV*GATEWAYRECV",
        f"DTM*405*{DATE8}",
        "N1*PR*SYNTHETIC HEALTH PLAN",
        "N3*1 PAYER WAY",
        "N4*COLUMBUS*OH*43215",
        "REF*2U*99999",
        "PER*BL*EDI SUPPORT*TE*8005551212",
        "N1*PE*SYNTHETIC CLINIC*XX*1234567893",
        "N3*100 MAIN ST",
        "N4*DAYTON*OH*45402",
        "REF*TJ*311234567",
    ]
    segs = head + body
    segs.append(f"SE*{len(segs) + 1}*{st_no:04d}")
    return segs, n_claims


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=20_000)
    ap.add_argument("--per-st", type=int, default=5_000, help="claims per ST..SE")
    ap.add_argument("--st-per-isa", type=int, default=3, help="transaction sets per interchange")
    ap.add_argument("--seed", type=int, default=835)
    ap.add_argument("--newline", action="store_true", help="LF after every segment terminator")
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)
    out = args.output or Path(__file__).parent / "out" / f"big-{args.claims}.835"
    t0 = time.perf_counter()
    size = generate(out, args.claims, args.per_st, args.st_per_isa, args.seed, args.newline)
    print(f"{out}: {args.claims} claims, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")


def generate(
    path: Path,
    claims: int,
    per_st: int = 5_000,
    st_per_isa: int = 3,
    seed: int = 835,
    newline: bool = False,
) -> int:
    """Write the file; returns its size in bytes."""
    rng = random.Random(seed)
    return write(
        path,
        interchanges(claims, per_st, st_per_isa, "HP", "005010X221A1", build_835, rng),
        newline,
    )


if __name__ == "__main__":
    main()
