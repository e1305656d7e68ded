"""Raw-store throughput: put and get of 2 KB and 50 MB files on each backend, next to a plain
file copy on the same disk, in the same run.

    .venv/bin/python bench/store_bench.py [--small 1000] [--large 3] [--rounds 3]
                                          [--backends file,postgres,s3]

The sources are what the store holds in production: 835 remittances (bench/make_big_835.py,
varied amounts, names and dates; zstd level 1 makes them 4.1x smaller), 50 MB each and 2 KB
slices of them, plus 50 MB of random bytes (``50MB-rnd``: incompressible, like an encrypted
or zipped upload), the floor for the postgres backend's compression. Every side reads the same
source files, written before anything is timed.

Rounds: each round copies/puts every source into a FRESH target (new directories, emptied
tables, a new bucket), sides in turn, so the disk's minute-to-minute swings hit all of them;
the report gives the median and range over rounds and the median of each round's ratio to the
plain copy and to the ``file`` backend of the same round.

Starts its own PostgreSQL 15 cluster (default durability: fsync and synchronous_commit ON, like
the file store's fsync-before-rename) and a moto S3 server (an in-memory Python server, so the
s3 figures measure our client path, not a real object store), both on 127.0.0.1, stopped by PID.
Memory: the tracemalloc peak (Python allocations) of one more 50 MB put and get, in a pass of
its own (tracemalloc slows every allocation, so nothing timed runs under it), and the RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from make_big_835 import generate
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.db.base import Database  # noqa: E402
from gateway.db.migrate import upgrade  # noqa: E402
from gateway.store import ManagedRawStore  # noqa: E402
from gateway.store.file import FileRawStore  # noqa: E402
from gateway.store.postgres import PostgresRawStore  # noqa: E402
from gateway.store.s3 import S3RawStore  # noqa: E402
from tests.integration.pgcluster import free_port, throwaway_postgres  # noqa: E402
from tests.integration.storekit import PatternStream  # noqa: E402

MB = 1024 * 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def postgres(workdir: Path) -> Iterator[str]:
    """A throwaway cluster with default durability (fsync on), migrated."""
    with throwaway_postgres("max_wal_size=2GB", parent=workdir) as url:
        db = Database.from_url(url)
        upgrade(db)
        db.dispose()
        yield url


@contextlib.contextmanager
def moto() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _timed(fn: Callable[[], None]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _peak(fn: Callable[[], None]) -> float:
    """Peak Python allocations (MiB) of ``fn``, in a pass of its own: tracemalloc slows every
    allocation, so it never runs while something is timed."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / MB
    tracemalloc.stop()
    return peak


Sources = dict[str, list[Path]]
Result = dict[str, float]
LABELS = ("2KB", "50MB", "50MB-rnd")
CLAIMS_50MB = 132_000  # a little over 50 MiB of 835, cut to 50 MiB


def make_sources(workdir: Path, small: int, large: int) -> Sources:
    """The input files every side reads from (written before anything is timed)."""
    src = workdir / "src"
    src.mkdir(exist_ok=True)
    sources: Sources = {label: [] for label in LABELS}
    for i in range(large):
        path = src / f"50MB-{i}"
        generate(path, CLAIMS_50MB, seed=835 + i)
        with path.open("r+b") as fh:
            fh.truncate(50 * MB)
        sources["50MB"].append(path)
        noise = src / f"50MB-rnd-{i}"
        with noise.open("wb") as fh:
            for _ in range(50):
                fh.write(os.urandom(MB))
        sources["50MB-rnd"].append(noise)
    with sources["50MB"][0].open("rb") as fh:  # distinct 2 KB slices of a remittance
        for i in range(small):
            path = src / f"2KB-{i}"
            path.write_bytes(fh.read(2048))
            sources["2KB"].append(path)
    return sources


def _sized(out: Result, label: str, paths: list[Path]) -> None:
    out[f"bytes {label}"] = sum(p.stat().st_size for p in paths)
    out[f"count {label}"] = len(paths)


def plain_copy(dst_root: Path, sources: Sources) -> Result:
    """The floor: copy each source file + fsync it (and read it back)."""
    out: Result = {}
    for label in LABELS:
        dst = dst_root / label
        dst.mkdir(parents=True)

        def put(paths: list[Path] = sources[label], dst: Path = dst) -> None:
            for p in paths:
                with p.open("rb") as fi, (dst / p.name).open("wb") as fo:
                    shutil.copyfileobj(fi, fo, MB)
                    fo.flush()
                    os.fsync(fo.fileno())

        def get(paths: list[Path] = sources[label], dst: Path = dst) -> None:
            for p in paths:
                with (dst / p.name).open("rb") as fh:
                    while fh.read(MB):
                        pass

        out[f"put {label}"] = _timed(put)
        out[f"get {label}"] = _timed(get)
        _sized(out, label, sources[label])
    return out


def run_store(store: ManagedRawStore, sources: Sources) -> Result:
    out: Result = {}
    store.exists("0" * 64)  # connect outside the timings
    for label in LABELS:
        shas: list[str] = []

        def put(paths: list[Path] = sources[label], shas: list[str] = shas) -> None:
            for p in paths:
                with p.open("rb") as fh:
                    shas.append(store.put(fh).sha256)

        def get(shas: list[str] = shas) -> None:
            for sha in shas:
                h = hashlib.sha256()
                with store.open(sha) as fh:
                    while chunk := fh.read(MB):
                        h.update(chunk)

        out[f"put {label}"] = _timed(put)
        out[f"get {label}"] = _timed(get)
        _sized(out, label, sources[label])
    return out


def memory(store: ManagedRawStore) -> Result:
    """Peak Python allocations of one more 50 MB put of new bytes and its get."""
    new: list[str] = []

    def put_one() -> None:
        new.append(store.put(cast(BinaryIO, PatternStream(50 * MB, seed=99))).sha256)

    def get_one() -> None:
        with store.open(new[0]) as fh:
            while fh.read(MB):
                pass

    return {"mem put": _peak(put_one), "mem get": _peak(get_one)}


def concurrent_small(store: ManagedRawStore, files: int, threads: int) -> float:
    """files/s of 2 KB puts from ``threads`` uploaders at once (an API with N requests)."""
    from concurrent.futures import ThreadPoolExecutor

    payloads = [os.urandom(2048) for _ in range(files)]  # new bytes: no dedupe hits

    def put(data: bytes) -> None:
        store.put(io.BytesIO(data))

    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, payloads))
    return files / (time.perf_counter() - t)


def _spread(values: list[float], fmt: str = "{:.0f}") -> str:
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def report(
    name: str, rounds: list[Result], copies: list[Result], files: list[Result], mem: Result | None
) -> None:
    """Median (range) over rounds; ratios are per round, against the same round's peers."""
    for label in LABELS:
        for op in ("put", "get"):
            key = f"{op} {label}"
            mbs = [r[f"bytes {label}"] / 1e6 / r[key] for r in rounds]
            fps = [r[f"count {label}"] / r[key] for r in rounds]
            vs_copy = [100 * c[key] / r[key] for r, c in zip(rounds, copies, strict=True)]
            line = (
                f"{name:<9} {op} {label:<8} {_spread(mbs):>17} MB/s "
                f"{_spread(fps, '{:.1f}'):>24} files/s  {_spread(vs_copy):>14}% of copy"
            )
            if files and name not in ("copy", "file"):
                vs_file = [100 * f[key] / r[key] for r, f in zip(rounds, files, strict=True)]
                line += f"  {_spread(vs_file):>14}% of file"
            if mem is not None and label == "50MB-rnd":
                line += f"  peak {mem[f'mem {op}']:5.1f} MiB"
            print(line, flush=True)


@contextlib.contextmanager
def _s3_buckets() -> Iterator[Callable[[], S3RawStore]]:
    """A factory of s3 stores, each on a new bucket of one moto server."""
    import boto3

    with moto() as endpoint:
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106  moto dummy key
        )
        made = [0]

        def new_store() -> S3RawStore:
            made[0] += 1
            bucket = f"gw-bench-{made[0]}"
            client.create_bucket(Bucket=bucket)
            return S3RawStore(
                bucket=bucket,
                endpoint_url=endpoint,
                region="us-east-1",
                access_key_id="bench",
                secret_access_key="bench",  # noqa: S106  moto dummy key
            )

        yield new_store


def _truncate(url: str) -> None:
    """Empty the postgres backend's tables (a fresh target for the next side)."""
    db = Database.from_url(url)
    with db.write() as s:
        s.execute(text("TRUNCATE raw_chunks, raw_blobs"))
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backends", default="file,postgres,s3")
    ap.add_argument(
        "--compression",
        default="zstd,none",
        help="postgres backend variants (GATEWAY_RAW_STORE_COMPRESSION values)",
    )
    ap.add_argument("--threads", type=int, default=8, help="Concurrent 2 KB uploaders")
    ap.add_argument("--dir", type=Path, default=None, help="Work dir (default: a temp dir)")
    args = ap.parse_args()
    if args.large < 1:
        ap.error("--large must be at least 1 (the 2 KB files are slices of the first)")
    backends = args.backends.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="gw-store-bench-", dir=args.dir))
    os.chmod(workdir, 0o755)  # noqa: S103  the postgres user must reach its cluster dir
    try:
        with contextlib.ExitStack() as stack:
            sources = make_sources(workdir, args.small, args.large)
            pg_url = stack.enter_context(postgres(workdir)) if "postgres" in backends else ""
            new_s3 = stack.enter_context(_s3_buckets()) if "s3" in backends else None
            sides = [
                "copy",
                *(["file"] if "file" in backends else []),
                *([f"pg-{c}" for c in args.compression.split(",")] if pg_url else []),
                *(["s3(moto)"] if new_s3 else []),
            ]

            def new_store(side: str, target: Path) -> ManagedRawStore:
                if side == "file":
                    return FileRawStore(target / "raw")
                if side.startswith("pg-"):
                    _truncate(pg_url)
                    return PostgresRawStore(pg_url, compression=side[3:])
                assert new_s3 is not None
                return new_s3()

            results: dict[str, list[Result]] = {side: [] for side in sides}
            concurrent: dict[str, list[float]] = {side: [] for side in sides}
            for rnd in range(args.rounds):
                for side in sides:
                    target = workdir / f"round{rnd}-{side}"
                    if side == "copy":
                        results[side].append(plain_copy(target, sources))
                    else:
                        store = new_store(side, target)
                        results[side].append(run_store(store, sources))
                        if side != "s3(moto)":
                            concurrent[side].append(
                                concurrent_small(store, args.small, args.threads)
                            )
                        if isinstance(store, PostgresRawStore):
                            store.dispose()
                    shutil.rmtree(target, ignore_errors=True)
                print(f"round {rnd + 1} of {args.rounds} done", flush=True)
            for side in sides:
                mem = None
                if side != "copy":
                    store = new_store(side, workdir / f"mem-{side}")
                    mem = memory(store)
                    if isinstance(store, PostgresRawStore):
                        store.dispose()
                report(side, results[side], results["copy"], results.get("file", []), mem)
                if concurrent[side]:
                    print(
                        f"{side:<9} put 2KB x{args.threads} threads: "
                        f"{_spread(concurrent[side])} files/s"
                    )
            print(f"process RSS at the end: {_rss_mb():.0f} MiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
