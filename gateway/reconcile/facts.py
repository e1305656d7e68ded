"""Loading a chunk of candidate claims into the model's ``ClaimFacts`` (the per-claim path of a
reconciliation run, and ``explain``): ledger sums and line charges, counted adjudications with
their CAS and SVC loops, analysts' line decisions, replacement 837s, PLB recoupments, the 837's
filing indicator and the Medicare facts (``medicare_load``).
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments (``sql``) and the chunk
# condition on our own temp table; every value is a bound parameter.

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.orm import Session

from gateway.reconcile import medicare_load
from gateway.reconcile import sql as q
from gateway.reconcile.diff import Key, ledger_fact, money
from gateway.reconcile.model import Adjudication, ClaimFacts, LedgerCharge, ServiceLine
from mappings.payers import PayerDirectory


def load_facts(
    s: Session, where: str, p: dict[str, Any], payers: PayerDirectory
) -> dict[Key, ClaimFacts]:
    """Everything about the chunk's candidates (``where`` on ``rc_cand s``) that the
    per-claim model needs."""
    facts: dict[Key, ClaimFacts] = {}

    def claim(pid: int, pcn: str) -> ClaimFacts:
        f = facts.get((pid, pcn))
        if f is None:
            f = facts[(pid, pcn)] = ClaimFacts(
                provider_id=pid, account_id="", patient_control_number=pcn
            )
        return f

    for r in s.execute(text(f"SELECT pid, pcn FROM rc_cand s WHERE {where}"), p):
        claim(int(r.pid), str(r.pcn))
    charge_rows: dict[Key, int] = {}
    for r in s.execute(
        text(
            f"SELECT le.provider_id AS pid, le.patient_control_number AS pcn, "
            f"MIN(le.account_id) AS account, le.type, le.party, le.payer_id, "
            f"SUM({q.cents('le.amount')}) AS c, COUNT(*) AS n FROM {q.ledger('rc_cand', where)} "
            "GROUP BY le.provider_id, le.patient_control_number, le.type, le.party, "
            "le.payer_id"
        ),
        p,
    ):
        f = claim(int(r.pid), str(r.pcn))
        ledger_fact(f, r.account, r.type, r.party, payers.canonical(r.payer_id), money(r.c))
        if r.type == "charge":
            key = (f.provider_id, f.patient_control_number)
            charge_rows[key] = charge_rows.get(key, 0) + int(r.n)
    # only charges with line detail one by one (a partial index); the rest as one sum
    for r in s.execute(
        text(
            "SELECT le.provider_id AS pid, le.patient_control_number AS pcn, "
            f"{q.cents('le.amount')} AS c, le.line_ref, le.procedure_code, le.revenue_code, "
            f"le.service_date FROM {q.ledger('rc_cand', where)} WHERE {q.LINE_DETAIL} "
            "ORDER BY le.id"
        ).columns(service_date=Date),
        p,
    ):
        claim(int(r.pid), str(r.pcn)).ledger_charges.append(
            LedgerCharge(
                money(r.c),
                r.line_ref or "",
                r.procedure_code or "",
                r.revenue_code or "",
                r.service_date,
            )
        )
    for key, f in facts.items():
        rows = charge_rows.get(key, 0)
        f.has_charge_rows = rows > 0
        if rows > len(f.ledger_charges):
            rest = f.charges - sum((c.amount for c in f.ledger_charges), Decimal(0))
            f.ledger_charges.append(LedgerCharge(rest))
    adjudications: dict[int, Adjudication] = {}
    for r in s.execute(
        text(
            f"SELECT k.id, k.pid, k.pcn, k.payer_id, k.status_code, {q.cents('k.paid')} AS c, "
            f"{q.cents('COALESCE(k.interest, 0)')} AS i, {q.cents('k.charge')} AS billed, "
            "k.icn, k.filing, k.drg_code, k.inpatient, k.split, k.statement_from, "
            "k.statement_to, r.payment_date, r.production_date FROM "
            f"({q.claim_payments('rc_cand', where, q.LOAD_COLS)}) k "
            "JOIN remittances r ON r.id = k.remittance_id ORDER BY k.id"
        ).columns(payment_date=Date, production_date=Date, statement_from=Date, statement_to=Date),
        p,
    ):
        a = Adjudication(
            key=int(r.id),
            payer_id=payers.canonical(r.payer_id),
            status_code=r.status_code,
            paid=money(int(r.c) - int(r.i)),
            payer_claim_control_number=r.icn or "",
            remittance_date=r.payment_date or r.production_date or dt.date.min,
            filing_indicator=r.filing or "",
            charge=money(r.billed),
            drg_code=r.drg_code or "",
            inpatient=bool(r.inpatient),
            split=bool(r.split),
            statement_from=r.statement_from,
            statement_to=r.statement_to,
        )
        adjudications[a.key] = a
        claim(int(r.pid), str(r.pcn)).adjudications.append(a)
    _load_lines(s, adjudications)
    _load_decisions_and_replacements(s, where, p, claim)
    for r in s.execute(
        text(
            f"SELECT m.provider_id AS pid, m.patient_control_number AS pcn, m.payer_id, "
            f"SUM({q.cents('pa.amount')}) AS c FROM {q.recoupments('rc_cand', where)} "
            "GROUP BY m.provider_id, m.patient_control_number, m.payer_id"
        ),
        p,
    ):
        f = claim(int(r.pid), str(r.pcn))
        payer = payers.canonical(r.payer_id)
        f.recoupments[payer] = f.recoupments.get(payer, Decimal(0)) + money(r.c)
    for r in s.execute(
        text(
            "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, "
            "MAX(c.filing_indicator) AS filing FROM rc_cand s JOIN claims c "
            "ON c.provider_id = s.pid AND c.patient_control_number = s.pcn "
            f"WHERE {where} GROUP BY c.provider_id, c.patient_control_number"
        ),
        p,
    ):
        claim(int(r.pid), str(r.pcn)).claim_filing_indicator = r.filing or ""
    medicare_load.load(s, where, p, facts, payers)
    return facts


def _load_lines(s: Session, adjudications: dict[int, Adjudication]) -> None:
    """CAS (claim and line level) and SVC loops of the loaded adjudications."""
    ids = sorted(adjudications)
    lines: dict[int, ServiceLine] = {}
    owner: dict[int, int] = {}
    line_cas: dict[int, list[tuple[str, str, Decimal]]] = {}
    for i in range(0, len(ids), 900):
        part = {"ids": ids[i : i + 900]}
        for r in s.execute(
            text(
                "SELECT id, claim_payment_id, procedure, code, revenue_code, "
                f"{q.cents('charge')} AS c, {q.cents('paid')} AS p, service_date, "
                "line_control_number FROM service_payments WHERE claim_payment_id IN :ids "
                "ORDER BY claim_payment_id, seq"
            )
            .bindparams(bindparam("ids", expanding=True))
            .columns(service_date=Date),
            part,
        ):
            lines[int(r.id)] = ServiceLine(
                r.line_control_number or "",
                r.code or "",
                r.revenue_code or "",
                r.service_date,
                money(r.c),
                money(r.p),
                (),
                r.procedure or "",
            )
            owner[int(r.id)] = int(r.claim_payment_id)
        for r in s.execute(
            text(
                "SELECT claim_payment_id, service_payment_id, group_code, reason, "
                f"SUM({q.cents('amount')}) AS c FROM adjustments "
                "WHERE claim_payment_id IN :ids "
                "GROUP BY claim_payment_id, service_payment_id, group_code, reason "
                "ORDER BY claim_payment_id, service_payment_id, group_code, reason"
            ).bindparams(bindparam("ids", expanding=True)),
            part,
        ):
            cas = (r.group_code, r.reason, money(r.c))
            a = adjudications[int(r.claim_payment_id)]
            a.adjustments.append(cas)
            if r.service_payment_id is None:
                a.claim_adjustments.append(cas)
            else:
                line_cas.setdefault(int(r.service_payment_id), []).append(cas)
    for sid, line in lines.items():
        adjudications[owner[sid]].lines.append(
            replace(line, adjustments=tuple(line_cas.get(sid, ())))
        )


def _load_decisions_and_replacements(
    s: Session, where: str, p: dict[str, Any], claim: Callable[[int, str], ClaimFacts]
) -> None:
    """Analysts' answers to uncharged lines, and replacement/void 837s with their send date."""
    for r in s.execute(
        text(
            "SELECT v.provider_id AS pid, v.patient_control_number AS pcn, v.group_key, "
            "v.resolution FROM rc_cand s JOIN line_variances v ON v.provider_id = s.pid "
            f"AND v.patient_control_number = s.pcn WHERE {where} "
            "AND v.resolution IS NOT NULL"
        ),
        p,
    ):
        claim(int(r.pid), str(r.pcn)).line_decisions[r.group_key] = r.resolution
    for r in s.execute(
        text(
            "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, "
            "c.original_claim_number AS icn, g.date AS sent FROM rc_cand s JOIN claims c "
            "ON c.provider_id = s.pid AND c.patient_control_number = s.pcn "
            "JOIN transactions t ON t.id = c.transaction_id "
            "JOIN functional_groups g ON g.id = t.group_id "
            f"WHERE {where} AND c.frequency_code IN ('7', '8') "
            "AND c.original_claim_number <> ''"
        ).columns(sent=Date),
        p,
    ):
        if r.sent is not None:
            claim(int(r.pid), str(r.pcn)).replacements.append((r.icn, r.sent))


__all__ = ["load_facts"]
