"""Shared helpers of the pipeline tests: ingest in-process, count rows, snapshot contents."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.db.base import Database
from gateway.db.models import DERIVED_TABLES, InboundFile, InterchangeRow, Provider
from gateway.db.types import tbl
from gateway.ingest.replay import FileReport, process_now
from gateway.intake import accept_bytes
from gateway.security.columns import MEMBER_ID, column_cipher
from gateway.settings import Settings
from gateway.store.file import FileRawStore

ROOT = Path(__file__).resolve().parents[2]
#: the `gateway` command, independent of where the console script was installed
GATEWAY_CMD = [sys.executable, "-c", "from gateway.cli import main; main()"]
#: encrypted columns (``table.column``): sealed with a fresh nonce each time they are written
SEALED = frozenset({MEMBER_ID})


@dataclass
class Gateway:
    """Everything a test needs to drive the pipeline in-process or as subprocesses."""

    settings: Settings
    db: Database
    store: FileRawStore
    env: dict[str, str]

    def cli(
        self,
        *args: str,
        timeout: float = 120,
        extra_env: dict[str, str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``gateway ARGS`` as a subprocess against this gateway's database."""
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.run(
            [*GATEWAY_CMD, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"gateway {args} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc


#: surrogate keys: differ between runs, so contents are compared without them
SURROGATE = {
    "id",
    "file_id",
    "remittance_id",
    "claim_payment_id",
    "service_payment_id",
    "transaction_id",
    "group_id",
    "interchange_id",
    "claim_id",
    "provider_id",
}


def ingest(gw: Gateway, data: bytes, name: str = "test.835") -> FileReport:
    """Accept and process one file synchronously (what ``gateway ingest`` does per file)."""
    res = accept_bytes(gw.db, gw.store, data, source="test", original_name=name)
    return process_now(gw.db, gw.store, gw.settings, res.file_id)


def counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {
            m.__tablename__: s.execute(select(func.count()).select_from(tbl(m))).scalar_one()
            for m in DERIVED_TABLES
        }


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every derived row (and each file's final state), keyed by file sha256, ids removed."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    cipher = column_cipher()
    with db.read() as s:
        sha: dict[int, str] = {
            r.id: r.sha256 for r in s.execute(select(InboundFile.id, InboundFile.sha256))
        }
        providers: dict[int, str] = {
            r.id: r.key for r in s.execute(select(Provider.id, Provider.key))
        }
        out["inbound_files"] = sorted(
            (
                r.sha256,
                r.state,
                r.kind,
                r.claim_count,
                r.error_code or "",
                providers.get(r.provider_id, "") if r.provider_id else "",
            )
            for r in s.execute(select(InboundFile)).scalars()
        )
        out["providers"] = sorted((k,) for k in providers.values())
        for model in (*DERIVED_TABLES,):
            t = tbl(model)
            cols = [c for c in t.c if c.name not in SURROGATE]
            rows = []
            for r in s.execute(
                select(t.c.file_id, t.c.provider_id if "provider_id" in t.c else t.c.file_id, *cols)
            ).all():
                pid = r[1] if "provider_id" in t.c else None
                # sealed PHI columns (encryption is on by default) compare as their plaintext
                values = [
                    cipher.open(v, f"{t.name}.{c.name}")
                    if f"{t.name}.{c.name}" in SEALED and v is not None
                    else v
                    for c, v in zip(cols, r[2:], strict=True)
                ]
                rows.append(
                    (sha[r[0]], providers.get(pid, "") if pid else "", *(str(v) for v in values))
                )
            out[t.name] = sorted(rows)
    return out


def interchange_keys(db: Database) -> list[tuple[str, str]]:
    with db.read() as s:
        return sorted(
            (r.sender_id, r.control_number)
            for r in s.execute(select(InterchangeRow.sender_id, InterchangeRow.control_number))
        )
