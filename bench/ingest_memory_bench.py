"""Peak memory (and claims/s) of ``gateway ingest|worker|parse|parse --json|validate``.

Issue 18 asks for flat memory (peak RSS ≤ 200 MB) whatever the file's size; this measures
where it stands, with the peers in the same run: oxedi (``parse_file``, a Rust core) and
pyx12 (``X12Reader`` iterating segments) on the same file. ``worker`` is ``ingest --queue``
then ``worker --once`` against a fresh database (the row shows the worker process).

For each size a balanced 835 is generated (bench/make_big_835.py)
into a temporary folder, then each command runs as its own subprocess against a fresh SQLite
database and file raw store there; the child reports its own peak RSS (VmHWM, read from
/proc/self/status as it exits: ``ru_maxrss`` of a child would count the forking process too).
Everything is deleted afterwards. A 500,000-claim file is about 200 MB (2.5 M claims ≈ 1 GB);
the ingest of 500,000 claims takes about 5 minutes here.

    .venv/bin/python bench/ingest_memory_bench.py                     # 20,000 and 200,000 claims
    .venv/bin/python bench/ingest_memory_bench.py --claims 20000 --claims 500000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

_HWM = """
with open("/proc/self/status") as status:
    sys.stderr.write("\\n" + next(line for line in status if line.startswith("VmHWM:")))
"""
#: the child: the gateway CLI, then its own peak RSS on stderr's last line
CHILD = """
import sys
from gateway.cli import main
try:
    main()
finally:
""" + "".join("    " + line + "\n" for line in _HWM.strip().splitlines())
#: the peers, as children reporting the same way
PEERS = {
    "oxedi": "import sys, oxedi\nr = oxedi.parse_file(sys.argv[1])\n" + _HWM,
    "pyx12": (
        "import sys, pyx12.x12file\n"
        "n = sum(1 for s in pyx12.x12file.X12Reader(sys.argv[1]) if s.get_seg_id() == 'CLP')\n"
        + _HWM
    ),
}


def run(args: list[str], env: dict[str, str], child: str = CHILD) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and exit code of ``gateway ARGS`` (or of a peer's child)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", child, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=1800,
        check=False,
    )
    seconds = time.perf_counter() - started
    hwm = proc.stderr.decode(errors="replace").strip().splitlines()[-1]
    return seconds, int(hwm.split()[1]) / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--claims",
        type=int,
        action="append",
        help="claims per generated file (repeatable; default 20000 and 200000)",
    )
    opts = ap.parse_args()
    sizes = opts.claims or [20_000, 200_000]
    print(
        f"{'claims':>8} {'MB':>7} {'command':>12} {'peak RSS MB':>12} "
        f"{'seconds':>8} {'claims/s':>9}"
    )
    for claims in sizes:
        with tempfile.TemporaryDirectory(prefix="ingest-memory-") as tmp:
            work = Path(tmp)
            path = work / f"big-{claims}.835"
            subprocess.run(
                [
                    sys.executable,
                    str(BENCH / "make_big_835.py"),
                    "--claims",
                    str(claims),
                    "-o",
                    str(path),
                ],
                check=True,
                capture_output=True,
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
            env.update(
                {
                    "GATEWAY_DATA_DIR": str(work / "data"),
                    "GATEWAY_LOG_LEVEL": "WARNING",
                    "PYTHONPATH": str(ROOT),
                }
            )
            mb = path.stat().st_size / 1e6
            p = str(path)
            for name, args in (
                ("validate", ["validate", p]),
                ("parse", ["parse", p]),
                ("parse --json", ["parse", "--json", p]),
                ("ingest", ["ingest", p]),
                ("queue", ["ingest", "--queue", p]),
                ("worker", ["worker", "--once"]),
                ("oxedi", [p]),
                ("pyx12", [p]),
            ):
                if name == "queue":  # a fresh database for the worker row
                    env["GATEWAY_DATA_DIR"] = str(work / "data-worker")
                child = PEERS.get(name, CHILD)
                if child is not CHILD and not _importable(name):
                    continue
                seconds, peak, code = run(args, env, child)
                note = "" if code == 0 else f"  (exit {code})"
                print(
                    f"{claims:>8} {mb:>7.1f} {name:>12} {peak:>12.0f} {seconds:>8.1f} "
                    f"{claims / seconds:>9.0f}{note}",
                    flush=True,
                )


def _importable(module: str) -> bool:
    return (
        subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode
        == 0
    )


if __name__ == "__main__":
    main()
