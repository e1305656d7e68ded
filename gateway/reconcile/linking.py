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

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Date, bindparam, delete, insert, text
from sqlalchemy.orm import Session

from gateway.db.types import tbl
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


#: a claim key the provider's 837s or ledger know (an exact match needs no link)
_KNOWN = (
    "EXISTS (SELECT 1 FROM claims c WHERE c.provider_id = {pid} "
    "AND c.patient_control_number = {pcn}) OR EXISTS (SELECT 1 FROM ledger_entries le "
    "WHERE le.provider_id = {pid} AND le.patient_control_number = {pcn})"
)


def _known(s: Session, pid: int, pcn: str) -> bool:
    row = s.execute(
        text(
            "SELECT 1 FROM claims WHERE provider_id = :p AND patient_control_number = :n "
            "UNION ALL SELECT 1 FROM ledger_entries WHERE provider_id = :p "
            "AND patient_control_number = :n LIMIT 1"
        ),
        {"p": pid, "n": pcn},
    ).first()
    return row is not None


def _matched_by_icn(s: Session, payers: PayerDirectory) -> dict[tuple[int, str, str], set[str]]:
    """(provider, canonical payer, CLP07) → claim keys of the *matched* claim payments with
    that CLP07, for every CLP07 in ``rc_link``: one pass over each CLP07's claim payments,
    however many unmatched ones share it (a payer that reuses one ICN across claims)."""
    out: dict[tuple[int, str, str], set[str]] = {}
    for r in s.execute(
        text(
            "SELECT DISTINCT i.pid, i.icn, o.payer_id, CASE WHEN l.method IS NOT NULL "
            "THEN l.patient_control_number ELSE o.patient_control_number END AS k "
            "FROM (SELECT DISTINCT pid, icn FROM rc_link WHERE icn <> '') i "
            "JOIN claim_payments o ON o.provider_id = i.pid "
            "AND o.payer_claim_control_number = i.icn "
            "LEFT JOIN claim_links l ON l.claim_payment_id = o.id "
            "WHERE (l.method IS NOT NULL AND l.method <> 'unmatched') OR (l.method IS NULL "
            f"AND ({_KNOWN.format(pid='o.provider_id', pcn='o.patient_control_number')}))"
        )
    ):
        key = (int(r.pid), payers.canonical(r.payer_id), str(r.icn))
        out.setdefault(key, set()).add(str(r.k))
    return out


def _by_prefix(s: Session) -> dict[int, list[Any]]:
    """Claim payment id (of ``rc_link`` rows with a CLP01 of at least ``MIN_PREFIX``) → 837
    claims of the provider with CLM02 = |CLP03| whose CLM01 starts with that CLP01."""
    out: dict[int, list[Any]] = {}
    for r in s.execute(
        text(
            "SELECT t.id, t.sfrom, t.sto, c.patient_control_number AS full, c.service_date "
            "FROM rc_link t JOIN claims c ON c.provider_id = t.pid "
            "AND c.total_charge = t.charge "
            "WHERE LENGTH(t.pcn) >= :n AND LENGTH(c.patient_control_number) > LENGTH(t.pcn) "
            "AND SUBSTR(c.patient_control_number, 1, LENGTH(t.pcn)) = t.pcn"
        ).columns(sfrom=Date, sto=Date, service_date=Date),
        {"n": MIN_PREFIX},
    ):
        out.setdefault(int(r.id), []).append(r)
    return out


def _prefix_key(candidates: list[Any]) -> str | None:
    """The one claim the truncated CLP01 can be (dates inside the statement period)."""
    found: set[str] = set()
    for r in candidates:
        start, end = r.sfrom, r.sto
        if (
            start is not None
            and r.service_date is not None
            and not (start <= r.service_date <= (end or start))
        ):
            continue
        found.add(str(r.full))
    return found.pop() if len(found) == 1 else None


def link_claim_payments(
    s: Session, payers: PayerDirectory, *, files_table: str | None
) -> LinkChanges:
    """Link new claim payments (of ``files_table``'s files, or all) and retry unmatched ones,
    set-wise: a handful of queries whatever the number of claim payments. Only the claim
    payments that a CLP07 or a prefix may link come into Python; the others (an 835 that
    no 837 or ledger knows: all of it) stay ``unmatched`` by one INSERT ... SELECT."""
    changes = LinkChanges()
    s.execute(
        text(
            "DELETE FROM claim_links WHERE NOT EXISTS (SELECT 1 FROM claim_payments cp "
            "WHERE cp.id = claim_links.claim_payment_id)"
        )
    )
    scope = f"JOIN {files_table} f ON f.file_id = cp.file_id" if files_table else ""
    cols = (
        "cp.id, cp.provider_id, cp.payer_id, cp.patient_control_number, "
        "COALESCE(cp.payer_claim_control_number, ''), ABS(cp.charge), cp.statement_from, "
        "cp.statement_to"
    )
    known = _KNOWN.format(pid="cp.provider_id", pcn="cp.patient_control_number")
    s.execute(text("DROP TABLE IF EXISTS rc_link"))
    s.execute(text("DROP TABLE IF EXISTS rc_pick"))
    s.execute(
        text(
            "CREATE TEMPORARY TABLE rc_link (id INTEGER PRIMARY KEY, pid INTEGER, "
            "payer VARCHAR(80), pcn VARCHAR(38), icn VARCHAR(50), charge NUMERIC(14, 2), "
            "sfrom DATE, sto DATE, was VARCHAR(38), known INTEGER)"
        )
    )
    s.execute(text("CREATE TEMPORARY TABLE rc_pick (id INTEGER PRIMARY KEY)"))
    s.execute(
        text(
            "INSERT INTO rc_link (id, pid, payer, pcn, icn, charge, sfrom, sto, was, known) "
            f"SELECT {cols}, NULL, 0 FROM claim_payments cp {scope} "
            "WHERE cp.provider_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM claim_links l WHERE l.claim_payment_id = cp.id) "
            f"AND NOT ({known}) "
            f"UNION ALL SELECT {cols}, l.patient_control_number, "
            f"CASE WHEN {known} THEN 1 ELSE 0 END FROM claim_links l "
            "JOIN claim_payments cp ON cp.id = l.claim_payment_id WHERE l.method = 'unmatched'"
        )
    )
    t = tbl(ClaimLink)
    drop: list[int] = []
    for r in s.execute(
        text("SELECT id, pid, pcn FROM rc_link WHERE was IS NOT NULL AND known = 1 ORDER BY id")
    ):
        drop.append(int(r.id))  # the 837 or ledger arrived: now an exact match, same key
        changes.keys.add((int(r.pid), str(r.pcn)))
    s.execute(text("DELETE FROM rc_link WHERE was IS NOT NULL AND known = 1"))
    s.execute(text("ANALYZE rc_link"))
    by_icn = _matched_by_icn(s, payers)
    by_prefix = _by_prefix(s)
    _pick(s, by_icn, by_prefix)
    new_rows: list[dict[str, Any]] = []
    for r in s.execute(
        text(
            "SELECT t.id, t.pid, t.payer, t.pcn, t.icn, t.was FROM rc_link t "
            "JOIN rc_pick p ON p.id = t.id ORDER BY t.id"
        )
    ):
        pid, pcn = int(r.pid), str(r.pcn)
        method, key = "unmatched", pcn
        found = by_icn.get((pid, payers.canonical(r.payer), r.icn or ""), set())
        prefix = None if len(found) == 1 else _prefix_key(by_prefix.get(r.id, []))
        if len(found) == 1:
            method, key = "icn", next(iter(found))
        elif prefix is not None:
            method, key = "prefix", prefix
        if r.was is not None:
            if method == "unmatched":
                continue  # still unmatched: nothing changes
            drop.append(int(r.id))
            changes.keys.add((pid, r.was))
        changes.keys.add((pid, key))
        if method == "unmatched":
            changes.unmatched += 1
        else:
            changes.linked += 1
        new_rows.append(
            {
                "claim_payment_id": r.id,
                "provider_id": pid,
                "patient_control_number": key,
                "method": method,
            }
        )
    if drop:
        s.execute(
            delete(t).where(t.c.claim_payment_id == bindparam("cid")), [{"cid": i} for i in drop]
        )
    if new_rows:
        s.execute(insert(t), new_rows)
    _rest_unmatched(s, changes, incremental=files_table is not None)
    s.execute(text("DROP TABLE IF EXISTS rc_link"))
    s.execute(text("DROP TABLE IF EXISTS rc_pick"))
    return changes


def _pick(
    s: Session, by_icn: dict[tuple[int, str, str], set[str]], by_prefix: dict[int, list[Any]]
) -> None:
    """``rc_pick``: the ``rc_link`` rows a CLP07 or a prefix may link (the others cannot)."""
    if by_prefix:
        s.execute(
            text("INSERT INTO rc_pick (id) VALUES (:i)"), [{"i": i} for i in sorted(by_prefix)]
        )
    pairs = sorted({(pid, icn) for pid, _, icn in by_icn})
    if not pairs:
        return
    s.execute(text("DROP TABLE IF EXISTS rc_icns"))
    s.execute(text("CREATE TEMPORARY TABLE rc_icns (pid INTEGER, icn VARCHAR(50))"))
    s.execute(
        text("INSERT INTO rc_icns (pid, icn) VALUES (:p, :i)"),
        [{"p": p, "i": i} for p, i in pairs],
    )
    s.execute(
        text(
            "INSERT INTO rc_pick (id) SELECT t.id FROM rc_link t WHERE EXISTS (SELECT 1 FROM "
            "rc_icns i WHERE i.pid = t.pid AND i.icn = t.icn) AND NOT EXISTS "
            "(SELECT 1 FROM rc_pick p WHERE p.id = t.id)"
        )
    )
    s.execute(text("DROP TABLE IF EXISTS rc_icns"))


def _rest_unmatched(s: Session, changes: LinkChanges, *, incremental: bool) -> None:
    """New claim payments nothing may link: ``unmatched``, keyed by their own CLP01 (retried
    ones that stay unmatched change nothing). Their keys matter to an incremental run's
    scope only, which has them anyway through their new file; a full run's scope is all."""
    rest = (
        "FROM rc_link t WHERE t.was IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM rc_pick p WHERE p.id = t.id)"
    )
    if incremental:
        for r in s.execute(text(f"SELECT DISTINCT t.pid, t.pcn {rest}")):
            changes.keys.add((int(r.pid), str(r.pcn)))
    done = s.connection().execute(
        text(
            "INSERT INTO claim_links (claim_payment_id, provider_id, patient_control_number, "
            f"method) SELECT t.id, t.pid, t.pcn, 'unmatched' {rest}"
        )
    )
    changes.unmatched += int(done.rowcount or 0)


def _pcn_exists(s: Session, pid: int, pcn: str) -> bool:
    if _known(s, pid, pcn):
        return True
    return (
        s.execute(
            text(
                "SELECT 1 FROM claim_payments WHERE provider_id = :p AND "
                "patient_control_number = :n LIMIT 1"
            ),
            {"p": pid, "n": pcn},
        ).first()
        is not None
    )


def match_recoupments(
    s: Session, payers: PayerDirectory, changes: LinkChanges, *, files_table: str | None
) -> None:
    """Resolve new PLB WO/72 rows (and retry unmatched ones) to claim keys."""
    s.execute(
        text(
            "DELETE FROM plb_matches WHERE NOT EXISTS (SELECT 1 FROM "
            "provider_adjustments pa WHERE pa.id = plb_matches.provider_adjustment_id)"
        )
    )
    scope = f"JOIN {files_table} f ON f.file_id = pa.file_id" if files_table else ""
    cols = "pa.id, pa.provider_id, pa.reference, r.payer_id"
    rows = s.execute(
        text(
            f"SELECT {cols}, 0 AS retry FROM provider_adjustments pa "
            f"JOIN remittances r ON r.id = pa.remittance_id {scope} "
            "WHERE pa.reason IN ('WO', '72') AND pa.provider_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM plb_matches m WHERE m.provider_adjustment_id = pa.id) "
            f"UNION ALL SELECT {cols}, 1 AS retry FROM plb_matches m "
            "JOIN provider_adjustments pa ON pa.id = m.provider_adjustment_id "
            "JOIN remittances r ON r.id = pa.remittance_id WHERE m.method = 'unmatched' "
            "ORDER BY 1"
        )
    ).all()
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
        out.append(
            {
                "provider_adjustment_id": r.id,
                "provider_id": pid,
                "payer_id": payer,
                "patient_control_number": key,
                "method": method,
            }
        )
    if retried:
        s.execute(
            delete(t).where(t.c.provider_adjustment_id == bindparam("pid")),
            [{"pid": i} for i in retried],
        )
    if out:
        s.execute(insert(t), out)


def _icn_any(s: Session, pid: int, icn: str, payer: str, payers: PayerDirectory) -> set[str]:
    """Claim keys of this payer's claim payments with CLP07 = ``icn`` (matched or not)."""
    rows = s.execute(
        text(
            "SELECT o.payer_id, COALESCE(l.patient_control_number, o.patient_control_number) "
            "FROM claim_payments o LEFT JOIN claim_links l ON l.claim_payment_id = o.id "
            "WHERE o.provider_id = :p AND o.payer_claim_control_number = :icn"
        ),
        {"p": pid, "icn": icn},
    ).all()
    return {str(r[1]) for r in rows if payers.canonical(r[0]) == payer}
