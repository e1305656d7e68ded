"""Ingest memory does not grow with the file: a regression to whole-file reads fails here.

Two files with the same claims are ingested, each by its own ``gateway ingest`` subprocess:
one as generated (a few MB) and one with every segment terminator followed by a line of
indentation, which the lexer strips, so the file is about 80 MB but costs the database no more
work. A worker that reads the stored file whole (or a lexer that needs the whole buffer) holds
those 80 MB (and more) at its peak; a streaming one holds a window of a few MB. The child
reports its own peak RSS (``ru_maxrss`` of ``RUSAGE_SELF`` as it exits: ``RUSAGE_CHILDREN``
of the test process would also count every other child the test session has run).

Not timed: the bound is on memory only.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from gateway.db.models import ClaimPaymentRow, FileState, InboundFile
from tests.integration.helpers import ROOT, Gateway
from tests.integration.x12gen import make_835

CLAIMS = 3_000
#: bytes of indentation after each segment terminator (inflates the file to about 80 MB)
PAD = 1_500
#: the padded file may cost at most this share of its size in extra peak memory
GROWTH_SHARE = 0.25

CHILD = """
import resource, sys
from gateway.cli import main
try:
    main()
finally:
    sys.stderr.write("\\nMAXRSS %d\\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _ingest(gw: Gateway, path: Path) -> int:
    """Peak RSS in bytes of ``gateway ingest PATH`` (ru_maxrss is in KiB on Linux)."""
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
    line = next(x for x in reversed(proc.stderr.splitlines()) if x.startswith("MAXRSS "))
    return int(line.split()[1]) * 1024


def test_ingest_peak_memory_does_not_follow_file_size(gw: Gateway, tmp_path: Path) -> None:
    assert resource.RUSAGE_SELF is not None
    plain = make_835(1, claims=CLAIMS, seed=1)
    padded = make_835(2, claims=CLAIMS, seed=2).replace(b"~\n", b"~\n" + b" " * PAD)
    small, big = tmp_path / "plain.835", tmp_path / "padded.835"
    small.write_bytes(plain)
    big.write_bytes(padded)
    del plain, padded
    size = big.stat().st_size
    assert size > 60_000_000

    base = _ingest(gw, small)
    peak = _ingest(gw, big)

    with gw.db.read() as s:
        states = s.execute(select(InboundFile.state)).scalars().all()
        claims = s.execute(select(func.count()).select_from(ClaimPaymentRow)).scalar_one()
    assert states == [FileState.PROCESSED.value] * 2
    assert claims == 2 * CLAIMS
    # whole-file reads cost at least the file's size again; a window costs a few MB
    print(
        f"peak RSS: plain {base / 1e6:.0f} MB, padded {peak / 1e6:.0f} MB, file {size / 1e6:.0f} MB"
    )
    assert peak - base < GROWTH_SHARE * size, (base, peak, size)
