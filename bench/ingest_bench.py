"""End-to-end ingest benchmark: raw store + parse + load of the large synthetic 835.

For each backend (SQLite, PostgreSQL) and round, a fresh migrated database and raw store are
made, then the timed part runs exactly what ``gateway ingest`` does per file: ``accept_bytes``
(hash, raw store, registry row) and ``process_now`` (lease, parse, load, commit). The loader's
own clock splits the time into parse (the event stream) and load (building rows and executing
inserts); the rest (accept, lease, commit, bookkeeping) is shown as "other".

PostgreSQL is a throwaway cluster started here like tests/integration/conftest.py does (as the
``postgres`` user, 127.0.0.1, a free port, fsync off), stopped by its PID; or the server at
``GATEWAY_TEST_POSTGRES_URL`` (a scratch database is created and dropped on it).

    .venv/bin/python bench/ingest_bench.py                      # 20,000 claims, both backends
    .venv/bin/python bench/ingest_bench.py --claims 2000 --rounds 1 --backend sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.parse_bench import OUT, ensure_file  # noqa: E402
from gateway.db.base import Database  # noqa: E402
from gateway.db.migrate import upgrade  # noqa: E402
from gateway.ingest import loader as loader_module  # noqa: E402
from gateway.ingest.replay import process_now  # noqa: E402
from gateway.intake import accept_bytes  # noqa: E402
from gateway.settings import get_settings  # noqa: E402
from gateway.store.file import FileRawStore  # noqa: E402
from tests.integration.pgcluster import throwaway_postgres  # noqa: E402


@dataclass
class Result:
    backend: str
    claims: int
    services: int
    adjustments: int
    mb: float
    seconds: float
    parse_seconds: float
    load_seconds: float

    @property
    def claims_per_s(self) -> float:
        return self.claims / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.mb / self.seconds


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """URL of a maintenance database on a throwaway cluster (or GATEWAY_TEST_POSTGRES_URL)."""
    external = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    with throwaway_postgres("fsync=off") as url:
        yield url


def _admin(base: str, sql: str) -> None:
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


@contextlib.contextmanager
def fresh_database(backend: str, pg_base: str | None, work: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = work / f"gw-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for p in work.glob(path.name + "*"):
            p.unlink()
        return
    assert pg_base is not None
    name = f"bench_{uuid.uuid4().hex[:10]}"
    _admin(pg_base, f"CREATE DATABASE {name}")
    try:
        yield make_url(pg_base).set(database=name).render_as_string(False)
    finally:
        _admin(pg_base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def ingest_once(backend: str, url: str, data: bytes, work: Path) -> Result:
    raw = work / f"raw-{uuid.uuid4().hex[:8]}"
    settings = get_settings(data_dir=work, database_url=url, log_level="WARNING", log_format="json")
    db = Database.from_settings(settings)
    stats: list[loader_module.LoadStats] = []
    original_run = loader_module.Loader.run

    def run(self: loader_module.Loader, data: bytes) -> loader_module.LoadStats:
        out = original_run(self, data)
        stats.append(out)
        return out

    try:
        upgrade(db)
        store = FileRawStore(raw)
        loader_module.Loader.run = run  # type: ignore[method-assign]
        start = time.perf_counter()
        accepted = accept_bytes(db, store, data, source="bench", original_name="big.835")
        report = process_now(db, store, settings, accepted.file_id)
        seconds = time.perf_counter() - start
    finally:
        loader_module.Loader.run = original_run  # type: ignore[method-assign]
        db.dispose()
        shutil.rmtree(raw, ignore_errors=True)
    if report.state != "processed" or not stats:
        raise SystemExit(f"{backend}: file ended {report.state}: {report}")
    st = stats[-1]
    return Result(
        backend,
        st.claim_count,
        st.service_payments,
        st.adjustments,
        len(data) / 1e6,
        seconds,
        st.parse_seconds,
        st.load_seconds,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    path = ensure_file("835", args.claims)
    data = path.read_bytes()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    best: dict[str, Result] = {}
    work = Path(tempfile.mkdtemp(prefix="gw-bench-ingest-"))
    load = os.getloadavg()
    try:
        with contextlib.ExitStack() as stack:
            pg = stack.enter_context(postgres_server()) if "postgresql" in backends else None
            for r in range(args.rounds):
                for backend in backends:
                    with fresh_database(backend, pg, work) as url:
                        res = ingest_once(backend, url, data, work)
                    print(
                        f"round {r + 1} {backend:10s} {res.seconds:6.2f} s "
                        f"{res.claims_per_s:8,.0f} claims/s",
                        flush=True,
                    )
                    if backend not in best or res.seconds < best[backend].seconds:
                        best[backend] = res
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{path.name}: {len(data) / 1e6:.1f} MB, best of {args.rounds}, "
        f"load average at start {load[0]:.2f}"
    )
    print(
        f"{'backend':10s} {'wall s':>7s} {'claims/s':>9s} {'MB/s':>6s} {'parse s':>8s} "
        f"{'load s':>7s} {'other s':>8s} {'load/parse':>10s}"
    )
    for res in best.values():
        other = res.seconds - res.parse_seconds - res.load_seconds
        print(
            f"{res.backend:10s} {res.seconds:7.2f} {res.claims_per_s:9,.0f} "
            f"{res.mb_per_s:6.1f} {res.parse_seconds:8.2f} {res.load_seconds:7.2f} "
            f"{other:8.2f} {res.load_seconds / res.parse_seconds:9.2f}x"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "ingest-latest.json").write_text(
        json.dumps(
            {
                "file": path.name,
                "rounds": args.rounds,
                "loadavg": load,
                "results": [
                    asdict(r) | {"claims_per_s": r.claims_per_s, "mb_per_s": r.mb_per_s}
                    for r in best.values()
                ],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
