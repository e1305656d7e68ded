"""CLI start-up: every command's ``--help`` and the read-only commands, against two peers.

Each measurement is one fresh process of the installed ``gateway`` console script (exactly what
a user starts); wall time, CPU time (user + system) and peak RSS come from ``os.wait4`` for that
child alone. Every command runs once per round, rounds repeat (default 5) and the best of each is
kept, so the ratios come from the same noisy period of a shared machine. The peers, measured in
the same rounds:

- ``python -c pass``: the interpreter alone, the floor for any Python command;
- ``gateway parse --help``: the lightest real command; the target is every command within 1.5x.

The read-only commands run against an empty SQLite data dir created (and migrated) first. The
last column lists which of fastapi, fpdf, boto3 and pyx12 the process imported (``-X importtime``
on one extra run), which must be none for help and the read-only commands.

    .venv/bin/python bench/cli_startup.py              # every command, 5 rounds
    .venv/bin/python bench/cli_startup.py --rounds 3 --only help
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
GATEWAY = VENV_BIN / "gateway"
HEAVY = ("fastapi", "fpdf", "boto3", "pyx12")
READ_ONLY = (["credits"], ["failures"], ["cases", "list"], ["report", "aging"])


@dataclass
class Best:
    """The best wall and CPU time and the lowest peak RSS over the rounds."""

    wall: float = float("inf")
    cpu: float = float("inf")
    rss_mb: float = float("inf")
    heavy: list[str] = field(default_factory=list)

    def add(self, wall: float, cpu: float, rss_mb: float) -> None:
        self.wall = min(self.wall, wall)
        self.cpu = min(self.cpu, cpu)
        self.rss_mb = min(self.rss_mb, rss_mb)


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
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "GATEWAY_DATA_DIR": data, "GATEWAY_LOG_LEVEL": "WARNING"}
        env.pop("GATEWAY_DATABASE_URL", None)
        subprocess.run(
            [str(GATEWAY), "db", "upgrade"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        floor = [sys.executable, "-c", "pass"]
        peer = [str(GATEWAY), "parse", "--help"]
        rows = [floor, peer, *(c for c in commands(args.only) if c != peer)]
        best = {tuple(r): Best() for r in rows}
        for _ in range(args.rounds):
            for r in rows:  # interleaved: load on the machine hits every command alike
                best[tuple(r)].add(*run_once(r, env))
        for r in rows[1:]:
            best[tuple(r)].heavy = imported_heavy(r, env)
    base = best[tuple(peer)]
    print(
        f"best of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}; "
        f"ratios against `gateway parse --help` in the same run"
    )
    print(f"{'command':44} {'wall ms':>8} {'cpu ms':>7} {'RSS MB':>7} {'x parse':>8}  heavy")
    for r in rows:
        b = best[tuple(r)]
        name = "python -c pass" if r is floor else "gateway " + " ".join(r[1:])
        print(
            f"{name:44} {b.wall * 1000:8.0f} {b.cpu * 1000:7.0f} {b.rss_mb:7.1f} "
            f"{b.wall / base.wall:7.2f}x  {','.join(b.heavy) or '-'}"
        )
    worst = max((best[tuple(r)].wall / base.wall, " ".join(r[1:])) for r in rows[2:])
    print(f"slowest against parse --help: {worst[0]:.2f}x ({worst[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
