"""Peak memory (and claims/s) of ``gateway ingest|worker|parse|parse --json|validate``.

Issue 18 asks for flat memory (peak RSS ≤ 200 MB) whatever the file's size; this measures
where it stands, with the peers in the same run: oxedi (``parse_file``, a Rust core) and
pyx12 (``X12Reader`` iterating segments) on the same file. ``worker`` is ``ingest --queue``
then ``worker --once`` against a fresh database (the row shows the worker process).

For each size a balanced 835 (bench/make_big_835.py) or 837P (``--claims-837``,
bench/make_big_837.py) is generated into a temporary folder, or an existing file is used
(``--file``, e.g. the 1 GB 835 generated once); then each command runs as its own subprocess
against a fresh SQLite database and file raw store there. The child reports its own peak RSS
(VmHWM, read from /proc/self/status as it exits: ``ru_maxrss`` of a child would count the
forking process too) and its CPU seconds (user + system): on a shared, loaded machine the wall
time mostly measures the wait for a core, so claims per CPU second is the figure that compares
sizes. Everything generated is deleted afterwards. A 500,000-claim 835 is about 200 MB
(2.5 M claims ≈ 1 GB). The last lines compare ingest (``ingest --queue`` + ``worker --once``)
claims/s of the largest 835 with the smallest.

    .venv/bin/python bench/ingest_memory_bench.py                     # 20,000 and 200,000 claims
    .venv/bin/python bench/ingest_memory_bench.py --claims 20000 --claims-837 100000
    .venv/bin/python bench/ingest_memory_bench.py --claims 20000 --file big-2500000.835 \
        --only queue,worker,validate,parse-json,oxedi,pyx12
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
import os
with open("/proc/self/status") as status:
    hwm = next(line for line in status if line.startswith("VmHWM:")).split()[1]
sys.stderr.write(f"\\nPEAK {hwm} {sum(os.times()[:2]):.2f}")
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
        "import sys, pyx12.x12file\nCLAIM = ('CLP', 'CLM')\n"
        "n = sum(1 for s in pyx12.x12file.X12Reader(sys.argv[1]) if s.get_seg_id() in CLAIM)\n"
        + _HWM
    ),
}


#: the commands, by the name ``--only`` takes
COMMANDS = ("validate", "parse", "parse-json", "ingest", "queue", "worker", "oxedi", "pyx12")


def run(
    args: list[str], env: dict[str, str], child: str = CHILD
) -> tuple[float, float, float, int]:
    """Seconds, peak RSS in MB, CPU seconds and exit code of ``gateway ARGS`` (or a peer's)."""
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
    last = proc.stderr.decode(errors="replace").strip().splitlines()[-1].split()
    return seconds, int(last[1]) / 1024, float(last[2]), proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--claims",
        type=int,
        action="append",
        help="claims per generated 835 (repeatable; default 20000 and 200000 without --file)",
    )
    ap.add_argument(
        "--claims-837", type=int, action="append", default=[], help="claims per generated 837P"
    )
    ap.add_argument(
        "--file", type=Path, action="append", default=[], help="an existing 835/837 (repeatable)"
    )
    ap.add_argument(
        "--only",
        default=",".join(COMMANDS),
        help=f"comma-separated subset of {COMMANDS}, run in that order (worker after queue)",
    )
    opts = ap.parse_args()
    only = [c.strip() for c in opts.only.split(",") if c.strip()]
    unknown = set(only) - set(COMMANDS)
    if unknown:
        ap.error(f"unknown command(s) {sorted(unknown)}")
    sizes = opts.claims or ([] if opts.file or opts.claims_837 else [20_000, 200_000])
    inputs: list[tuple[str, int | Path]] = [("835", n) for n in sizes]
    inputs += [("837", n) for n in opts.claims_837]
    inputs += [("file", f.resolve()) for f in opts.file]
    print(
        f"{'kind':>4} {'claims':>8} {'MB':>7} {'command':>12} {'peak RSS MB':>12} "
        f"{'seconds':>8} {'CPU s':>7} {'claims/s':>9} {'claims/CPU s':>12}",
        flush=True,
    )
    #: 835 ingest (queue + worker): claims, claims per second, per CPU second, and per CPU
    #: second of the worker less its start-up
    ingest_rates: list[tuple[int, float, float, float]] = []
    for kind, what in inputs:
        with tempfile.TemporaryDirectory(prefix="ingest-memory-") as tmp:
            work = Path(tmp)
            if isinstance(what, Path):
                path, claims = what, _count_claims(what)
                with path.open("rb") as head:
                    kind = "837" if b"CLM*" in head.read(200_000) else "835"
            else:
                claims = what
                path = work / f"big-{claims}.{kind}"
                maker = "make_big_835.py" if kind == "835" else "make_big_837.py"
                subprocess.run(
                    [sys.executable, str(BENCH / maker), "--claims", str(claims), "-o", str(path)],
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
            queued: tuple[float, float] | None = None
            commands = {
                "validate": ["validate", p],
                "parse": ["parse", p],
                "parse-json": ["parse", "--json", p],
                "ingest": ["ingest", p],
                "queue": ["ingest", "--queue", p],
                "worker": ["worker", "--once"],
                "oxedi": [p],
                "pyx12": [p],
            }
            for name in only:  # in the order given: the rows that matter most first
                args = commands[name]
                # ``ingest`` loads into its own fresh database, queue + worker into another
                pair = name in ("queue", "worker")
                env["GATEWAY_DATA_DIR"] = str(work / ("data-worker" if pair else "data"))
                child = PEERS.get(name, CHILD)
                if child is not CHILD and not _importable(name):
                    continue
                seconds, peak, cpu, code = run(args, env, child)
                note = "" if code == 0 else f"  (exit {code})"
                print(
                    f"{kind:>4} {claims:>8} {mb:>7.1f} {name:>12} {peak:>12.0f} {seconds:>8.1f} "
                    f"{cpu:>7.1f} {claims / seconds:>9.0f} {claims / cpu:>12.0f}{note}",
                    flush=True,
                )
                if name == "queue" and code == 0:
                    queued = (seconds, cpu)
                elif name == "worker" and code == 0 and queued is not None and kind == "835":
                    wall, spent = queued[0] + seconds, queued[1] + cpu
                    # the same command with nothing queued: its start-up, to take off
                    idle_s, _, idle_cpu, _ = run(args, env)
                    print(f"{'':>42} (worker start-up: {idle_s:.1f} s, {idle_cpu:.1f} CPU s)")
                    steady = claims / max(cpu - idle_cpu, 1e-9)
                    ingest_rates.append((claims, claims / wall, claims / spent, steady))
    if len(ingest_rates) > 1:
        ingest_rates.sort()
        small, large = ingest_rates[0], ingest_rates[-1]
        print(
            f"ingest (queue + worker) claims/s, {large[0]} vs {small[0]} claims: "
            f"wall {large[1]:.0f} / {small[1]:.0f} = {large[1] / small[1]:.2f}x, "
            f"per CPU s {large[2]:.0f} / {small[2]:.0f} = {large[2] / small[2]:.2f}x; "
            f"worker less start-up, per CPU s {large[3]:.0f} / {small[3]:.0f} = "
            f"{large[3] / small[3]:.2f}x"
        )


def _count_claims(path: Path) -> int:
    """CLP (835) or CLM (837) segments in ``path`` (a generated file), read in pieces."""
    count = 0
    tail = b""
    with path.open("rb") as f:
        while piece := f.read(8 * 1024 * 1024):
            piece = tail + piece
            count += piece.count(b"CLP*") + piece.count(b"CLM*")
            tail = piece[-3:]  # shorter than a match: none is counted twice
    return count


def _importable(module: str) -> bool:
    return (
        subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode
        == 0
    )


if __name__ == "__main__":
    main()
