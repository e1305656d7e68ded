"""One chunk of candidate claims of a reconciliation run: decide every claim and write what
changed (credits, claim waits, line variances).

The plain no-charge claims the ledger knows nothing of are decided and written in SQL
(``nocharge.insert_plain``); the other plain no-charge ones from grouped sums (``nocharge.load``);
the rest are loaded (``facts.load_facts``) and given to ``credit.reconcile_claim``. Their rows
are diffed against the stored ones by ``diff`` and written: new credits and waits through the
``gateway.ingest.bulk.BulkWriter`` (the Core insert's bind processors without its per-row cost),
updates and resolutions by executemany.
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, bindparam, column, insert, select, table, text, update
from sqlalchemy.orm import Session

from gateway.db.types import tbl, utcnow
from gateway.ingest.bulk import BulkWriter
from gateway.reconcile import nocharge
from gateway.reconcile import nocharge_sql as ncq
from gateway.reconcile.credit import reconcile_claim
from gateway.reconcile.credit_rows import classify_rows
from gateway.reconcile.diff import (
    Identity,
    Key,
    by_columns,
    credit_changes,
    line_variance_changes,
    merge,
    wait_row,
)
from gateway.reconcile.facts import load_facts
from gateway.reconcile.model import ClaimFacts, LineVariance
from gateway.reconcile.runs import RunSummary
from gateway.reconcile.tables import ClaimWait, Credit
from gateway.reconcile.tables import LineVariance as LineVarianceRow
from mappings.payers import PayerDirectory


def reconcile_chunk(
    s: Session,
    lo: int,
    hi: int,
    day: dt.date,
    run_id: int,
    payers: PayerDirectory,
    summary: RunSummary,
) -> None:
    where, p = "s.n BETWEEN :lo AND :hi", {"lo": lo, "hi": hi}
    ct = tbl(Credit)
    existing: dict[Key, dict[Identity, Any]] = {}
    cand = table("rc_cand", column("n"), column("pid"), column("pcn"))
    for r in s.execute(
        select(ct)
        .select_from(
            cand.join(
                ct, and_(ct.c.provider_id == cand.c.pid, ct.c.patient_control_number == cand.c.pcn)
            )
        )
        .where(cand.c.n.between(lo, hi), ct.c.status != "resolved")
    ).mappings():
        existing.setdefault((r["provider_id"], r["patient_control_number"]), {})[
            (r["owed_to"], r["payer_id"], r["cause"])
        ] = r
    # the plain no-charge claims the ledger knows nothing of: credits by INSERT ... SELECT
    summary.credits_new += nocharge.insert_plain(s, where, p, day, payers, run_id)
    where = f"{where} AND {ncq.NOT_FAST}"
    left = int(s.execute(text(f"SELECT COUNT(*) FROM rc_cand s WHERE {where}"), p).scalar_one())
    plain = nocharge.load(s, where, p, day, payers) if left else {}
    rest = _rest(s, where, plain, left)
    facts = {} if rest is None else load_facts(s, rest, p, payers)
    outcomes = {key: outcome for key, (_, outcome) in plain.items()}
    facts.update((key, f) for key, (f, _) in plain.items())
    rule: Callable[[str], Any] = payers.rule
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    resolves: list[dict[str, Any]] = []
    found: dict[Key, list[LineVariance]] = {}
    waits: list[dict[str, Any]] = []
    for key in sorted(facts):
        f = facts[key]
        decided = outcomes.get(key)
        outcome = reconcile_claim(f, as_of=day, rules=rule) if decided is None else decided
        found[key] = outcome.variances
        wait = wait_row(key, outcome)
        if wait is not None:
            waits.append(wait)
        rows = merge(
            outcome.credits
            if decided is not None
            else classify_rows(f, outcome.credits, rules=rule)
        )
        new, changed, gone = credit_changes(
            key, f, rows, existing.get(key, {}), day, run_id, utcnow
        )
        inserts += new
        updates += changed
        resolves += gone
    if inserts or waits:
        bulk = BulkWriter(s)
        bulk.bind()
        try:
            # the driver's bulk path with the Core insert's own bind processors: SQLAlchemy's
            # per-row parameter building was a fifth of a no-charge run (issue 17 item 5)
            bulk.insert_dicts(Credit, inserts)
            bulk.insert_dicts(ClaimWait, waits)
        finally:
            bulk.release()
    if updates:
        s.execute(
            update(ct)
            .where(ct.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in updates[0] if k != "b_id"}),
            updates,
        )
    if resolves:
        s.execute(
            update(ct)
            .where(ct.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in resolves[0] if k != "b_id"}),
            resolves,
        )
    summary.credits_new += len(inserts)
    summary.credits_resolved += len(resolves)
    _line_variances(s, lo, hi, day, run_id, facts, found)


def _rest(s: Session, where: str, plain: dict[Key, Any], left: int) -> str | None:
    """``where`` (``left`` candidates) narrowed to the chunk's candidates ``nocharge`` did
    not decide (None when it decided them all, or there are none)."""
    if left <= len(plain):
        return None
    if not plain:
        return where
    s.execute(text("DELETE FROM rc_plain"))
    s.execute(
        text("INSERT INTO rc_plain (pid, pcn) VALUES (:p, :n)"),
        [{"p": k[0], "n": k[1]} for k in sorted(plain)],
    )
    return f"{where} AND {ncq.NOT_PLAIN}"


def _line_variances(
    s: Session,
    lo: int,
    hi: int,
    day: dt.date,
    run_id: int,
    facts: dict[Key, ClaimFacts],
    found: dict[Key, list[LineVariance]],
) -> None:
    """Keep ``line_variances`` of the chunk's claims in step: new findings inserted, persisting
    ones refreshed (the analyst's answer kept), vanished ones marked ``cleared``."""
    vt = tbl(LineVarianceRow)
    cand = table("rc_cand", column("n"), column("pid"), column("pcn"))
    stored: dict[tuple[int, str, str, str, str], Any] = {}
    for r in s.execute(
        select(
            vt.c.id,
            vt.c.provider_id,
            vt.c.patient_control_number,
            vt.c.payer_id,
            vt.c.kind,
            vt.c.group_key,
            vt.c.status,
            vt.c.resolution,
        )
        .select_from(
            cand.join(
                vt, and_(vt.c.provider_id == cand.c.pid, vt.c.patient_control_number == cand.c.pcn)
            )
        )
        .where(cand.c.n.between(lo, hi))
    ):
        stored[(r.provider_id, r.patient_control_number, r.payer_id, r.kind, r.group_key)] = r
    accounts = {key: facts[key].account_id or None for key in found}
    inserts, updates = line_variance_changes(found, accounts, stored, day, run_id)
    if inserts:
        s.execute(insert(vt), inserts)
    for group in by_columns(updates):
        s.execute(
            update(vt)
            .where(vt.c.id == bindparam("b_id"))
            .values({k: bindparam(k) for k in group[0] if k != "b_id"}),
            group,
        )


__all__ = ["reconcile_chunk"]
