"""``gateway parse --json`` / ``--ndjson`` of a large 835 stay within a flat memory bound.

The file (bench/make_big_835.py, 40,000 claims in ONE transaction set, 16 MB) needs about 680 MB
when its whole document is built first (parse graph, ``to_jsonable``, ``json.dumps``) and 700+
MB more with rich's ``print_json``; streamed, the process holds the file's bytes and a few claims:
about 70 MB on this machine. One transaction set, so that buffering a transaction's claims fails
as surely as building the whole document. Peak RSS is the child's own VmHWM
(not timed: the bound is on memory).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CLAIMS = 40_000
#: far below whole-document building (~680 MB), about twice the streaming peak (~70 MB)
BOUND_MB = 160


@pytest.fixture(scope="module")
def big_835(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.835"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "make_big_835.py"),
            "--claims",
            str(CLAIMS),
            "--per-st",
            str(CLAIMS),
            "--st-per-isa",
            "1",
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return path


#: the child reports its own peak RSS (VmHWM) as it exits: ``ru_maxrss`` of a child would also
#: count the size of the process that forked it (the pytest process), which grows meanwhile
CHILD = """
import sys
from gateway.cli import main
try:
    main()
finally:
    with open("/proc/self/status") as status:
        sys.stderr.write(next(line for line in status if line.startswith("VmHWM:")))
"""


def _peak_rss_mb(args: list[str], out: Path) -> float:
    """Run ``gateway ARGS`` with stdout to ``out``; its exit code must be 0; peak RSS in MB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    with out.open("wb") as sink:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, *args],
            stdout=sink,
            stderr=subprocess.PIPE,
            env=env,
            timeout=300,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    hwm = proc.stderr.decode().strip().splitlines()[-1]  # "VmHWM:    79984 kB"
    return int(hwm.split()[1]) / 1024


@pytest.mark.parametrize("mode", ["--json", "--ndjson"])
def test_parse_json_of_a_large_835_has_flat_memory(
    big_835: Path, tmp_path: Path, mode: str
) -> None:
    out = tmp_path / "out.json"
    peak = _peak_rss_mb(["parse", str(big_835), mode], out)
    assert peak < BOUND_MB, f"{mode}: peak RSS {peak:.0f} MB for {CLAIMS} claims"
    data = out.read_bytes()
    assert data.count(b'{"patient_control_number":') == CLAIMS  # every claim was written
    if mode == "--json":
        assert data.startswith(b'{"interchanges":[{"interchange":')
        assert data.endswith(b"]}\n")
    else:
        assert data.count(b"\n") == CLAIMS
