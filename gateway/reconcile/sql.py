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

from gateway.db.remittance_rows import COUNTED_CLAIM_PAYMENT

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

#: letters and dispute evidence: a claim's counted adjudications, remittance dates and TRN
CLAIM_FACT_PAYMENTS = (
    "SELECT cp.id, cp.payer_id, cp.status_code, cp.paid, cp.payer_claim_control_number AS "
    "icn, cp.statement_from, cp.statement_to, cp.facility_code, cp.frequency_code, "
    "r.payment_date, r.production_date, r.trace_number FROM claim_payments cp JOIN remittances "
    "r ON r.id = cp.remittance_id LEFT JOIN claim_links l ON l.claim_payment_id = cp.id WHERE "
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
    unmatched 835 claim, reported separately). That is checked on the groups that differ, not
    on every claim payment: a claim without ledger rows has no posted side, so leaving its
    payments in the sums changes no other group, and most groups agree.
    """
    cps = claim_payments(scope)
    return f"""
SELECT g.* FROM (
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
  ) v
  GROUP BY pid, pcn, payer
  HAVING SUM(posted) <> SUM(remit)
) g
WHERE g.npost > 0 OR EXISTS (SELECT 1 FROM ledger_entries x WHERE x.provider_id = g.pid
                             AND x.patient_control_number = g.pcn)
"""


#: one claim as the only candidate of an explanation (gateway.reconcile.explain)
EXPLAIN_CANDIDATE = "INSERT INTO rc_cand (pid, pcn) VALUES (:p, :n)"
