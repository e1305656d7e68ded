"""Peak memory (and claims/s) of ``gateway ingest`` and ``gateway validate`` on large 835s.

Issue 18 asks for a streaming worker with peak RSS ≤ 200 MB whatever the file's size; this
measures where it stands. For each size a balanced 835 is generated (bench/make_big_835.py)
into a temporary folder, then each command runs as its own subprocess against a fresh SQLite
database and file raw store there; the child reports its own peak RSS (VmHWM, read from
/proc/self/status as it exits: ``ru_maxrss`` of a child would count the forking process too).
Everything is deleted afterwards. Keep sizes ≤ ~200 MB on a shared machine.

    .venv/bin/python bench/ingest_memory_bench.py                     # 20,000 and 200,000 claims
    .venv/bin/python bench/ingest_memory_bench.py --claims 20000 --claims 100000
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

#: the child: the gateway CLI, then its own peak RSS on stderr's last line
CHILD = """
import sys
from gateway.cli import main
try:
    main()
finally:
    with open("/proc/self/status") as status:
        sys.stderr.write(next(line for line in status if line.startswith("VmHWM:")))
"""


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and exit code of ``gateway ARGS``."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
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
        f"{'claims':>8} {'MB':>7} {'command':>9} {'peak RSS MB':>12} {'seconds':>8} {'claims/s':>9}"
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
            for name, args in (
                ("validate", ["validate", str(path)]),
                ("ingest", ["ingest", str(path)]),
            ):
                seconds, peak, code = run(args, env)
                note = "" if code == 0 else f"  (exit {code})"
                print(
                    f"{claims:>8} {mb:>7.1f} {name:>9} {peak:>12.0f} {seconds:>8.1f} "
                    f"{claims / seconds:>9.0f}{note}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
