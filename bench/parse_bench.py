"""X12 parser benchmark: our parser against named peers on the same generated files.

Each measurement runs in a fresh subprocess (so peak RSS is that parser's alone, read with
``os.wait4``); the in-process time covers the parse only, not interpreter start or imports.
Every peer runs once per round, rounds repeat (default 3) and the best time of each is kept, so
ratios come from the same noisy period of a shared machine.

    .venv/bin/python bench/parse_bench.py            # 20,000-claim files + 100k process run
    .venv/bin/python bench/parse_bench.py --quick    # small files, one round: a smoke test
    .venv/bin/python bench/parse_bench.py --claims 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
VENV_BIN = Path(sys.executable).parent

#: peers per transaction kind, in table order
PEERS: dict[str, list[str]] = {
    "835": [
        "floor",
        "ours_stream",
        "ours_stream_io",
        "ours_parse",
        "oxedi",
        "openx12",
        "pyx12_reader",
        "pyx12_validate",
    ],
    "837": [
        "floor",
        "ours_stream",
        "ours_stream_io",
        "ours_parse",
        "openx12",
        "pyx12_reader",
        "pyx12_validate",
    ],
}
DESCRIPTIONS = {
    "baseline": "python + imports + file read, no parse (RSS reference)",
    "floor": "bytes.decode().split('~'), then split('*') per segment",
    "ours_stream": "parsers.stream: full typed events, every one consumed",
    "ours_stream_io": "parsers.stream(open file): the same, read in bounded windows",
    "ours_parse": "parsers.parse: whole object graph",
    "oxedi": "oxedi.parse (Rust core): document + typed tables",
    "openx12": "openx12 x835/x837p.parse (pure Python dicts)",
    "pyx12_reader": "pyx12.x12file.X12Reader, iterate segments",
    "pyx12_validate": "pyx12 x12n_document full IG validation (on a slice)",
}

# Whole-process equivalent of `gateway parse FILE` for oxedi: parse, then print the same kind
# of summary (claims, money totals, problem count).
OXEDI_PROCESS = """
import sys, oxedi
r = oxedi.parse_file(sys.argv[1])
print(r.count_claims(), r.sum_payments(), len(r.tables["services"]), len(r.diagnostics))
"""


# ---------------------------------------------------------------------------- worker side


def _count_claims_ours(events: Any) -> int:
    from schemas import Claim, ClaimPayment

    n = 0
    for ev in events:
        cls = type(ev)
        if cls is ClaimPayment or cls is Claim:
            n += 1
    return n


def run_worker(peer: str, path: Path, kind: str) -> dict[str, Any]:
    """Import the peer, read the file, time one parse. Runs in the child process."""
    info: dict[str, Any] = {}
    data = path.read_bytes()
    if peer == "baseline":
        import parsers  # the import is what this row measures

        t0 = time.perf_counter()
        claims = data.count(b"~CLP*" if kind == "835" else b"~CLM*")
    elif peer == "floor":
        t0 = time.perf_counter()
        claims = 0
        tag = "CLP" if kind == "835" else "CLM"
        for seg in data.decode("ascii").split("~"):
            els = seg.split("*")
            if els[0] == tag:
                claims += 1
    elif peer == "ours_stream":
        import parsers

        t0 = time.perf_counter()
        reader = parsers.stream(data)
        claims = _count_claims_ours(reader)
        info["errors"] = sum(f.severity == parsers.ERROR for f in reader.findings.items)
        info["warnings"] = sum(f.severity == parsers.WARNING for f in reader.findings.items)
    elif peer == "ours_stream_io":
        import parsers

        t0 = time.perf_counter()
        with path.open("rb") as fh:
            reader = parsers.stream(fh)
            claims = _count_claims_ours(reader)
        info["errors"] = sum(f.severity == parsers.ERROR for f in reader.findings.items)
        info["warnings"] = sum(f.severity == parsers.WARNING for f in reader.findings.items)
    elif peer == "ours_parse":
        import parsers

        t0 = time.perf_counter()
        result = parsers.parse(data)
        claims = sum(len(t.claims) for t in result.transactions)
        info["errors"] = sum(f.severity == parsers.ERROR for f in result.findings)
        info["warnings"] = sum(f.severity == parsers.WARNING for f in result.findings)
    elif peer == "oxedi":
        import oxedi

        t0 = time.perf_counter()
        res = oxedi.parse(data)
        claims = res.count_claims()
        info["diagnostics"] = len(res.diagnostics)
    elif peer == "openx12":
        from openx12 import x835, x837p

        t0 = time.perf_counter()
        doc = (x835 if kind == "835" else x837p).parse(data.decode("ascii"))
        claims = len(doc.claims)
    elif peer == "pyx12_reader":
        import pyx12.x12file

        t0 = time.perf_counter()
        tag = "CLP" if kind == "835" else "CLM"
        claims = 0
        for seg in pyx12.x12file.X12Reader(str(path)):
            if seg.get_seg_id() == tag:
                claims += 1
    elif peer == "pyx12_validate":
        import logging

        import pyx12.params
        import pyx12.x12n_document

        logging.getLogger("pyx12").setLevel(logging.CRITICAL)
        param = pyx12.params.params()
        t0 = time.perf_counter()
        # no 999 output: pyx12 4.0 cannot render one for an 835 without ST03 (its map marks
        # ST03 "not used"), and rendering is not what is measured here.
        info["valid"] = bool(pyx12.x12n_document.x12n_document(param, str(path), None, None, None))
        claims = data.count(b"~CLP*" if kind == "835" else b"~CLM*")
    else:
        raise SystemExit(f"unknown peer {peer!r}")
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "claims": claims,
        "bytes": len(data),
        "hwm_mb": _vm_hwm_mb(),
        **info,
    }


def _vm_hwm_mb() -> float:
    """This process's peak RSS (VmHWM), which exec resets, unlike ``ru_maxrss``.

    Linux carries the parent's high-water mark across fork+exec into ``ru_maxrss``, so a small
    child of a big parent would report the parent's peak; VmHWM belongs to this image alone.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- parent side


@dataclass
class Row:
    """Best-of-N figures for one peer on one file."""

    kind: str
    peer: str
    file: str
    bytes: int
    claims: int = 0
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def mb_s(self) -> float:
        return self.bytes / self.best / 1e6

    @property
    def claims_s(self) -> float:
        return self.claims / self.best

    @property
    def peak_rss_mb(self) -> float:
        return max(self.rss_mb)


def _run_measured(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``: (wall seconds, peak RSS MB of that child alone via ``os.wait4``, stdout)."""
    with tempfile.TemporaryFile() as err:  # a file, so a chatty stderr cannot block the child
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}): "
                f"{err.read().decode(errors='replace')[-2000:]}"
            )
    return wall, usage.ru_maxrss / 1024, out.decode()  # ru_maxrss is KiB on Linux


def ensure_file(kind: str, claims: int) -> Path:
    """The generated file for ``kind`` and ``claims``, (re)made when missing or stale.

    Generated in a child process, so this parent stays small: a child's ``ru_maxrss`` starts
    from its parent's high-water mark (see ``_vm_hwm_mb``).
    """
    script = BENCH / f"make_big_{kind}.py"
    path = OUT / f"big-{claims}.{kind}"
    sources = [script, BENCH / "x12gen.py"]
    if not path.exists() or path.stat().st_mtime < max(s.stat().st_mtime for s in sources):
        out = subprocess.run(
            [sys.executable, str(script), "--claims", str(claims), "-o", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        print(out.strip(), flush=True)
    return path


def worker_cmd(peer: str, path: Path, kind: str) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        peer,
        "--file",
        str(path),
        "--kind",
        kind,
    ]


def bench_in_process(files: dict[tuple[str, str], Path], rounds: int) -> list[Row]:
    """Every (kind, peer) once per round, interleaved; best time, max RSS."""
    rows: dict[tuple[str, str], Row] = {}
    for r in range(rounds):
        for (kind, peer), path in files.items():
            _, _, out = _run_measured(worker_cmd(peer, path, kind))
            res = json.loads(out.strip().splitlines()[-1])
            rss = res.pop("hwm_mb")
            row = rows.setdefault((kind, peer), Row(kind, peer, path.name, res["bytes"]))
            row.claims = res["claims"]
            row.seconds.append(res["seconds"])
            row.rss_mb.append(rss)
            row.info = {k: v for k, v in res.items() if k not in ("seconds", "claims", "bytes")}
            print(
                f"  round {r + 1}/{rounds} {kind} {peer:15s} {res['seconds']:8.3f} s {rss:7.1f} MB",
                flush=True,
            )
    return list(rows.values())


def bench_processes(path: Path, rounds: int) -> dict[str, Any]:
    """Whole `gateway parse FILE` process against an oxedi process doing the same job."""
    gateway = str(VENV_BIN / "gateway")
    cmds = {
        "gateway_parse": [gateway, "parse", str(path)],
        "oxedi_process": [sys.executable, "-c", OXEDI_PROCESS, str(path)],
        "gateway_startup": [gateway, "--help"],  # loads every command module
        "gateway_parse_startup": [gateway, "parse", "--help"],  # what `gateway parse` loads
        "python_startup": [sys.executable, "-c", "pass"],
    }
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    rss: dict[str, list[float]] = {k: [] for k in cmds}
    for r in range(rounds):
        for name, cmd in cmds.items():
            wall, peak, _ = _run_measured(cmd)
            walls[name].append(wall)
            rss[name].append(peak)
            print(f"  round {r + 1}/{rounds} {name:15s} {wall:8.3f} s {peak:7.1f} MB", flush=True)
    best = {k: min(v) for k, v in walls.items()}
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "best_wall_s": best,
        "peak_rss_mb": {k: max(v) for k, v in rss.items()},
        "all_wall_s": walls,
        "gateway_over_oxedi": best["gateway_parse"] / best["oxedi_process"],
    }


def print_tables(rows: list[Row], proc: dict[str, Any] | None) -> None:
    for kind in ("835", "837"):
        krows = [r for r in rows if r.kind == kind]
        if not krows:
            continue
        ours = next(r for r in krows if r.peer == "ours_stream")
        print(f"\n{kind}  ({krows[0].file} for full-file rows)")
        print(
            f"{'peer':16s} {'file':18s} {'MB':>6s} {'claims':>7s} {'best s':>8s} {'MB/s':>7s} "
            f"{'claims/s':>9s} {'peak RSS':>9s} {'ours÷peer speed':>17s}  notes"
        )
        for r in krows:
            ratio = ours.mb_s / r.mb_s
            notes = " ".join(f"{k}={v}" for k, v in r.info.items())
            print(
                f"{r.peer:16s} {r.file:18s} {r.bytes / 1e6:6.1f} {r.claims:7d} {r.best:8.3f} "
                f"{r.mb_s:7.2f} {r.claims_s:9.0f} {r.peak_rss_mb:7.1f}MB "
                f"{ratio:16.2f}x  {notes}"
            )
    if proc:
        print(f"\nwhole process on {proc['file']} ({proc['bytes'] / 1e6:.1f} MB)")
        for name, wall in proc["best_wall_s"].items():
            print(f"{name:16s} {wall:8.3f} s  peak RSS {proc['peak_rss_mb'][name]:7.1f} MB")
        print(f"gateway parse / oxedi process wall time: {proc['gateway_over_oxedi']:.2f}x")


def targets(rows: list[Row], proc: dict[str, Any] | None) -> dict[str, Any]:
    """The project's targets, checked against this run."""
    out: dict[str, Any] = {}
    ours = next((r for r in rows if r.kind == "835" and r.peer == "ours_stream"), None)
    if ours:
        out["835_stream_mb_s>=20"] = [round(ours.mb_s, 2), ours.mb_s >= 20]
        out["835_stream_claims_s>=40000"] = [round(ours.claims_s), ours.claims_s >= 40_000]
        out["835_clean(no errors, no warnings)"] = (
            ours.info.get("errors") == 0 and ours.info.get("warnings") == 0
        )
    if proc:
        ratio = proc["gateway_over_oxedi"]
        out["gateway_parse<=2x_oxedi"] = [round(ratio, 2), ratio <= 2]
        rss = proc["peak_rss_mb"]["gateway_parse"]
        out["gateway_parse_peak_rss_mb<200"] = [round(rss, 1), rss < 200]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="X12 parser benchmark against named peers")
    ap.add_argument("--claims", type=int, default=20_000, help="claims in the in-process files")
    ap.add_argument(
        "--validate-claims",
        type=int,
        default=2_000,
        help="claims in the slice pyx12's full validation runs on",
    )
    ap.add_argument(
        "--process-claims",
        type=int,
        default=100_000,
        help="claims in the file of the whole-process comparison",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--quick", action="store_true", help="2,000 claims, 500 for pyx12 validation, one round"
    )
    ap.add_argument("--only", choices=["835", "837"], help="one transaction kind")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(args.worker, args.file, args.kind)))
        return
    if args.quick:
        args.claims, args.validate_claims, args.process_claims, args.rounds = 2_000, 500, 2_000, 1

    kinds = [args.only] if args.only else ["835", "837"]
    files: dict[tuple[str, str], Path] = {}
    for kind in kinds:
        full = ensure_file(kind, args.claims)
        files[(kind, "baseline")] = full
        for peer in PEERS[kind]:
            claims = args.validate_claims if peer == "pyx12_validate" else args.claims
            files[(kind, peer)] = full if claims == args.claims else ensure_file(kind, claims)
    process_file = ensure_file("835", args.process_claims) if "835" in kinds else None

    print(f"in-process: {args.rounds} round(s)", flush=True)
    rows = bench_in_process(files, args.rounds)
    proc = None
    if process_file is not None:
        print("whole process:", flush=True)
        proc = bench_processes(process_file, args.rounds)
    print_tables(rows, proc)
    checks = targets(rows, proc)
    print("\ntargets:")
    for name, value in checks.items():
        print(f"  {name}: {value}")

    OUT.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg(),
            "platform": platform.platform(),
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": [
            {
                **asdict(r),
                "best_s": r.best,
                "mb_s": r.mb_s,
                "claims_s": r.claims_s,
                "peak_rss_mb": r.peak_rss_mb,
                "description": DESCRIPTIONS[r.peer],
            }
            for r in rows
        ],
        "process": proc,
        # floor under the whole-process RSS figures (ru_maxrss inherits the parent's peak)
        "parent_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "targets": checks,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"results-{stamp}.json", "latest.json"):
        (OUT / name).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {OUT / 'latest.json'}")


if __name__ == "__main__":
    main()
