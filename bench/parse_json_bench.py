"""``gateway parse --json`` (streamed) against plain ``gateway parse`` on the same files.

Each measurement is one fresh process of the installed ``gateway`` script with stdout to
/dev/null; wall time, CPU time (user + system) and peak RSS come from ``os.wait4`` for that child
alone (this process imports nothing of the gateway, so a child's RSS does not start from ours).
Every variant runs once per round, rounds repeat (default 3), the best of each is kept, so the
ratios come from the same noisy period of a shared machine. The target: ``--json`` at >= 0.5x
the speed of plain ``parse`` (time ratio <= 2), and flat memory.

Variants: ``parse`` (summary, the peer), ``--json`` (compact), ``--json --pretty``,
``--ndjson``; with ``--old``, also the whole-document path ``parse --json`` had before (parse
graph, ``to_jsonable``, rich's ``print_json``), on files up to ``--old-max-mb``.

    .venv/bin/python bench/parse_json_bench.py                    # generated 835/837 files
    .venv/bin/python bench/parse_json_bench.py FILE... --old      # any files, with the old path
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
GATEWAY = Path(sys.executable).parent / "gateway"

#: the whole-document path of `gateway parse --json` before it streamed (for --old)
OLD = """
import json, sys
from rich.console import Console
import parsers
from schemas.serialize import to_jsonable
result = parsers.parse(open(sys.argv[1], "rb").read())
doc = {"interchanges": to_jsonable(result.interchanges),
       "findings": [f.as_dict() for f in result.findings]}
Console().print_json(json.dumps(doc))
"""

GENERATED = {
    "big-20000.835": ["make_big_835.py", "--claims", "20000"],
    "big-100000.835": ["make_big_835.py", "--claims", "100000"],
    "big-20000.837": ["make_big_837.py", "--claims", "20000"],
}


def run_once(argv: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one child with its output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(argv)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def output_mb(argv: list[str]) -> float:
    """Size of what the variant writes, in MB (one extra run, counted not stored)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    stdout = proc.stdout
    assert stdout is not None
    size = sum(len(chunk) for chunk in iter(lambda: stdout.read(1 << 20), b""))
    proc.wait()
    return size / 1e6


def generated_files() -> list[Path]:
    OUT.mkdir(exist_ok=True)
    paths = []
    for name, cmd in GENERATED.items():
        path = OUT / name
        if not path.exists():
            subprocess.run(
                [sys.executable, str(BENCH / cmd[0]), *cmd[1:], "-o", str(path)], check=True
            )
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", action="store_true", help="also the whole-document path")
    parser.add_argument("--old-max-mb", type=float, default=2.0)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    files = args.files or generated_files()
    print(f"best of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'file':34} {'variant':16} {'wall s':>7} {'cpu s':>6} {'RSS MB':>7} {'out MB':>7} "
        f"{'speed vs parse (wall/cpu)':>26}"
    )
    for path in files:
        variants = {
            "parse": [str(GATEWAY), "parse", str(path)],
            "--json": [str(GATEWAY), "parse", str(path), "--json"],
            "--json --pretty": [str(GATEWAY), "parse", str(path), "--json", "--pretty"],
            "--ndjson": [str(GATEWAY), "parse", str(path), "--ndjson"],
        }
        if args.old and path.stat().st_size <= args.old_max_mb * 1e6:
            variants["old --json"] = [sys.executable, "-c", OLD, str(path)]
        best = {name: [float("inf")] * 3 for name in variants}
        for _ in range(args.rounds):
            for name, argv in variants.items():  # interleaved
                best[name] = [min(a, b) for a, b in zip(best[name], run_once(argv), strict=True)]
        base_wall, base_cpu, _ = best["parse"]
        for name, argv in variants.items():
            wall, cpu, rss = best[name]
            size = output_mb(argv) if name != "parse" else 0.0
            ratio = f"{base_wall / wall:.2f}x / {base_cpu / cpu:.2f}x"
            print(
                f"{path.name[:34]:34} {name:16} {wall:7.2f} {cpu:6.2f} {rss:7.0f} {size:7.1f} "
                f"{ratio:>26}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
