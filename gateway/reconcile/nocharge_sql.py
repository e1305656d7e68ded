"""The set-based SQL of the no-charge path (``nocharge``): candidates with payments and no
posted charge, summed for ``nocharge.load``, and decided and inserted wholly in SQL for
``nocharge.insert_plain``. Built from ``sql``'s fragments (portable to SQLite and PostgreSQL,
money as integer cents, keyed by (provider_id, patient control number)).
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.reconcile.sql import COUNTED_PLB, LOAD_COLS, cents, claim_payments, ledger, recoupments

#: a candidate with no posted charge row at all (``credit._without_charges`` decides it)
NO_CHARGE_ROWS = (
    "NOT EXISTS (SELECT 1 FROM ledger_entries x WHERE x.provider_id = s.pid "
    "AND x.patient_control_number = s.pcn AND x.type = 'charge')"
)


def no_charge_payments(where: str) -> str:
    """Counted claim payments of the ``where`` candidates, summed per claim, payer and claim
    filing indicator: net paid (CLP04 less interest, cents), newest remittance date, and how
    many are reversals or undated (those claims take the per-claim path)."""
    return (
        "SELECT k.pid, k.pcn, k.payer_id, k.filing, "
        f"SUM({cents('k.paid')} - {cents('COALESCE(k.interest, 0)')}) AS c, "
        "MAX(COALESCE(r.payment_date, r.production_date)) AS newest, "
        "SUM(CASE WHEN k.status_code = '22' THEN 1 ELSE 0 END) AS reversals, "
        "SUM(CASE WHEN r.payment_date IS NULL AND r.production_date IS NULL "
        "THEN 1 ELSE 0 END) AS undated "
        f"FROM ({claim_payments('rc_cand', where, LOAD_COLS)}) k "
        "JOIN remittances r ON r.id = k.remittance_id "
        "GROUP BY k.pid, k.pcn, k.payer_id, k.filing"
    )


def ledger_sums(where: str) -> str:
    """Ledger rows of the ``where`` candidates summed per claim, type, party and payer."""
    return (
        "SELECT le.provider_id AS pid, le.patient_control_number AS pcn, "
        "MIN(le.account_id) AS account, le.type, le.party, le.payer_id, "
        f"SUM({cents('le.amount')}) AS c, COUNT(*) AS n FROM {ledger('rc_cand', where)} "
        "GROUP BY le.provider_id, le.patient_control_number, le.type, le.party, le.payer_id"
    )


def recouped_keys(where: str) -> str:
    return (
        "SELECT DISTINCT m.provider_id AS pid, m.patient_control_number AS pcn "
        f"FROM {recoupments('rc_cand', where)}"
    )


def claim_kinds(where: str) -> str:
    """The 837 claims of the ``where`` candidates (id and kind: the newest one's counts)."""
    return (
        "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, c.id, c.kind "
        "FROM rc_cand s JOIN claims c ON c.provider_id = s.pid "
        f"AND c.patient_control_number = s.pcn WHERE {where}"
    )


#: leaves out of a chunk the candidates the set-based no-charge path has decided
NOT_PLAIN = "NOT EXISTS (SELECT 1 FROM rc_plain x WHERE x.pid = s.pid AND x.pcn = s.pcn)"


# ---------------------------------------------------------------- no-charge credits in SQL
#
# ``nocharge.insert_plain``: the candidates of a chunk with payments and no ledger row at all,
# no open credit and no PLB recoupment get their ``no_posted_charges`` credits by INSERT ...
# SELECT, decided from three temporary tables: the payments summed per claim, payer and
# filing indicator (``rc_ncraw``), the payers' rules as ``nocharge`` computes them in Python
# (``rc_ncrule``: canonical payer, whether the payer/indicator pair is plain, the last
# remittance date whose ledger lag has passed, government, deadline, due date) and the sums per
# canonical payer (``rc_ncpay``). ``rc_ncfast`` holds the claims so decided (the rest of the
# chunk takes ``nocharge.load`` and the per-claim path as before).

#: the temporary tables of the set-based no-charge path, with their columns
NO_CHARGE_TEMPS = {
    "rc_ncraw": "pid INTEGER NOT NULL, pcn VARCHAR(38) NOT NULL, raw VARCHAR(80), "
    "filing VARCHAR(80) NOT NULL, c BIGINT NOT NULL, newest DATE, bad INTEGER NOT NULL",
    "rc_ncrule": "raw VARCHAR(80) NOT NULL, filing VARCHAR(80) NOT NULL, "
    "payer VARCHAR(80) NOT NULL, ok INTEGER NOT NULL, cutoff DATE, government BOOLEAN, "
    "deadline INTEGER, due_by DATE",
    "rc_ncpay": "pid INTEGER NOT NULL, pcn VARCHAR(38) NOT NULL, payer VARCHAR(80), "
    "filing VARCHAR(80), nf INTEGER NOT NULL, c BIGINT NOT NULL, bad INTEGER NOT NULL, "
    "wait INTEGER NOT NULL",
    "rc_ncfast": "pid INTEGER NOT NULL, pcn VARCHAR(38) NOT NULL, kind VARCHAR(8) NOT NULL",
}


def create_no_charge_temps(s: Session) -> None:
    """The (empty) temporary tables of ``nocharge.insert_plain``, keyed by claim."""
    for name, cols in NO_CHARGE_TEMPS.items():
        s.execute(text(f"DROP TABLE IF EXISTS {name}"))
        s.execute(text(f"CREATE TEMPORARY TABLE {name} ({cols})"))
        key = "raw, filing" if name == "rc_ncrule" else "pid, pcn"
        s.execute(text(f"CREATE INDEX ix_{name}_key ON {name} ({key})"))


def clear_no_charge_temps(s: Session) -> None:
    for name in NO_CHARGE_TEMPS:
        s.execute(text(f"DELETE FROM {name}"))


#: a candidate the ledger knows nothing of, with no open credit and no PLB recoupment
NO_LEDGER_NO_CREDIT = (
    "NOT EXISTS (SELECT 1 FROM ledger_entries x WHERE x.provider_id = s.pid "
    "AND x.patient_control_number = s.pcn) "
    "AND NOT EXISTS (SELECT 1 FROM credits x WHERE x.provider_id = s.pid "
    "AND x.patient_control_number = s.pcn AND x.status <> 'resolved') "
    "AND NOT EXISTS (SELECT 1 FROM plb_matches m JOIN provider_adjustments pa "
    "ON pa.id = m.provider_adjustment_id AND " + COUNTED_PLB + " WHERE m.provider_id = s.pid "
    "AND m.patient_control_number = s.pcn)"
)


def no_charge_raw(where: str) -> str:
    """Fill ``rc_ncraw``: ``no_charge_payments`` of the ``where`` candidates the ledger knows
    nothing of (``NO_LEDGER_NO_CREDIT``), reversals and undated ones counted as ``bad``."""
    return (
        "INSERT INTO rc_ncraw (pid, pcn, raw, filing, c, newest, bad) "
        "SELECT k.pid, k.pcn, k.payer_id, COALESCE(k.filing, ''), "
        f"SUM({cents('k.paid')} - {cents('COALESCE(k.interest, 0)')}), "
        "MAX(COALESCE(r.payment_date, r.production_date)), "
        "SUM(CASE WHEN k.status_code = '22' OR (r.payment_date IS NULL "
        "AND r.production_date IS NULL) THEN 1 ELSE 0 END) "
        f"FROM ({claim_payments('rc_cand', f'{where} AND {NO_LEDGER_NO_CREDIT}', LOAD_COLS)}) k "
        "JOIN remittances r ON r.id = k.remittance_id "
        "GROUP BY k.pid, k.pcn, k.payer_id, COALESCE(k.filing, '')"
    )


NO_CHARGE_PAIRS = "SELECT DISTINCT raw, filing FROM rc_ncraw WHERE raw IS NOT NULL"
NO_CHARGE_RULE = (
    "INSERT INTO rc_ncrule (raw, filing, payer, ok, cutoff, government, deadline, due_by) "
    "VALUES (:raw, :filing, :payer, :ok, :cutoff, :government, :deadline, :due_by)"
)
#: per claim and canonical payer; a pair without a rule (a NULL payer) is bad
NO_CHARGE_PAY = (
    "INSERT INTO rc_ncpay (pid, pcn, payer, filing, nf, c, bad, wait) "
    "SELECT x.pid, x.pcn, u.payer, MIN(x.filing), COUNT(DISTINCT x.filing), SUM(x.c), "
    "SUM(x.bad) + SUM(CASE WHEN u.ok = 1 THEN 0 ELSE 1 END), "
    "MAX(CASE WHEN x.newest > u.cutoff THEN 1 ELSE 0 END) "
    "FROM rc_ncraw x LEFT JOIN rc_ncrule u ON u.raw = x.raw AND u.filing = x.filing "
    "GROUP BY x.pid, x.pcn, u.payer"
)
#: plain claims (one indicator per payer, nothing bad) past every payer's ledger lag, with
#: the newest 837's kind
NO_CHARGE_FAST = (
    "INSERT INTO rc_ncfast (pid, pcn, kind) "
    "SELECT p.pid, p.pcn, COALESCE((SELECT c.kind FROM claims c WHERE c.provider_id = p.pid "
    "AND c.patient_control_number = p.pcn ORDER BY c.id DESC LIMIT 1), '') "
    "FROM rc_ncpay p GROUP BY p.pid, p.pcn "
    "HAVING SUM(p.bad) = 0 AND MAX(p.nf) = 1 AND MAX(p.wait) = 0"
)


#: the ``no_posted_charges`` credits of ``rc_ncfast``: one per payer whose net payment is
#: positive (the ledger knows no patient money). The amount is cents / 100.0: on SQLite the
#: same double as the ``float(Decimal)`` SQLAlchemy binds for an insert, on PostgreSQL the
#: exact numeric.
NO_CHARGE_CREDITS = (
    "INSERT INTO credits (provider_id, account_id, patient_control_number, owed_to, "
    "payer_id, cause, amount, government, deadline_days, identified_on, due_by, status, "
    "pending_until, pending_reason, basis, first_run_id, last_run_id, updated_at, "
    "claim_kind, medicare_part, medicare_verified, return_method) "
    "SELECT p.pid, NULL, p.pcn, 'payer', p.payer, 'overpayment', p.c / 100.0, g.government, "
    "g.deadline, :day, g.due_by, 'pending', NULL, :reason, :basis, :run, :run, :now, "
    "f.kind, NULL, NULL, 'refund' FROM rc_ncfast f JOIN rc_ncpay p ON p.pid = f.pid "
    "AND p.pcn = f.pcn JOIN (SELECT DISTINCT payer, filing, government, deadline, due_by "
    "FROM rc_ncrule WHERE ok = 1) g ON g.payer = p.payer AND g.filing = p.filing "
    "WHERE p.c > 0 ORDER BY p.pid, p.pcn, p.payer"
)


#: leaves out of a chunk the candidates ``nocharge.insert_plain`` has decided
NOT_FAST = "NOT EXISTS (SELECT 1 FROM rc_ncfast x WHERE x.pid = s.pid AND x.pcn = s.pcn)"
