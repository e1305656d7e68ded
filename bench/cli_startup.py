"""CLI start-up: every command's ``--help`` and the read-only commands, against two peers.

Each measurement is one fresh process of the installed ``gateway`` console script (exactly what
a user starts); wall time, CPU time (user + system) and peak RSS come from ``os.wait4`` for that
child alone. Every command runs once per round, rounds repeat (default 5) and the median of
each is kept, so the ratios come from the same noisy period of a shared machine; one unmeasured
warm-up round comes first, with bytecode writing on (``PYTHONDONTWRITEBYTECODE`` is dropped for
the children, as an installed package has its bytecode). The peers,
measured in the same rounds:

- ``python -c pass``: the interpreter alone, the floor for any Python command;
- ``gateway parse --help``: the lightest real command; the target is every command within 1.5x.

The read-only commands (``credits``, ``failures``, ``cases list``, ``report aging``) run against
an empty SQLite data dir created (and migrated) first. The last column lists which of fastapi,
fpdf, boto3, pyx12 and alembic the process imported (``-X importtime`` on one extra run): none
for help, none for the read-only commands.

``--before DIR`` also runs every command from another checkout (``git archive main | tar -x -C
DIR``) through ``PYTHONPATH`` with the same interpreter and packages, interleaved in the same
rounds: a before/after table from one run (before: wall and CPU ms, and CPU against the before
tree's own ``parse --help``). ``--after DIR`` runs this side from an archive too (``git archive
HEAD``): with ``PYTHONPATH`` on the before side only, every import there searches one more
``sys.path`` entry first, which made the before tree look up to ~25 % slower than it is.

    .venv/bin/python bench/cli_startup.py              # every command, 5 rounds
    .venv/bin/python bench/cli_startup.py --rounds 3 --only read --before /tmp/main-tree
    .venv/bin/python bench/cli_startup.py --only read --before /tmp/main-tree --after /tmp/head
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
GATEWAY = VENV_BIN / "gateway"
HEAVY = ("fastapi", "fpdf", "boto3", "pyx12", "alembic")
READ_ONLY = (["credits"], ["failures"], ["cases", "list"], ["report", "aging"])


@dataclass
class Runs:
    """Wall time, CPU time and peak RSS of every round; medians are what is reported."""

    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    heavy: list[str] = field(default_factory=list)

    def add(self, wall: float, cpu: float, rss_mb: float) -> None:
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.rss.append(rss_mb)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mb(self) -> float:
        return statistics.median(self.rss)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one child process, its output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def imported_heavy(argv: list[str], env: dict[str, str]) -> list[str]:
    """Which of ``HEAVY`` the command imports, from ``-X importtime`` (top-level packages)."""
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-c",
        "import sys; from gateway.cli import main; sys.argv[0] = 'gateway'; main()",
        *argv[1:],
    ]
    err = subprocess.run(cmd, env=env, capture_output=True, text=True).stderr
    found = {
        line.rsplit("|", 1)[-1].strip()
        for line in err.splitlines()
        if line.startswith("import time:")
    }
    return [m for m in HEAVY if m in found]


#: prints every command path as JSON; run in a child so this process stays small (a child's
#: ru_maxrss starts from the size of the process that forked it)
TREE = """
import json, typer.main
from gateway.cli import app
root = typer.main.get_command(app)
print(json.dumps([[n, *([s] if s else [])] for n, c in root.commands.items()
                  for s in ["", *getattr(c, "commands", {})]]))
"""


def commands(only: str) -> list[list[str]]:
    """Every command path's ``--help`` (from the command tree) and the read-only commands."""
    out: list[list[str]] = [[str(GATEWAY), "--help"]]
    if only in ("all", "help"):
        tree = subprocess.run(
            [sys.executable, "-c", TREE], capture_output=True, text=True, check=True
        ).stdout
        out.extend([str(GATEWAY), *path, "--help"] for path in json.loads(tree))
    if only in ("all", "read"):
        out.extend([str(GATEWAY), *c] for c in READ_ONLY)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("all", "help", "read"), default="all")
    parser.add_argument("--before", type=Path, help="another checkout to compare against")
    parser.add_argument(
        "--after",
        type=Path,
        help="run this checkout's commands through PYTHONPATH too (an archive of this tree), so "
        "both sides pay the same extra sys.path entry",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "GATEWAY_DATA_DIR": data, "GATEWAY_LOG_LEVEL": "WARNING"}
        env.pop("GATEWAY_DATABASE_URL", None)
        env.pop("PYTHONPATH", None)
        # bytecode as an installed package has it: with PYTHONDONTWRITEBYTECODE set (some
        # shells and CI images set it) every run would compile the gateway's modules from
        # source again, tens of ms that no installed copy pays; the warm-up round writes it
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [str(GATEWAY), "db", "upgrade"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        old = {**env, "PYTHONPATH": str(args.before.resolve())} if args.before else None
        if args.after:
            env["PYTHONPATH"] = str(args.after.resolve())
        floor = [sys.executable, "-c", "pass"]
        peer = [str(GATEWAY), "parse", "--help"]
        rows = [floor, peer, *(c for c in commands(args.only) if c != peer)]
        now = {tuple(r): Runs() for r in rows}
        was = {tuple(r): Runs() for r in rows}
        for r in rows:  # warm-up, not measured: bytecode written, files in the page cache
            run_once(r, env)
            if old is not None:
                run_once(r, old)
        for _ in range(args.rounds):
            for r in rows:  # interleaved: load on the machine hits every command alike
                now[tuple(r)].add(*run_once(r, env))
                if old is not None:
                    was[tuple(r)].add(*run_once(r, old))
        for r in rows[1:]:
            now[tuple(r)].heavy = imported_heavy(r, env)
    base = now[tuple(peer)]
    print(
        f"median of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}; "
        f"ratios against `gateway parse --help` in the same run"
    )
    head = f"{'command':44}"
    if old is not None:
        head += f" {'before ms':>9} {'cpu ms':>7} {'cpu x':>6}"
    print(f"{head} {'wall ms':>8} {'cpu ms':>7} {'RSS MB':>7} {'x parse':>8} {'cpu x':>6}  heavy")
    for r in rows:
        b = now[tuple(r)]
        name = "python -c pass" if r is floor else "gateway " + " ".join(r[1:])
        line = f"{name:44}"
        if old is not None:
            w = was[tuple(r)]
            line += (
                f" {w.wall * 1000:9.0f} {w.cpu * 1000:7.0f} {w.cpu / was[tuple(peer)].cpu:5.2f}x"
            )
        print(
            f"{line} {b.wall * 1000:8.0f} {b.cpu * 1000:7.0f} {b.rss_mb:7.1f} "
            f"{b.wall / base.wall:7.2f}x {b.cpu / base.cpu:5.2f}x  {','.join(b.heavy) or '-'}"
        )
    worst = max((now[tuple(r)].wall / base.wall, " ".join(r[1:])) for r in rows[2:])
    print(f"slowest against parse --help: {worst[0]:.2f}x ({worst[1]})")
    # on a loaded machine wall time mostly measures the wait for a core; CPU time does not
    worst = max((now[tuple(r)].cpu / base.cpu, " ".join(r[1:])) for r in rows[2:])
    print(f"slowest in CPU time: {worst[0]:.2f}x ({worst[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
