"""Long fuzz campaign against the X12 and ledger parsers (atheris if installed, else a mutator).

    .venv/bin/python tools/fuzz_campaign.py --runs 1000000 --workers 2

Work is split across worker processes (each target gets its share, ``--x12-share``). Each
worker runs its target on mutated inputs and counts: inputs run, typed errors, results,
unhandled exceptions (saved to ``--out`` as ``crash-<sha1>`` with a ``.txt`` traceback),
inputs slower than ``--hang-seconds`` (saved as ``slow-<sha1>``) and its peak RSS. The parent
adds the figures up, prints a summary (and ``--json``) and exits 1 when anything crashed,
hung or a worker died.

Engines: ``atheris`` (coverage-guided libFuzzer; our structure-aware mutators as its custom
mutator, half the time, libFuzzer's byte mutations the other half) and ``mutator`` (the
structure-aware mutators alone, seeded, no coverage feedback). libFuzzer's own ``-timeout``
and ``-rss_limit_mb`` stay on as a backstop, so a true hang or memory blow-up kills the
worker, which the parent reports.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.fuzz_mutate import (  # noqa: E402
    LEDGER_SEED_DIRS,
    X12_SEED_DIRS,
    load_seeds,
    mutate_csv,
    mutate_x12,
)


@dataclass
class Stats:
    target: str
    engine: str
    worker: int
    inputs: int = 0
    typed_errors: int = 0
    results: int = 0
    unhandled: int = 0
    slow: int = 0
    max_seconds: float = 0.0
    total_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    done: bool = False


class Worker:
    """Runs one target, counting outcomes; writes its stats file every ``every`` inputs."""

    def __init__(
        self,
        target: str,
        engine: str,
        worker: int,
        runs: int,
        out: Path,
        stats_path: Path,
        hang_seconds: float,
        max_len: int,
    ) -> None:
        from tools.fuzz_targets import EXPECTED, TARGETS

        self.fn = TARGETS[target]
        self.expected = EXPECTED
        self.runs = runs
        self.out = out
        self.stats_path = stats_path
        self.hang = hang_seconds
        self.max_len = max_len
        self.stats = Stats(target, engine, worker)
        dirs = X12_SEED_DIRS if target == "x12" else LEDGER_SEED_DIRS
        self.seeds = load_seeds(dirs, max_len) or [b"ISA"]
        self.mutate = mutate_x12 if target == "x12" else mutate_csv
        self.every = 5000

    def one(self, data: bytes) -> None:
        t0 = time.perf_counter()
        try:
            self.fn(data)
            self.stats.results += 1
        except self.expected:
            self.stats.typed_errors += 1
        except Exception:  # noqa: BLE001 - an untyped exception is what the campaign hunts
            self.stats.unhandled += 1
            self._save("crash", data, traceback.format_exc())
        elapsed = time.perf_counter() - t0
        self.stats.total_seconds += elapsed
        if elapsed > self.stats.max_seconds:
            self.stats.max_seconds = elapsed
        if elapsed > self.hang:
            self.stats.slow += 1
            self._save("slow", data, f"{elapsed:.3f} s\n")
        self.stats.inputs += 1
        if self.stats.inputs % self.every == 0 or self.stats.inputs >= self.runs:
            self.write(done=self.stats.inputs >= self.runs)

    def _save(self, kind: str, data: bytes, note: str) -> None:
        name = f"{kind}-{self.stats.target}-{hashlib.sha1(data).hexdigest()}"  # noqa: S324
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / name).write_bytes(data)
        (self.out / f"{name}.txt").write_text(note)

    def write(self, done: bool = False) -> None:
        self.stats.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stats.done = done
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.stats)))
        tmp.replace(self.stats_path)

    def run_mutator(self, seed: int) -> None:
        rng = random.Random(seed)
        for data in self.seeds:
            if self.stats.inputs < self.runs:
                self.one(data)
        while self.stats.inputs < self.runs:
            self.one(self.mutate(rng.choice(self.seeds), rng, self.seeds, self.max_len))
        self.write(done=True)

    def run_atheris(self, seed: int) -> None:
        import atheris  # type: ignore[import-untyped,unused-ignore]

        rng = random.Random(seed)
        seed_dir = self.out / f"seeds-{self.stats.target}"
        seed_dir.mkdir(parents=True, exist_ok=True)
        for s in self.seeds:
            (seed_dir / hashlib.sha1(s).hexdigest()).write_bytes(s)  # noqa: S324

        def custom_mutator(data: bytes, max_size: int, _seed: int) -> bytes:
            if rng.random() < 0.5 or not data:
                return bytes(atheris.Mutate(data, max_size))
            return self.mutate(data, rng, self.seeds, max_size)

        # libFuzzer counts the seed corpus inputs in -runs too, as do we.
        argv = [
            sys.argv[0],
            f"-runs={self.runs}",
            f"-max_len={self.max_len}",
            f"-seed={seed}",
            "-timeout=30",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={self.out}/",
            "-print_final_stats=0",
            "-verbosity=0",
            str(seed_dir),
        ]
        atheris.Setup(argv, self.one, custom_mutator=custom_mutator)
        atheris.Fuzz()


def _worker_main(args: argparse.Namespace) -> int:
    engine = args.engine
    if engine == "atheris":
        import atheris  # type: ignore[import-untyped,unused-ignore]

        with atheris.instrument_imports(include=["parsers", "schemas"]):
            import parsers
            import parsers.ledger  # noqa: F401
    w = Worker(
        args.target,
        engine,
        args.worker_id,
        args.runs,
        Path(args.out),
        Path(args.stats),
        args.hang_seconds,
        args.max_len,
    )
    if engine == "atheris":
        w.run_atheris(args.seed)
    else:
        w.run_mutator(args.seed)
    return 0


def _default_engine() -> str:
    try:
        import atheris  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return "mutator"
    return "atheris"


def _plan(runs: int, workers: int, x12_share: float) -> list[tuple[str, int]]:
    """(target, runs) per worker: the X12 share first, at least one worker per target."""
    x12_runs = round(runs * x12_share)
    ledger_runs = runs - x12_runs
    if x12_runs and ledger_runs:
        wx = min(max(1, round(workers * x12_share)), max(1, workers - 1))
        wl = max(1, workers - wx)
    else:
        wx, wl = (workers, 0) if x12_runs else (0, workers)
    plan: list[tuple[str, int]] = []
    for target, total, n in (("x12", x12_runs, wx), ("ledger", ledger_runs, wl)):
        for i in range(n):
            plan.append((target, total // n + (1 if i < total % n else 0)))
    return plan


def _parent_main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stats_dir = out / "stats"
    stats_dir.mkdir(exist_ok=True)
    plan = _plan(args.runs, args.workers, args.x12_share)
    # Workers run one after another when there are more plans than --parallel slots.
    started = time.monotonic()
    procs: list[tuple[int, str, subprocess.Popen[bytes], Path]] = []
    pending = list(enumerate(plan))
    results: list[tuple[int, str, int, Path]] = []
    while pending or procs:
        while pending and len(procs) < args.parallel:
            i, (target, runs) = pending.pop(0)
            stats = stats_dir / f"worker-{i}.json"
            stats.unlink(missing_ok=True)
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker-id",
                str(i),
                "--target",
                target,
                "--runs",
                str(runs),
                "--engine",
                args.engine,
                "--seed",
                str(args.seed + i),
                "--out",
                str(out),
                "--stats",
                str(stats),
                "--hang-seconds",
                str(args.hang_seconds),
                "--max-len",
                str(args.max_len),
            ]
            log = (out / f"worker-{i}.log").open("wb")
            procs.append((i, target, subprocess.Popen(cmd, stdout=log, stderr=log), stats))
        time.sleep(1)
        for entry in list(procs):
            rc = entry[2].poll()
            if rc is not None:
                procs.remove(entry)
                results.append((entry[0], entry[1], rc, entry[3]))
    wall = time.monotonic() - started
    per: list[dict[str, object]] = []
    died = 0
    for i, target, rc, stats in sorted(results):
        data: dict[str, object] = (
            json.loads(stats.read_text())
            if stats.exists()
            else {"target": target, "worker": i, "inputs": 0, "done": False}
        )
        data["exit_code"] = rc
        if rc != 0 or not data.get("done"):
            died += 1
        per.append(data)
    summary = _summarise(per, wall, args, died)
    print(json.dumps(summary, indent=2) if args.json else _text(summary))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    bad = summary["unhandled_exceptions"] or summary["slow_inputs"] or died
    return 1 if bad else 0


def _summarise(
    per: list[dict[str, object]], wall: float, args: argparse.Namespace, died: int
) -> dict[str, object]:
    def total(key: str, target: str | None = None) -> int:
        return sum(int(str(p.get(key, 0))) for p in per if target is None or p["target"] == target)

    return {
        "engine": args.engine,
        "inputs_run": total("inputs"),
        "inputs_x12": total("inputs", "x12"),
        "inputs_ledger": total("inputs", "ledger"),
        "typed_errors": total("typed_errors"),
        "results": total("results"),
        "unhandled_exceptions": total("unhandled"),
        "slow_inputs": total("slow"),
        "hang_threshold_seconds": args.hang_seconds,
        "slowest_input_seconds": round(max(float(str(p.get("max_seconds", 0))) for p in per), 4),
        "peak_rss_mb_max_worker": round(max(float(str(p.get("peak_rss_mb", 0))) for p in per), 1),
        "workers": len(per),
        "workers_died": died,
        "wall_seconds": round(wall, 1),
        "max_input_bytes": args.max_len,
        "per_worker": per,
    }


def _text(s: dict[str, object]) -> str:
    keys = [k for k in s if k != "per_worker"]
    return "\n".join(f"{k:>26}: {s[k]}" for k in keys)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=1_000_000, help="total inputs, all workers")
    p.add_argument("--workers", type=int, default=4, help="worker processes (work units)")
    p.add_argument(
        "--parallel",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="workers running at once",
    )
    p.add_argument("--x12-share", type=float, default=0.75, help="fraction of runs on X12")
    p.add_argument("--engine", choices=("atheris", "mutator"), default=_default_engine())
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-len", type=int, default=8192, help="largest input in bytes")
    p.add_argument("--hang-seconds", type=float, default=1.0)
    p.add_argument("--out", default=str(HERE / "fuzz_out"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker-id", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--target", choices=("x12", "ledger"), help=argparse.SUPPRESS)
    p.add_argument("--stats", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker_id is not None:
        return _worker_main(args)
    return _parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
