"""Ingest memory does not grow with the file: a regression to whole-file reads fails here.

Two files with the same number of claims are ingested, each by its own ``gateway ingest``
subprocess. Every segment terminator is followed by a line of indentation, which the lexer
strips, so the files cost the database the same work but differ in size: about 20 MB and
70 MB, both larger than the lexer's window. A worker that reads the stored file whole (or a
lexer that needs the whole buffer) peaks about 50 MB higher on the larger one; a streaming
one peaks the same on both (its window is full in both). The child
reports its own peak RSS as it exits: ``VmHWM``, the high-water mark of its own address space.
(``ru_maxrss`` does not do here: Linux carries it over ``exec`` from the address space the
child was forked from, which is the test process's, and ``RUSAGE_CHILDREN`` also counts every
other child the test session has run.)

Not timed: the bound is on memory only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from gateway.db.models import InboundFile
from gateway.db.remittance_rows import ClaimPaymentRow
from schemas.states import FileState
from tests.integration.helpers import ROOT, Gateway
from tests.integration.x12gen import make_835

CLAIMS = 3_000
#: bytes of indentation after each segment terminator (inflate the files to about 20 / 70 MB)
PAD_SMALL, PAD_BIG = 400, 1_500
#: the larger file may cost at most this share of the size difference in extra peak memory
GROWTH_SHARE = 0.25

CHILD = """
import sys
from gateway.cli import main
try:
    main()
finally:
    with open("/proc/self/status") as status:
        sys.stderr.write("\\n" + next(x for x in status if x.startswith("VmHWM:")))
"""


def _ingest(gw: Gateway, path: Path) -> int:
    """Peak RSS in bytes of ``gateway ingest PATH`` (VmHWM is in KiB)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "ingest", str(path)],
        env=gw.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in reversed(proc.stderr.splitlines()) if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def test_ingest_peak_memory_does_not_follow_file_size(gw: Gateway, tmp_path: Path) -> None:
    small, big = tmp_path / "small.835", tmp_path / "big.835"
    small.write_bytes(make_835(1, claims=CLAIMS, seed=1).replace(b"~\n", b"~\n" + b" " * PAD_SMALL))
    big.write_bytes(make_835(2, claims=CLAIMS, seed=2).replace(b"~\n", b"~\n" + b" " * PAD_BIG))
    size = big.stat().st_size - small.stat().st_size
    assert size > 40_000_000

    base = _ingest(gw, small)
    peak = _ingest(gw, big)

    with gw.db.read() as s:
        states = s.execute(select(InboundFile.state)).scalars().all()
        claims = s.execute(select(func.count()).select_from(ClaimPaymentRow)).scalar_one()
    assert states == [FileState.PROCESSED.value] * 2
    assert claims == 2 * CLAIMS
    # whole-file reads cost at least the size difference again; windows cost the same
    print(
        f"peak RSS: {base / 1e6:.0f} MB, then {peak / 1e6:.0f} MB ({size / 1e6:.0f} MB more file)"
    )
    assert peak - base < GROWTH_SHARE * size, (base, peak, size)
