"""Structure-aware mutators for X12 and ledger CSV inputs, shared by the fuzz test and campaign.

Byte-level fuzzers rarely get past the fixed 106-character ISA or a CSV header, so these
mutators work on segments/elements (X12) and lines/fields (CSV) of real seed files, and feed in
the values that break parsers: huge and tiny numbers, impossible dates, delimiters inside
elements, NUL and non-UTF-8 bytes, encodings, truncation and repetition. Every function is pure
and driven by a ``random.Random`` so a crasher reproduces from its seed.
"""

from __future__ import annotations

import codecs
import random
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
X12_SEED_DIRS = (
    ROOT / "tests" / "fixtures" / "x12",
    ROOT / "tests" / "fixtures" / "corpus" / "x12",
)
LEDGER_SEED_DIRS = (ROOT / "tests" / "fixtures" / "ledger",)

#: element values that have broken parsers before: numbers, dates, encodings, delimiters
INTERESTING: tuple[bytes, ...] = (
    b"",
    b" ",
    b"0",
    b"-0",
    b"-1",
    b"1E999999999",
    b"1e30",
    b"-1e-30",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"sNaN",
    b"99999999999999999999999999999999.99",
    b"0.001",
    b"1,000.00",
    b"(12.00)",
    b"$5",
    b".",
    b"-",
    b"+",
    b"00000000",
    b"20240230",
    b"99991399",
    b"2024-02-30",
    b"0000-00-00",
    b"20240101-20231231",
    b"RD8",
    b"D8",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xe2\x88\x95",
    b"\xef\xbc\x8e",
    b"~",
    b"*",
    b":",
    b"^",
    b"|",
    b"\r\n",
    b"\n",
    b'"',
    b'""',
    b"'",
    b"\\",
    b"%s%n",
    b"A" * 300,
    b"9" * 40,
    b"ISA",
    b"IEA",
    b"GS",
    b"GE",
    b"ST",
    b"SE",
    b"CLP",
    b"CAS",
    b"SVC",
    b"PLB",
    b"HL",
    b"CLM",
    b"NM1",
    b"LX",
    b"BPR",
)

X12_TAGS = (
    b"ISA",
    b"GS",
    b"ST",
    b"BPR",
    b"TRN",
    b"N1",
    b"CLP",
    b"CAS",
    b"NM1",
    b"SVC",
    b"DTM",
    b"PLB",
    b"SE",
    b"GE",
    b"IEA",
    b"HL",
    b"CLM",
    b"SV1",
    b"SV2",
    b"LX",
    b"SBR",
    b"REF",
    b"AMT",
    b"LQ",
    b"BHT",
    b"N3",
    b"N4",
    b"PER",
    b"DTP",
    b"HI",
    b"PRV",
)


def load_seeds(dirs: Sequence[Path], max_len: int | None = None) -> list[bytes]:
    """Every regular file under ``dirs`` (sorted, so a seed index is stable), optionally capped."""
    out: list[bytes] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file() and p.suffix.lower() not in {".md", ".py", ".json"}:
                data = p.read_bytes()
                if data and (max_len is None or len(data) <= max_len):
                    out.append(data)
    return out


def _delims(data: bytes) -> tuple[bytes, bytes]:
    """(element separator, segment terminator) from the ISA when there is one."""
    i = data.find(b"ISA")
    if i >= 0 and len(data) >= i + 106:
        return data[i + 3 : i + 4], data[i + 105 : i + 106]
    return b"*", b"~"


def _value(rng: random.Random) -> bytes:
    if rng.random() < 0.8:
        return rng.choice(INTERESTING)
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))


def mutate_x12(
    data: bytes, rng: random.Random, pool: Sequence[bytes] = (), max_len: int = 1 << 20
) -> bytes:
    """One to four structural mutations of an X12 file (segments and elements)."""
    sep, term = _delims(data)
    segs = data.split(term)
    for _ in range(rng.randrange(1, 5)):
        if not segs:
            segs = [b""]
        op = rng.randrange(13)
        i = rng.randrange(len(segs))
        if op == 0 and len(segs) > 1:
            del segs[i]
        elif op == 1:
            segs.insert(i, segs[rng.randrange(len(segs))])
        elif op == 2:
            j = rng.randrange(len(segs))
            segs[i], segs[j] = segs[j], segs[i]
        elif op in (3, 4, 5):
            els = segs[i].split(sep)
            k = rng.randrange(len(els))
            els[k] = _value(rng)
            segs[i] = sep.join(els)
        elif op == 6:
            els = segs[i].split(sep)
            if rng.random() < 0.5 and len(els) > 1:
                del els[rng.randrange(len(els))]
            else:
                els.insert(rng.randrange(len(els) + 1), _value(rng))
            segs[i] = sep.join(els)
        elif op == 7:
            segs[i] = (
                rng.choice(X12_TAGS) + segs[i][segs[i].find(sep) :]
                if sep in segs[i]
                else rng.choice(X12_TAGS)
            )
        elif op == 8 and pool:
            other = rng.choice(pool)
            osep, oterm = _delims(other)
            oseg = other.split(oterm)
            segs.insert(i, rng.choice(oseg).replace(osep, sep))
        elif op == 9:
            segs[i : i + 1] = [segs[i]] * rng.randrange(2, 40)
        elif op == 10:
            joined = term.join(segs)
            cut = rng.randrange(len(joined) + 1)
            segs = joined[:cut].split(term)
        elif op == 11:
            flipped = bytearray(term.join(segs))
            if flipped:
                for _ in range(rng.randrange(1, 4)):
                    flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            segs = bytes(flipped).split(term)
        else:
            segs[i] = segs[i] + sep + _value(rng) * rng.randrange(1, 50)
    out = term.join(segs)
    r = rng.random()
    if r < 0.02:
        out = codecs.BOM_UTF16_LE + out.decode("latin-1").encode("utf-16-le")
    elif r < 0.04:
        out = codecs.BOM_UTF8 + out
    elif r < 0.06:
        out = out.replace(b"\n", b"\r\n")
    return out[:max_len]


def mutate_csv(
    data: bytes, rng: random.Random, pool: Sequence[bytes] = (), max_len: int = 1 << 20
) -> bytes:
    """One to four mutations of a ledger CSV (lines, fields, quoting, delimiters)."""
    delim = b"|" if data.count(b"|") > data.count(b",") else b","
    lines = data.split(b"\n")
    for _ in range(rng.randrange(1, 5)):
        if not lines:
            lines = [b""]
        op = rng.randrange(10)
        i = rng.randrange(len(lines))
        if op == 0 and len(lines) > 1:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op in (2, 3, 4):
            fields = lines[i].split(delim)
            fields[rng.randrange(len(fields))] = _value(rng)
            lines[i] = delim.join(fields)
        elif op == 5:
            fields = lines[i].split(delim)
            if rng.random() < 0.5 and len(fields) > 1:
                del fields[rng.randrange(len(fields))]
            else:
                fields.insert(rng.randrange(len(fields) + 1), _value(rng))
            lines[i] = delim.join(fields)
        elif op == 6 and pool:
            lines.insert(i, rng.choice(rng.choice(pool).split(b"\n")))
        elif op == 7:
            lines[i] = lines[i].replace(delim, rng.choice((b",", b"|", b";", b"\t", b'"')))
        elif op == 8:
            flipped = bytearray(b"\n".join(lines))
            if flipped:
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            lines = bytes(flipped).split(b"\n")
        else:
            joined = b"\n".join(lines)
            lines = joined[: rng.randrange(len(joined) + 1)].split(b"\n")
    out = b"\n".join(lines)
    if rng.random() < 0.03:
        out = out.replace(b"\n", b"\r\n")
    return out[:max_len]


Mutator = Callable[[bytes, random.Random, Sequence[bytes], int], bytes]
