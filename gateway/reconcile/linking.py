"""Tie 835 claim payments and PLB recoupments to claims (the few that need more than SQL).

Claim key = (provider_id, patient control number). An 835 claim payment whose CLP01 is a
patient control number the provider's 837s or ledger know is matched exactly and needs no row.
The others are resolved here, in this order, and recorded in ``claim_links``:

1. ``icn``: another claim payment of the same provider and payer with the same payer claim
   control number (CLP07) is matched (exactly or by link): same claim. This is how a reversal
   or correction whose CLP01 the payer truncated finds its original.
2. ``prefix``: exactly one 837 claim of the provider starts with the CLP01 (payers may keep
   only the first 20 characters, some fewer; at least 6 are required), has total charge CLM02
   = |CLP03|, and — when both sides carry dates — a service date inside the CLP statement
   period (DTM*232/233).
3. ``unmatched``: the claim payment stays keyed by its own CLP01 (reported as an unmatched 835
   claim when neither an 837 nor the ledger knows it) and is tried again on every run, so a
   late 837 still links it.

PLB WO/72 references are parsed with the payer profile (``PlbReference.keys``) and looked up by
CLP07 (a claim payment of the same canonical payer) and/or by patient control number; those
not found yet are kept as ``unmatched`` and retried.
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.orm import Session

from gateway.db.models import tbl
from gateway.reconcile.tables import ClaimLink, PlbMatch
from mappings.payers import PayerDirectory

MIN_PREFIX = 6
Key = tuple[int, str]


@dataclass
class LinkChanges:
    """Claim keys whose inputs moved because of (re)linking."""

    keys: set[Key] = field(default_factory=set)
    linked: int = 0
    unmatched: int = 0
    plb_matched: int = 0
    plb_unmatched: int = 0


def _known(s: Session, pid: int, pcn: str) -> bool:
    row = s.execute(text(
        "SELECT 1 FROM claims WHERE provider_id = :p AND patient_control_number = :n "
        "UNION ALL SELECT 1 FROM ledger_entries WHERE provider_id = :p "
        "AND patient_control_number = :n LIMIT 1"), {"p": pid, "n": pcn}).first()
    return row is not None


def _by_icn(s: Session, pid: int, payer_ids: set[str] | None, icn: str, exclude: int,
            payers: PayerDirectory) -> set[str]:
    """Claim keys of matched claim payments with this CLP07 (same payer when given)."""
    if not icn:
        return set()
    rows = s.execute(text(
        "SELECT o.id, o.payer_id, o.patient_control_number, l.patient_control_number AS lk, "
        "l.method FROM claim_payments o LEFT JOIN claim_links l ON l.claim_payment_id = o.id "
        "WHERE o.provider_id = :p AND o.payer_claim_control_number = :icn AND o.id <> :x"),
        {"p": pid, "icn": icn, "x": exclude}).all()
    keys: set[str] = set()
    for r in rows:
        if payer_ids is not None and payers.canonical(r.payer_id) not in payer_ids:
            continue
        if r.method is not None and r.method != "unmatched":
            keys.add(r.lk)
        elif r.method is None and _known(s, pid, r.patient_control_number):
            keys.add(r.patient_control_number)
    return keys


def _by_prefix(s: Session, pid: int, pcn: str, charge: Decimal, start: dt.date | None,
               end: dt.date | None) -> set[str]:
    if len(pcn) < MIN_PREFIX:
        return set()
    rows = s.execute(text(
        "SELECT patient_control_number, service_date, service_date_end FROM claims "
        "WHERE provider_id = :p AND total_charge = :c"), {"p": pid, "c": abs(charge)}).all()
    found: set[str] = set()
    for r in rows:
        full: str = r.patient_control_number
        if len(full) <= len(pcn) or not full.startswith(pcn):
            continue
        if start is not None and r.service_date is not None:
            last = end or start
            if not (start <= r.service_date <= last):
                continue
        found.add(full)
    return found


def link_claim_payments(s: Session, payers: PayerDirectory, *, files_table: str | None
                        ) -> LinkChanges:
    """Link new claim payments (of ``files_table``'s files, or all) and retry unmatched ones."""
    changes = LinkChanges()
    s.execute(text("DELETE FROM claim_links WHERE NOT EXISTS (SELECT 1 FROM claim_payments cp "
                   "WHERE cp.id = claim_links.claim_payment_id)"))
    scope = f"JOIN {files_table} f ON f.file_id = cp.file_id" if files_table else ""
    cols = ("cp.id, cp.provider_id, cp.payer_id, cp.patient_control_number, "
            "cp.payer_claim_control_number, cp.charge, cp.statement_from, cp.statement_to")
    rows = s.execute(text(
        f"SELECT {cols}, NULL AS was FROM claim_payments cp {scope} "
        "WHERE cp.provider_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM claim_links l WHERE l.claim_payment_id = cp.id) "
        "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.provider_id = cp.provider_id "
        "  AND c.patient_control_number = cp.patient_control_number) "
        "AND NOT EXISTS (SELECT 1 FROM ledger_entries le WHERE le.provider_id = cp.provider_id "
        "  AND le.patient_control_number = cp.patient_control_number) "
        f"UNION ALL SELECT {cols}, l.patient_control_number AS was FROM claim_links l "
        "JOIN claim_payments cp ON cp.id = l.claim_payment_id WHERE l.method = 'unmatched' "
        "ORDER BY 1")).all()
    t = tbl(ClaimLink)
    new_rows: list[dict[str, Any]] = []
    drop: list[int] = []
    for r in rows:
        pid, pcn = int(r.provider_id), str(r.patient_control_number)
        if r.was is not None and _known(s, pid, pcn):
            drop.append(r.id)  # the 837 or ledger arrived: now an exact match, same key
            changes.keys.add((pid, pcn))
            continue
        payer = payers.canonical(r.payer_id)
        method, key = "unmatched", pcn
        found = _by_icn(s, pid, {payer}, r.payer_claim_control_number, r.id, payers)
        if len(found) == 1:
            method, key = "icn", found.pop()
        else:
            found = _by_prefix(s, pid, pcn, r.charge, r.statement_from, r.statement_to)
            if len(found) == 1:
                method, key = "prefix", found.pop()
        if r.was is not None:
            if method == "unmatched":
                continue  # still unmatched: nothing changes
            drop.append(r.id)
            changes.keys.add((pid, r.was))
        changes.keys.add((pid, key))
        if method == "unmatched":
            changes.unmatched += 1
        else:
            changes.linked += 1
        new_rows.append({"claim_payment_id": r.id, "provider_id": pid,
                         "patient_control_number": key, "method": method})
    if drop:
        s.execute(delete(t).where(t.c.claim_payment_id == bindparam("cid")),
                  [{"cid": i} for i in drop])
    if new_rows:
        s.execute(insert(t), new_rows)
    return changes


def _pcn_exists(s: Session, pid: int, pcn: str) -> bool:
    if _known(s, pid, pcn):
        return True
    return s.execute(text("SELECT 1 FROM claim_payments WHERE provider_id = :p AND "
                          "patient_control_number = :n LIMIT 1"),
                     {"p": pid, "n": pcn}).first() is not None


def match_recoupments(s: Session, payers: PayerDirectory, changes: LinkChanges, *,
                      files_table: str | None) -> None:
    """Resolve new PLB WO/72 rows (and retry unmatched ones) to claim keys."""
    s.execute(text("DELETE FROM plb_matches WHERE NOT EXISTS (SELECT 1 FROM "
                   "provider_adjustments pa WHERE pa.id = plb_matches.provider_adjustment_id)"))
    scope = f"JOIN {files_table} f ON f.file_id = pa.file_id" if files_table else ""
    cols = "pa.id, pa.provider_id, pa.reference, r.payer_id"
    rows = s.execute(text(
        f"SELECT {cols}, 0 AS retry FROM provider_adjustments pa "
        f"JOIN remittances r ON r.id = pa.remittance_id {scope} "
        "WHERE pa.reason IN ('WO', '72') AND pa.provider_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM plb_matches m WHERE m.provider_adjustment_id = pa.id) "
        f"UNION ALL SELECT {cols}, 1 AS retry FROM plb_matches m "
        "JOIN provider_adjustments pa ON pa.id = m.provider_adjustment_id "
        "JOIN remittances r ON r.id = pa.remittance_id WHERE m.method = 'unmatched' "
        "ORDER BY 1")).all()
    t = tbl(PlbMatch)
    out: list[dict[str, Any]] = []
    retried: list[int] = []
    for r in rows:
        pid = int(r.provider_id)
        payer = payers.canonical(r.payer_id)
        key: str | None = None
        method = "unmatched"
        for kind, value in payers.plb_reference(r.payer_id).keys(r.reference):
            if kind == "icn":
                found = _icn_any(s, pid, value, payer, payers)
                if len(found) == 1:
                    key, method = found.pop(), "icn"
                    break
            elif _pcn_exists(s, pid, value):
                key, method = value, "pcn"
                break
        if r.retry:
            if key is None:
                continue
            retried.append(r.id)
        if key is None:
            changes.plb_unmatched += 1
        else:
            changes.plb_matched += 1
            changes.keys.add((pid, key))
        out.append({"provider_adjustment_id": r.id, "provider_id": pid, "payer_id": payer,
                    "patient_control_number": key, "method": method})
    if retried:
        s.execute(delete(t).where(t.c.provider_adjustment_id == bindparam("pid")),
                  [{"pid": i} for i in retried])
    if out:
        s.execute(insert(t), out)


def _icn_any(s: Session, pid: int, icn: str, payer: str, payers: PayerDirectory) -> set[str]:
    """Claim keys of this payer's claim payments with CLP07 = ``icn`` (matched or not)."""
    rows = s.execute(text(
        "SELECT o.payer_id, COALESCE(l.patient_control_number, o.patient_control_number) "
        "FROM claim_payments o LEFT JOIN claim_links l ON l.claim_payment_id = o.id "
        "WHERE o.provider_id = :p AND o.payer_claim_control_number = :icn"),
        {"p": pid, "icn": icn}).all()
    return {str(r[1]) for r in rows if payers.canonical(r[0]) == payer}
