"""Raw-store throughput: put and get of 2 KB and 50 MB files on each backend, next to a plain
file copy on the same disk, in the same run.

    .venv/bin/python bench/store_bench.py [--small 1000] [--large 3] [--backends file,postgres,s3]

Starts its own PostgreSQL 15 cluster (default durability: fsync and synchronous_commit ON, like
the file store's fsync-before-rename) and a moto S3 server (an in-memory Python server, so the
s3 figures measure our client path, not a real object store), both on 127.0.0.1, stopped by PID.
Every side reads the same source files, written before anything is timed. Memory: the
tracemalloc peak (Python allocations) of one more 50 MB put and get, in a pass of its own
(tracemalloc slows every allocation, so nothing timed runs under it), and the process RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.db.base import Database  # noqa: E402
from gateway.db.migrate import upgrade  # noqa: E402
from gateway.store import ManagedRawStore  # noqa: E402
from gateway.store.file import FileRawStore  # noqa: E402
from gateway.store.postgres import PostgresRawStore  # noqa: E402
from gateway.store.s3 import S3RawStore  # noqa: E402
from tests.integration.pgcluster import free_port, throwaway_postgres  # noqa: E402

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
    proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                             "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


class Pattern(io.RawIOBase):
    """``size`` bytes of X12-looking text, generated as read (never whole in memory)."""

    def __init__(self, size: int, seed: int) -> None:
        seg = (f"CLP*PCN{seed}-%06d*1*123.45*100.00*23.45*12*PCC{seed}*11*1~\n"
               "SVC*HC:99213*123.45*100.00**1~\nCAS*CO*45*23.45~\n")
        self._block = b"".join((seg % i).encode() for i in range(2000))
        self._left = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._left)
        done = 0
        while done < n:
            take = min(n - done, len(self._block) - self._pos)
            buffer[done:done + take] = self._block[self._pos:self._pos + take]
            self._pos = (self._pos + take) % len(self._block)
            done += take
        self._left -= n
        return n


def _stream(size: int, seed: int) -> BinaryIO:
    return io.BufferedReader(Pattern(size, seed), MB)


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
SIZES = (("2KB", 2048), ("50MB", 50 * MB))


def make_sources(workdir: Path, small: int, large: int) -> Sources:
    """The input files every side reads from (written before anything is timed)."""
    src_dir = workdir / "src"
    src_dir.mkdir(exist_ok=True)
    sources: Sources = {}
    for (label, size), count in zip(SIZES, (small, large), strict=True):
        sources[label] = []
        for i in range(count):
            p = src_dir / f"{label}-{i}"
            with p.open("wb") as fh:
                shutil.copyfileobj(_stream(size, i + size), fh, MB)
            sources[label].append(p)
    return sources


def plain_copy(workdir: Path, sources: Sources) -> dict[str, float]:
    """The floor: copy each source file + fsync it (and read it back)."""
    out: dict[str, float] = {}
    for label, size in SIZES:
        dst = workdir / f"copy-{label}"
        dst.mkdir(exist_ok=True)

        def put(paths: list[Path] = sources[label], dst: Path = dst) -> None:
            for p in paths:
                target = dst / p.name
                with p.open("rb") as fi, target.open("wb") as fo:
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
        out[f"bytes {label}"] = size * len(sources[label])
        out[f"count {label}"] = len(sources[label])
    return out


def run_store(store: ManagedRawStore, sources: Sources) -> dict[str, float]:
    out: dict[str, float] = {}
    store.exists("0" * 64)  # connect outside the timings
    for label, size in SIZES:
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
        out[f"bytes {label}"] = size * len(sources[label])
        out[f"count {label}"] = len(sources[label])
    # memory: one more 50 MB put of new bytes (a dedupe hit would not stream) and its get
    new: list[str] = []

    def put_one() -> None:
        new.append(store.put(_stream(50 * MB, 99_999)).sha256)

    def get_one() -> None:
        with store.open(new[0]) as fh:
            while fh.read(MB):
                pass

    out["mem put 50MB"] = _peak(put_one)
    out["mem get 50MB"] = _peak(get_one)
    out["rss"] = _rss_mb()
    return out


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


def report(name: str, r: dict[str, float], floor: dict[str, float]) -> None:
    for label in ("2KB", "50MB"):
        for op in ("put", "get"):
            secs = r[f"{op} {label}"]
            mbs = r[f"bytes {label}"] / MB / secs
            fps = r[f"count {label}"] / secs
            ratio = secs and floor[f"{op} {label}"] / secs
            mem = r.get(f"mem {op} {label}")
            extra = f"  peak {mem:6.1f} MiB" if mem is not None else ""
            print(f"{name:<9} {op} {label:<5} {mbs:9.1f} MB/s {fps:9.1f} files/s "
                  f"{100 * ratio:6.0f}% of plain copy{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=3)
    ap.add_argument("--backends", default="file,postgres,s3")
    ap.add_argument("--threads", type=int, default=8, help="Concurrent 2 KB uploaders")
    ap.add_argument("--dir", type=Path, default=None, help="Work dir (default: a temp dir)")
    args = ap.parse_args()
    backends = args.backends.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="gw-store-bench-", dir=args.dir))
    os.chmod(workdir, 0o755)  # noqa: S103  the postgres user must reach its cluster dir
    try:
        sources = make_sources(workdir, args.small, args.large)
        floor = plain_copy(workdir, sources)
        report("copy", floor, floor)
        if "file" in backends:
            fstore = FileRawStore(workdir / "raw")
            report("file", run_store(fstore, sources), floor)
            print(f"file      put 2KB x{args.threads} threads: "
                  f"{concurrent_small(fstore, args.small, args.threads):8.1f} files/s")
        if "postgres" in backends:
            with postgres(workdir) as url:
                store = PostgresRawStore(url)
                report("postgres", run_store(store, sources), floor)
                print(f"postgres  put 2KB x{args.threads} threads: "
                      f"{concurrent_small(store, args.small, args.threads):8.1f} files/s")
                store.dispose()
        if "s3" in backends:
            with moto() as endpoint:
                import boto3

                boto3.session.Session().client(
                    "s3", endpoint_url=endpoint, region_name="us-east-1",
                    aws_access_key_id="bench", aws_secret_access_key="bench",  # noqa: S106
                ).create_bucket(Bucket="gw-bench")
                s3 = S3RawStore(bucket="gw-bench", endpoint_url=endpoint, region="us-east-1",
                                access_key_id="bench",
                                secret_access_key="bench")  # noqa: S106  moto dummy key
                report("s3(moto)", run_store(s3, sources), floor)
        print(f"process RSS at the end: {_rss_mb():.0f} MiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
