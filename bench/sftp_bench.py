"""SFTP pull throughput over loopback: the gateway's poll vs the OpenSSH ``sftp`` client.

Run as root (or any user with sshd installed): ``.venv/bin/python bench/sftp_bench.py``.
Starts its own sshd (the test fixture's recipe), then for 200 small files and one 200 MB file:

* gateway: ``poll_partner`` streaming to a temp file, then a content-addressed acceptor that
  hashes, copies and fsyncs (what the raw store does), then the remote archive move;
* openssh: ``sftp -b`` doing a plain ``get`` of the same files into a local folder.

Each side runs in its own child process so its peak RSS (``wait4``) is its own.
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

from tests.integration.sshd import ContentStoreAcceptor, SshdServer, start_sshd  # noqa: E402

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
    return base


def _child(args: list[str]) -> tuple[float, str]:
    """Run a child; return (seconds, stdout). The child reports its own peak RSS."""
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, timeout=600, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode()[-2000:]}")
    return elapsed, proc.stdout.decode()


def _gateway(server: SshdServer, base: Path, work: Path) -> dict[str, float]:
    spec = json.dumps({"port": server.port, "user": server.user, "key": str(server.client_key),
                       "host_key": server.host_key_line, "base": str(base), "work": str(work)})
    elapsed, out = _child([sys.executable, __file__, "--worker", spec])
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["wall_seconds"] = elapsed
    return result


def _worker(spec_json: str) -> None:
    import resource

    from gateway.intake.sftp import poll_partner
    from mappings.partners import parse_partner

    spec = json.loads(spec_json)
    base, work = Path(spec["base"]), Path(spec["work"])
    profile = parse_partner({
        "id": "bench", "name": "bench", "role": "clearinghouse", "host": "127.0.0.1",
        "port": spec["port"], "username": spec["user"],
        "auth": {"private_key_path": spec["key"]}, "host_key": spec["host_key"],
        "inbox_dir": str(base / "inbox"), "archive_dir": str(base / "archive"),
        "stable_seconds": 0, "timeouts": {"operation_seconds": 120},
    }, "<bench>")
    store = ContentStoreAcceptor(work / "store")
    start = time.perf_counter()
    result = poll_partner(profile, store, staging_dir=work / "staging")
    seconds = time.perf_counter() - start
    assert result.ok, result
    size = sum(p.size for p in result.pulled)
    print(json.dumps({"seconds": seconds, "files": len(result.pulled), "bytes": size,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _openssh(server: SshdServer, base: Path, work: Path) -> dict[str, float]:
    known = work / "known_hosts"
    known.write_text(server.host_key_line + "\n")
    dest = work / "openssh"
    dest.mkdir()
    batch = work / "batch"
    batch.write_text(f"lcd {dest}\ncd {base / 'inbox'}\nget *\n")
    args = ["sftp", "-q", "-b", str(batch), "-i", str(server.client_key), "-P", str(server.port),
            "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", f"{server.user}@127.0.0.1"]
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # its own peak RSS, not the children's maximum
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"sftp failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    files = list(dest.iterdir())
    return {"seconds": seconds, "files": len(files),
            "bytes": sum(f.stat().st_size for f in files),
            "peak_rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker)
        return
    server = start_sshd()
    work = Path(tempfile.mkdtemp(prefix="gw-sftp-bench-"))
    try:
        for kind in ("small", "big"):
            rows = {}
            for side in ("openssh", "gateway", "openssh2", "gateway2"):
                base = _make(server, kind)
                w = work / f"{kind}-{side}"
                w.mkdir()
                fn = _openssh if side.startswith("openssh") else _gateway
                rows[side] = fn(server, base, w)
                shutil.rmtree(w, ignore_errors=True)
                shutil.rmtree(base, ignore_errors=True)
            for side, r in rows.items():
                mb_s = r["bytes"] / (1 << 20) / r["seconds"]
                files_s = r["files"] / r["seconds"]
                print(f"{kind:5} {side:9} files={int(r['files']):4d} "
                      f"MiB={r['bytes'] / (1 << 20):7.1f} s={r['seconds']:6.2f} "
                      f"MiB/s={mb_s:7.1f} files/s={files_s:7.1f} "
                      f"peak_rss_MiB={r['peak_rss_mib']:6.1f}")
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
