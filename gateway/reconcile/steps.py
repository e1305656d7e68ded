"""The set-based steps of a reconciliation run around its chunks: the payer aliases the SQL
joins, the scope of an incremental run, the posting variances and the watermark of reconciled
files (``service`` calls them in order).
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments (``sql``) and our own
# temp-table names; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.orm import Session

from gateway.db.types import tbl
from gateway.reconcile import sql as q
from gateway.reconcile.diff import Key, classify_variance, money
from gateway.reconcile.runs import RunSummary
from gateway.reconcile.tables import PayerAlias, PostingVariance, ReconciledFile
from mappings.payers import PayerDirectory


def sync_aliases(s: Session, payers: PayerDirectory) -> None:
    t = tbl(PayerAlias)
    s.execute(delete(t))
    aliases = payers.aliases()
    if aliases:
        s.execute(insert(t), [{"alias": a, "payer_id": p} for a, p in sorted(aliases.items())])


def fill_scope(s: Session, extra: set[Key], day: dt.date) -> None:
    """Claim keys touched by the new files, relinked keys, claims with pending credits, and
    claims whose wait for a ledger ends by ``day``."""
    q.create_temp(s, "rc_scope_raw")
    s.execute(
        text(
            "INSERT INTO rc_scope_raw (pid, pcn) "
            "SELECT cp.provider_id, COALESCE(l.patient_control_number, cp.patient_control_number) "
            "FROM rc_files f JOIN claim_payments cp ON cp.file_id = f.file_id "
            "LEFT JOIN claim_links l ON l.claim_payment_id = cp.id "
            "WHERE cp.provider_id IS NOT NULL "
            "UNION ALL SELECT le.provider_id, le.patient_control_number FROM rc_files f "
            "JOIN ledger_entries le ON le.file_id = f.file_id "
            "UNION ALL SELECT c.provider_id, c.patient_control_number FROM rc_files f "
            "JOIN claims c ON c.file_id = f.file_id WHERE c.provider_id IS NOT NULL "
            "UNION ALL SELECT m.provider_id, m.patient_control_number FROM rc_files f "
            "JOIN provider_adjustments pa ON pa.file_id = f.file_id "
            "JOIN plb_matches m ON m.provider_adjustment_id = pa.id "
            "WHERE m.patient_control_number IS NOT NULL "
            "UNION ALL SELECT provider_id, patient_control_number FROM credits "
            "WHERE status = 'pending' "
            "UNION ALL SELECT provider_id, patient_control_number FROM claim_waits "
            "WHERE until <= :day"
        ),
        {"day": day},
    )
    if extra:
        s.execute(
            text("INSERT INTO rc_scope_raw (pid, pcn) VALUES (:p, :n)"),
            [{"p": p, "n": n} for p, n in sorted(extra)],
        )
    q.create_temp(s, "rc_scope")
    s.execute(text("INSERT INTO rc_scope (pid, pcn) SELECT DISTINCT pid, pcn FROM rc_scope_raw"))
    q.drop_temp(s, "rc_scope_raw")
    q.analyze(s, "rc_scope")


def variances(
    s: Session, scope: str | None, day: dt.date, run_id: int, summary: RunSummary
) -> None:
    vt = tbl(PostingVariance)
    if scope is None:
        s.execute(delete(vt))
    else:
        s.execute(
            text(
                "DELETE FROM posting_variances WHERE EXISTS (SELECT 1 FROM rc_scope s "
                "WHERE s.pid = posting_variances.provider_id "
                "AND s.pcn = posting_variances.patient_control_number)"
            )
        )
    rows = s.execute(text(q.variances(scope))).all()
    accounts: dict[Key, str | None] = {}
    keys = sorted({(int(r.pid), str(r.pcn)) for r in rows})
    if keys:
        q.create_temp(s, "rc_vkeys")
        s.execute(
            text("INSERT INTO rc_vkeys (pid, pcn) VALUES (:p, :n)"),
            [{"p": p, "n": n} for p, n in keys],
        )
        q.analyze(s, "rc_vkeys")
        for r in s.execute(
            text(
                f"SELECT le.provider_id, le.patient_control_number, MIN(le.account_id) "
                f"FROM {q.ledger('rc_vkeys')} "
                "GROUP BY le.provider_id, le.patient_control_number"
            )
        ):
            accounts[(int(r[0]), str(r[1]))] = r[2]
        q.drop_temp(s, "rc_vkeys")
    values = [
        {
            "provider_id": int(r.pid),
            "account_id": accounts.get((int(r.pid), str(r.pcn))),
            "patient_control_number": r.pcn,
            "payer_id": r.payer,
            "kind": classify_variance(int(r.posted), int(r.npost), int(r.remit)),
            "posted": money(r.posted),
            "remitted": money(r.remit),
            "difference": money(int(r.posted) - int(r.remit)),
            "postings": int(r.npost),
            "detected_on": day,
            "run_id": run_id,
        }
        for r in sorted(rows, key=lambda r: (r.pid, r.pcn, r.payer))
    ]
    if values:
        s.execute(insert(vt), values)
    summary.variances = int(s.execute(text("SELECT COUNT(*) FROM posting_variances")).scalar_one())


def record_files(
    s: Session, files: list[Any], new_files: list[Any], full: bool, run_id: int
) -> None:
    rt = tbl(ReconciledFile)
    if full:
        s.execute(delete(rt))
        todo = files
    else:
        todo = new_files
        if todo:
            s.execute(
                delete(rt).where(rt.c.file_id == bindparam("fid")), [{"fid": r.id} for r in todo]
            )
    for i in range(0, len(todo), 5000):
        s.execute(
            insert(rt),
            [
                {"file_id": r.id, "processed_at": r.processed_at, "run_id": run_id}
                for r in todo[i : i + 5000]
            ],
        )


__all__ = ["fill_scope", "record_files", "sync_aliases", "variances"]
