"""SFTP pull throughput over loopback: the gateway's poll vs the OpenSSH ``sftp`` client.

Run as root (or any user with sshd installed): ``.venv/bin/python bench/sftp_bench.py``.
Starts its own sshd (the test fixture's recipe), then for 200 small files and one 200 MB file:

* gateway: ``poll_partner`` streaming each file straight into ``accept_stream`` (the file raw
  store hashes and fsyncs while it reads; the registry row commits in a migrated SQLite
  database), then the remote archive move; up to ``--connections`` sessions per poll;
* paramiko-get: paramiko's own ``SFTPClient.get`` of the same files (no hash, no fsync);
* openssh: ``sftp -b`` doing a plain ``get`` of the same files into a local folder.

Rounds are interleaved (openssh, paramiko, gateway, repeat) because the machine is shared and
noisy; each side's best round is reported, and every round is printed.

Each side runs in its own child process so its peak RSS (``wait4``) is its own. For the big
file each round also times a plain 200 MiB write + fsync into the work folder ("disk"): not a
peer, but the context the gateway's durable write runs in (this VM's disk swings between
about 300 MB/s and 1.2 GB/s within minutes, and OpenSSH's client does not fsync).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.sshd import SshdServer, start_sshd  # noqa: E402

SMALL_COUNT = 200
SMALL_SIZE = 8 * 1024
BIG_SIZE = 200 * 1024 * 1024


def _make(server: SshdServer, kind: str) -> Path:
    base = server.make_tree("inbox", "archive")
    if kind == "small":
        for i in range(SMALL_COUNT):
            server.put(base / "inbox" / f"f{i:04d}.835", os.urandom(SMALL_SIZE))
    else:
        path = base / "inbox" / "big.835"
        with path.open("wb") as fh:
            for _ in range(BIG_SIZE // (1 << 20)):
                fh.write(os.urandom(1 << 20))
        os.chown(path, server.uid, server.gid)
    # the new source data goes to disk now, not during the next side's timed pull (whose
    # own writes and fsync would otherwise queue behind it)
    os.sync()
    return base


def _child(args: list[str]) -> tuple[float, str]:
    """Run a child; return (seconds, stdout). The child reports its own peak RSS."""
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, timeout=600, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode()[-2000:]}")
    return elapsed, proc.stdout.decode()


def _gateway(
    server: SshdServer, base: Path, work: Path, mode: str = "gateway", connections: int = 4
) -> dict[str, float]:
    spec = json.dumps(
        {
            "port": server.port,
            "user": server.user,
            "key": str(server.client_key),
            "host_key": server.host_key_line,
            "base": str(base),
            "work": str(work),
            "mode": mode,
            "connections": connections,
        }
    )
    elapsed, out = _child([sys.executable, __file__, "--worker", spec])
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["wall_seconds"] = elapsed
    return result


def _worker(spec_json: str) -> None:
    import resource

    from gateway.db.base import Database
    from gateway.db.migrate import upgrade
    from gateway.intake.pull import poll_partner
    from gateway.logging import configure_logging
    from gateway.partners import make_acceptor
    from gateway.settings import get_settings
    from gateway.store.file import FileRawStore
    from mappings.partners import parse_partner

    spec = json.loads(spec_json)
    base, work = Path(spec["base"]), Path(spec["work"])
    configure_logging("WARNING", "json")
    profile = parse_partner(
        {
            "id": "bench",
            "name": "bench",
            "role": "clearinghouse",
            "host": "127.0.0.1",
            "port": spec["port"],
            "username": spec["user"],
            "auth": {"private_key_path": spec["key"]},
            "host_key": spec["host_key"],
            "inbox_dir": str(base / "inbox"),
            "archive_dir": str(base / "archive"),
            "stable_seconds": 0,
            "timeouts": {"operation_seconds": 120},
            "max_connections": spec["connections"],
        },
        "<bench>",
    )
    if spec["mode"] == "paramiko-get":
        # the library's own download with its defaults: no hashing, no fsync, none of our
        # transport tuning (cipher order, TCP_NODELAY, window) and its own prefetch
        import paramiko

        start = time.perf_counter()
        dest = work / "get"
        dest.mkdir()
        client = paramiko.SSHClient()
        for name, keys in profile.host_keys().items():
            for keytype, key in keys.items():
                client.get_host_keys().add(name, keytype, key)
        client.connect(
            "127.0.0.1",
            port=spec["port"],
            username=spec["user"],
            key_filename=spec["key"],
            look_for_keys=False,
            allow_agent=False,
        )
        sftp = client.open_sftp()
        inbox = str(base / "inbox")
        for name in sorted(sftp.listdir(inbox)):
            sftp.get(f"{inbox}/{name}", str(dest / name))
        client.close()
        seconds = time.perf_counter() - start
        files = list(dest.iterdir())
        print(
            json.dumps(
                {
                    "seconds": seconds,
                    "files": len(files),
                    "bytes": sum(f.stat().st_size for f in files),
                    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
        )
        return
    # The real intake path: SQLite registry (migrated) + file raw store + accept_stream.
    if spec["mode"] == "gateway-no-readahead":  # A/B: hash and write in the reading thread
        import gateway.intake.pull as sftp_module

        sftp_module.READ_AHEAD_FROM = 1 << 62
    settings = get_settings(data_dir=work / "data")
    db = Database.from_settings(settings)
    upgrade(db)
    store = FileRawStore(work / "data" / "raw")
    start = time.perf_counter()
    result = poll_partner(profile, make_acceptor(db, store, settings))
    seconds = time.perf_counter() - start
    assert result.ok, result
    assert all(not p.duplicate for p in result.pulled)
    size = sum(p.size for p in result.pulled)
    db.dispose()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "files": len(result.pulled),
                "bytes": size,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def _openssh(server: SshdServer, base: Path, work: Path) -> dict[str, float]:
    known = work / "known_hosts"
    known.write_text(server.host_key_line + "\n")
    dest = work / "openssh"
    dest.mkdir()
    batch = work / "batch"
    batch.write_text(f"lcd {dest}\ncd {base / 'inbox'}\nget *\n")
    args = [
        "sftp",
        "-q",
        "-b",
        str(batch),
        "-i",
        str(server.client_key),
        "-P",
        str(server.port),
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        f"{server.user}@127.0.0.1",
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # its own peak RSS, not the children's maximum
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"sftp failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    files = list(dest.iterdir())
    return {
        "seconds": seconds,
        "files": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


def _disk(work: Path) -> dict[str, float]:
    """The disk's durable write speed right now: 200 MiB written and fsynced, no network."""
    block = os.urandom(1 << 20)
    path = work / "disk.bin"
    start = time.perf_counter()
    with path.open("wb") as fh:
        for _ in range(BIG_SIZE // (1 << 20)):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    seconds = time.perf_counter() - start
    path.unlink()
    return {"seconds": seconds, "files": 1, "bytes": BIG_SIZE, "peak_rss_mib": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--rounds", type=int, default=3, help="Repeats; the best is reported")
    parser.add_argument(
        "--connections",
        type=int,
        default=4,
        help="The bench partner's max_connections (sessions per poll)",
    )
    parser.add_argument("--only", choices=["small", "big"], default=None)
    parser.add_argument(
        "--sides",
        default="openssh,paramiko-get,gateway",
        help="Comma list of openssh, paramiko-get, gateway, gateway-no-readahead",
    )
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return
    server = start_sshd()
    work = Path(tempfile.mkdtemp(prefix="gw-sftp-bench-"))
    sides = tuple(args.sides.split(","))
    try:
        for kind in ("small", "big"):
            if args.only and kind != args.only:
                continue
            runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
            for rnd in range(args.rounds):
                for side in sides:  # interleaved, so load on the shared machine hits all sides
                    base = _make(server, kind)
                    w = work / f"{kind}-{side}-{rnd}"
                    w.mkdir()
                    if side == "openssh":
                        runs[side].append(_openssh(server, base, w))
                    else:
                        runs[side].append(
                            _gateway(server, base, w, mode=side, connections=args.connections)
                        )
                    shutil.rmtree(w, ignore_errors=True)
                    shutil.rmtree(base, ignore_errors=True)
                if kind == "big":
                    runs.setdefault("disk", []).append(_disk(work))
            best = {side: min(rs, key=lambda r: r["seconds"]) for side, rs in runs.items()}
            for side, rs in runs.items():
                for i, r in enumerate(rs):
                    _row(kind, f"{side}#{i + 1}", r)
            for side in sides:
                _row(kind, f"{side} best", best[side])
            if "disk" in best:
                _row(kind, "disk best", best["disk"])
            for side in sides:
                if side != "openssh" and "openssh" in best:
                    ratio = best["openssh"]["seconds"] / best[side]["seconds"]
                    print(
                        f"{kind:5} {side}/openssh throughput (best of {args.rounds}): {ratio:.0%}"
                    )
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def _row(kind: str, label: str, r: dict[str, float]) -> None:
    mb_s = r["bytes"] / (1 << 20) / r["seconds"]
    files_s = r["files"] / r["seconds"]
    print(
        f"{kind:5} {label:18} files={int(r['files']):4d} MiB={r['bytes'] / (1 << 20):7.1f} "
        f"s={r['seconds']:6.2f} MiB/s={mb_s:7.1f} files/s={files_s:7.1f} "
        f"peak_rss_MiB={r['peak_rss_mib']:6.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
