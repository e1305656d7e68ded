"""Set-based SQL of reconciliation (portable to SQLite and PostgreSQL).

Money is summed as integer cents (``ROUND(x * 100)`` cast to an integer) because SQLite keeps
NUMERIC as floating point. Every query is keyed by (provider_id, patient control number): a
claim never mixes providers. The claim key of an 835 claim payment is its ``claim_links`` row
when it has one, else its own CLP01 (see ``linking``).

``scope`` tables are temporary tables of claim keys ``(pid, pcn)``; ``rc_cand`` also numbers
its rows (``n``) so candidates are loaded in bounded chunks.
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

WRITE_OFF_GROUPS_SQL = "('CO', 'PI', 'OA', 'CR')"

#: ledger row → effect on the claim balance (cents), the one definition used by the screen;
#: ``diff.ledger_fact`` applies the same classification in Python
LEDGER_BALANCE_EFFECT = """CASE
  WHEN le.type = 'charge' THEN {c}
  WHEN le.type = 'payment' AND le.party = 'patient' THEN -{c}
  WHEN le.type = 'refund' AND le.party = 'patient' THEN {c}
  WHEN le.type = 'adjustment' AND le.party <> 'payer' THEN -{c}
  WHEN le.type = 'refund' AND le.party = 'payer' THEN {c}
  ELSE 0 END"""


def cents(expr: str) -> str:
    return f"CAST(ROUND({expr} * 100) AS BIGINT)"


def create_temp(s: Session, name: str, numbered: bool = False) -> None:
    """A temporary key table (dropped first: SQLite keeps temp tables per connection)."""
    s.execute(text(f"DROP TABLE IF EXISTS {name}"))
    pg = s.get_bind().dialect.name == "postgresql"
    n = ("n SERIAL PRIMARY KEY, " if pg else "n INTEGER PRIMARY KEY, ") if numbered else ""
    s.execute(
        text(f"CREATE TEMPORARY TABLE {name} ({n}pid INTEGER NOT NULL, pcn VARCHAR(38) NOT NULL)")
    )
    s.execute(text(f"CREATE INDEX ix_{name}_key ON {name} (pid, pcn)"))


def analyze(s: Session, name: str) -> None:
    """Give the planner the row count of a freshly filled temp table, so it drives the joins
    from the (small) key table through the big tables' indexes instead of scanning them."""
    s.execute(text(f"ANALYZE {name}"))


def drop_temp(s: Session, *names: str) -> None:
    for name in names:
        s.execute(text(f"DROP TABLE IF EXISTS {name}"))


#: a claim payment counts unless it is a resend (``gateway.ingest.resend``): the earliest
#: present row with its identity wins. Only twins (another row had the identity when this one
#: was loaded: rare) are probed, through the patient control number index (``+ 0`` keeps
#: SQLite without statistics from walking the provider_id index instead); when the earlier
#: copy's rows go (a replay), the next copy counts without any bookkeeping.
COUNTED_CLAIM_PAYMENT = (
    "(NOT cp.resend_twin OR NOT EXISTS (SELECT 1 FROM claim_payments e "
    "WHERE e.patient_control_number = cp.patient_control_number "
    "AND e.provider_id + 0 = cp.provider_id AND e.resend_key = cp.resend_key "
    "AND e.id < cp.id))"
)
#: exceptions: counted 835 claims no 837 and no ledger row names, summed per claim key
UNMATCHED_REMITTANCES = (
    "SELECT cp.provider_id AS pid, cp.patient_control_number AS pcn, MIN(cp.payer_id) AS "
    "payer, SUM(CAST(ROUND(cp.paid * 100) AS BIGINT)) AS c, MIN(r.payment_date) AS since FROM"
    " claim_payments cp JOIN remittances r ON r.id = cp.remittance_id LEFT JOIN claim_links l"
    " ON l.claim_payment_id = cp.id WHERE cp.provider_id IS NOT NULL AND (l.claim_payment_id "
    "IS NULL OR l.method = 'unmatched') AND "
    + COUNTED_CLAIM_PAYMENT
    + " AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.provider_id = cp.provider_id AND "
    "c.patient_control_number = cp.patient_control_number) AND NOT EXISTS (SELECT 1 FROM "
    "ledger_entries le WHERE le.provider_id = cp.provider_id AND le.patient_control_number = "
    "cp.patient_control_number) GROUP BY cp.provider_id, cp.patient_control_number"
)

#: refund requests: the claim keys a payer claim control number (CLP07) was paid under
CLAIM_KEYS_BY_ICN = (
    "SELECT cp.payer_id, COALESCE(l.patient_control_number, cp.patient_control_number) FROM "
    "claim_payments cp LEFT JOIN claim_links l ON l.claim_payment_id = cp.id WHERE "
    "cp.provider_id = :p AND cp.payer_claim_control_number = :icn AND " + COUNTED_CLAIM_PAYMENT
)

#: refund requests: the payers that adjudicated a claim
ADJUDICATING_PAYERS = (
    "SELECT DISTINCT cp.payer_id FROM claim_payments cp LEFT JOIN claim_links l ON "
    "l.claim_payment_id = cp.id WHERE cp.provider_id = :p AND "
    "COALESCE(l.patient_control_number, cp.patient_control_number) = :n AND "
    + COUNTED_CLAIM_PAYMENT
)

#: letters: a claim's counted adjudications, with their remittance dates
CLAIM_FACT_PAYMENTS = (
    "SELECT cp.id, cp.payer_id, cp.status_code, cp.paid, cp.payer_claim_control_number AS "
    "icn, cp.statement_from, cp.statement_to, cp.facility_code, cp.frequency_code, "
    "r.payment_date, r.production_date FROM claim_payments cp JOIN remittances r ON r.id = "
    "cp.remittance_id LEFT JOIN claim_links l ON l.claim_payment_id = cp.id WHERE "
    "cp.provider_id = :p AND COALESCE(l.patient_control_number, cp.patient_control_number) = "
    ":n AND " + COUNTED_CLAIM_PAYMENT + " ORDER BY cp.id"
)

#: the same for PLB adjustment pairs (a resent 835 does not recoup twice)
COUNTED_PLB = (
    "(NOT pa.resend_twin OR NOT EXISTS (SELECT 1 FROM provider_adjustments e "
    "WHERE e.provider_id = pa.provider_id AND e.resend_key = pa.resend_key AND e.id < pa.id))"
)

CP_COLS = (
    "cp.id AS id, cp.provider_id AS pid, {pcn} AS pcn, cp.payer_id AS payer_id, "
    "cp.status_code AS status_code, cp.paid AS paid, cp.remittance_id AS remittance_id, "
    "cp.payer_claim_control_number AS icn, cp.filing_indicator AS filing, "
    "cp.charge AS charge"
)


#: what loading a claim's adjudications needs besides ``CP_COLS`` (how it was priced, interest)
LOAD_COLS = CP_COLS + (
    ", cp.interest AS interest, cp.drg_code AS drg_code, "
    "cp.inpatient AS inpatient, cp.split AS split, "
    "cp.statement_from AS statement_from, cp.statement_to AS statement_to"
)
#: a ledger charge row with line detail: the predicate of ``ix_ledger_entries_line_charges``
#: (tables.LINE_CHARGE), spelled with the ``le`` alias so both planners use that index
LINE_DETAIL = (
    "le.type = 'charge' AND (le.line_ref <> '' OR le.procedure_code <> '' OR le.revenue_code <> '')"
)


def claim_payments(scope: str | None, where: str = "", cols: str = CP_COLS) -> str:
    """Counted claim payments (resends left out) with their claim key ``pcn``; restricted to
    ``scope`` keys if given.

    ``where`` is an extra condition on the scope table ``s`` (e.g. a chunk of ``rc_cand``).
    """
    counted = COUNTED_CLAIM_PAYMENT
    if scope is None:
        every = cols.format(pcn="COALESCE(l.patient_control_number, cp.patient_control_number)")
        return (
            f"SELECT {every} FROM claim_payments cp LEFT JOIN claim_links l "
            f"ON l.claim_payment_id = cp.id WHERE cp.provider_id IS NOT NULL AND {counted}"
        )
    extra = f" AND {where}" if where else ""
    direct = cols.format(pcn="cp.patient_control_number")
    linked = cols.format(pcn="l.patient_control_number")
    return (
        f"SELECT {direct} FROM {scope} s JOIN claim_payments cp ON cp.provider_id = s.pid "
        "AND cp.patient_control_number = s.pcn LEFT JOIN claim_links l "
        "ON l.claim_payment_id = cp.id WHERE (l.claim_payment_id IS NULL "
        f"OR l.method = 'unmatched'){extra} AND {counted} "
        f"UNION ALL SELECT {linked} FROM {scope} s JOIN claim_links l ON l.provider_id = s.pid "
        "AND l.patient_control_number = s.pcn AND l.method <> 'unmatched' "
        f"JOIN claim_payments cp ON cp.id = l.claim_payment_id WHERE 1 = 1{extra} AND {counted}"
    )


def ledger(scope: str | None, where: str = "") -> str:
    """``FROM`` clause of ledger rows (alias ``le``), restricted to ``scope`` if given."""
    if scope is None:
        return "ledger_entries le"
    on = f" AND {where}" if where else ""
    return (
        f"{scope} s JOIN ledger_entries le ON le.provider_id = s.pid "
        f"AND le.patient_control_number = s.pcn{on}"
    )


def recoupments(scope: str | None, where: str = "") -> str:
    """``FROM`` clause of matched, counted PLB WO/72 rows (``m`` and ``pa``)."""
    base = (
        "plb_matches m JOIN provider_adjustments pa ON pa.id = m.provider_adjustment_id "
        f"AND {COUNTED_PLB}"
    )
    if scope is None:
        return base
    on = f" AND {where}" if where else ""
    return (
        f"{scope} s JOIN plb_matches m ON m.provider_id = s.pid "
        f"AND m.patient_control_number = s.pcn{on} "
        f"JOIN provider_adjustments pa ON pa.id = m.provider_adjustment_id AND {COUNTED_PLB}"
    )


def screen(scope: str | None) -> str:
    """Claim keys that may hold a credit or an uncharged line.

    A credit: a sound lower bound of B(c) is < 0, with

    bound = charges − Σ_payer max(0, max W over the payer's non-reversal adjudications)
            − Σ CLP04 + recoupments + payer refunds − (patient payments − refunds)
            − provider adjustments  ≤  B(c),

    because the counted write-offs are at most one non-negative maximum per payer. An
    uncharged line (owed back even where the rest of the claim is underpaid): the posted
    charges fall short of a non-reversal CLP03 (``ch`` against ``billed``), or, for ledgers
    with line detail, ``uncharged_lines`` finds one. Other claims are never loaded into Python.
    """
    cps = claim_payments(scope)
    w = cents("a.amount")
    charge_cents = cents("le.amount")
    return f"""
SELECT pid, pcn FROM (
  SELECT le.provider_id AS pid, le.patient_control_number AS pcn,
         {LEDGER_BALANCE_EFFECT.format(c=charge_cents)} AS v,
         CASE WHEN le.type = 'charge' THEN {charge_cents} ELSE 0 END AS ch, 0 AS billed
  FROM {ledger(scope)}
  UNION ALL
  SELECT k.pid, k.pcn, -{cents("k.paid")}, 0,
         CASE WHEN k.status_code <> '22' THEN {cents("k.charge")} ELSE 0 END
  FROM ({cps}) k
  UNION ALL
  SELECT pid, pcn, -SUM(wmax), 0, 0 FROM (
    SELECT pid, pcn, payer_id, MAX(CASE WHEN w > 0 THEN w ELSE 0 END) AS wmax FROM (
      SELECT k.id, k.pid, k.pcn, k.payer_id, SUM({w}) AS w
      FROM ({cps}) k JOIN adjustments a ON a.claim_payment_id = k.id
      WHERE k.status_code <> '22' AND a.group_code IN {WRITE_OFF_GROUPS_SQL}
        AND a.reason <> '23'
      GROUP BY k.id, k.pid, k.pcn, k.payer_id) per_adj
    GROUP BY pid, pcn, payer_id) per_payer
  GROUP BY pid, pcn
  UNION ALL
  SELECT m.provider_id, m.patient_control_number, {cents("pa.amount")}, 0, 0
  FROM {recoupments(scope)} WHERE m.patient_control_number IS NOT NULL
) contrib
GROUP BY pid, pcn
HAVING SUM(v) < 0 OR MAX(billed) > SUM(ch)
UNION
{uncharged_lines(scope)}
"""


def uncharged_lines(scope: str | None) -> str:
    """Claims whose ledger carries line detail and a paid line of a non-reversal claim payment
    that no posted charge names by line_ref or by code (and date): a superset of the claims
    ``lines.match`` finds an uncharged or partly posted line on when the totals agree."""
    # driven from the charges with line detail (a partial index): a ledger exported at claim
    # level costs nothing
    keys = (
        f"(SELECT DISTINCT le.provider_id AS pid, le.patient_control_number AS pcn "
        f"FROM {ledger(scope)} WHERE {LINE_DETAIL})"
    )
    return f"""
SELECT DISTINCT k.pid, k.pcn FROM ({claim_payments(keys)}) k
JOIN service_payments sp ON sp.claim_payment_id = k.id
WHERE k.status_code <> '22' AND sp.charge > 0
  AND NOT EXISTS (
    SELECT 1 FROM ledger_entries r WHERE r.provider_id = k.pid
      AND r.patient_control_number = k.pcn AND r.type = 'charge'
      AND ((r.line_ref <> '' AND r.line_ref = sp.line_control_number)
           OR (((r.procedure_code <> '' AND r.procedure_code = sp.code)
                OR (r.revenue_code <> '' AND r.revenue_code = sp.revenue_code))
               AND (r.service_date IS NULL OR sp.service_date IS NULL
                    OR r.service_date = sp.service_date))))
"""


def variances(scope: str | None) -> str:
    """Per claim and canonical payer: ledger payer payments vs 835 CLP04, where they differ.

    Only claims the ledger knows are compared (a claim with no ledger rows at all is an
    unmatched 835 claim, reported separately).
    """
    cps = claim_payments(scope)
    return f"""
SELECT pid, pcn, payer, SUM(posted) AS posted, SUM(npost) AS npost, SUM(remit) AS remit,
       SUM(nadj) AS nadj FROM (
  SELECT le.provider_id AS pid, le.patient_control_number AS pcn,
         COALESCE(pa.payer_id, le.payer_id) AS payer, {cents("le.amount")} AS posted,
         1 AS npost, 0 AS remit, 0 AS nadj
  FROM {ledger(scope)} LEFT JOIN payer_aliases pa ON pa.alias = le.payer_id
  WHERE le.party = 'payer' AND le.type = 'payment'
  UNION ALL
  SELECT k.pid, k.pcn, COALESCE(pa.payer_id, k.payer_id), 0, 0, {cents("k.paid")},
         CASE WHEN k.status_code = '22' THEN 0 ELSE 1 END
  FROM ({cps}) k LEFT JOIN payer_aliases pa ON pa.alias = k.payer_id
  WHERE EXISTS (SELECT 1 FROM ledger_entries x WHERE x.provider_id = k.pid
                AND x.patient_control_number = k.pcn)
) v
GROUP BY pid, pcn, payer
HAVING SUM(posted) <> SUM(remit)
"""


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


#: one claim as the only candidate of an explanation (gateway.reconcile.explain)
EXPLAIN_CANDIDATE = "INSERT INTO rc_cand (pid, pcn) VALUES (:p, :n)"


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
