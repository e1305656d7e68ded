"""Claims with remittances and no posted charge, decided from sums (issue 17 item 5).

An 835 no 837 or ledger knows, or an 837 whose charges were never posted, makes every claim
a candidate and (after the ledger lag) a pending credit: loading each one's adjudications,
CAS and lines and walking the per-claim model made such files 10–15× slower to reconcile
than matched ones. ``credit._without_charges`` only needs, per payer, the net payment and the
newest remittance date, the claim filing indicator that speaks for the payer, the patient's
net money and the newest 837's kind, so the *plain* ones are decided here from a few grouped
queries per chunk, with the same results to the cent:

- no charge row at all, no reversal, no PLB recoupment and no ledger refund to a payer;
- every claim payment dated, and each payer's claim payments of one non-empty filing
  indicator that is not Medicare's (MA, MB), from a payer whose profile is not a Medicare
  contractor (their Part, return method and kind of claim need the lines and loops).

Everything else (and every claim that has a charge) takes the per-claim path unchanged.

The commonest of them, a claim the ledger knows nothing of (no row at all, so no account, no
patient money, no refund) with no open credit, no PLB recoupment and every payer's ledger lag
passed, never comes into Python: ``insert_plain`` writes its credits by INSERT ... SELECT
(``nocharge_sql.NO_CHARGE_*``) with the payers' rules computed here per (payer, filing
indicator) pair into a temporary table: the values ``load`` + ``_outcome`` and the insert
would write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    CursorResult,
    Date,
    Integer,
    String,
    bindparam,
    text,
)
from sqlalchemy.orm import Session

from gateway.db.types import tbl, utcnow
from gateway.reconcile import nocharge_sql as q
from gateway.reconcile.credit import due_by, government_by
from gateway.reconcile.medicare import MEDICARE_INDICATORS, MEDICARE_PROGRAMMES
from gateway.reconcile.model import ZERO, ClaimFacts, ClaimOutcome, CreditRow
from gateway.reconcile.tables import Credit
from mappings.payers import PayerDirectory
from schemas.payer import PayerRule

Key = tuple[int, str]
CENT = Decimal("0.01")
REASON = "no_posted_charges"


def _money(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) * CENT).quantize(CENT)


@dataclass(slots=True)
class _Claim:
    net: dict[str, Decimal] = field(default_factory=dict)
    newest: dict[str, dt.date] = field(default_factory=dict)
    filing: dict[str, str] = field(default_factory=dict)
    plain: bool = True


def insert_plain(
    s: Session,
    where: str,
    params: dict[str, Any],
    day: dt.date,
    payers: PayerDirectory,
    run_id: int,
) -> int:
    """Write the credits of the chunk's (``where`` on ``rc_cand s``) plain no-charge
    candidates the ledger knows nothing of, past their ledger lag and with no open credit;
    ``rc_ncfast`` then holds those claims (``nocharge_sql.NOT_FAST`` leaves them out of the
    rest of the chunk). Returns how many credits were inserted."""
    q.clear_no_charge_temps(s)
    s.execute(text(q.no_charge_raw(where)), params)
    rules = [
        _pair_rule(str(raw), str(filing), day, payers)
        for raw, filing in s.execute(text(q.NO_CHARGE_PAIRS))
    ]
    if not rules:
        return 0
    s.execute(
        text(q.NO_CHARGE_RULE).bindparams(
            bindparam("raw", type_=String()),
            bindparam("filing", type_=String()),
            bindparam("payer", type_=String()),
            bindparam("ok", type_=Integer()),
            bindparam("cutoff", type_=Date()),
            bindparam("government", type_=Boolean()),
            bindparam("deadline", type_=Integer()),
            bindparam("due_by", type_=Date()),
        ),
        rules,
    )
    s.execute(text(q.NO_CHARGE_PAY))
    s.execute(text(q.NO_CHARGE_FAST))
    credits = tbl(Credit)  # the columns' own bind processors, as an insert of the rows
    inserted = cast(
        CursorResult[Any],
        s.execute(
            text(q.NO_CHARGE_CREDITS).bindparams(
                bindparam("day", type_=credits.c.identified_on.type),
                bindparam("reason", type_=credits.c.pending_reason.type),
                bindparam("basis", type_=credits.c.basis.type),
                bindparam("run", type_=credits.c.last_run_id.type),
                bindparam("now", type_=credits.c.updated_at.type),
            ),
            {"day": day, "reason": REASON, "basis": BASIS, "run": run_id, "now": utcnow()},
        ),
    )
    return max(int(inserted.rowcount or 0), 0)


#: ``diff.basis`` of a payer's credit on a claim with no recoupment, refund or reversal
BASIS = {"recouped": str(ZERO), "refunded": str(ZERO), "reversals": 0}


def _pair_rule(raw: str, filing: str, day: dt.date, payers: PayerDirectory) -> dict[str, Any]:
    """A (payer id, filing indicator) pair's row of ``rc_ncrule``: what ``load`` and
    ``_outcome`` take from the payer's rule (``ok``: the pair may be decided from sums)."""
    payer = payers.canonical(raw)
    rule = payers.rule(payer)
    government, deadline = government_by(rule, filing)
    ok = bool(filing) and filing not in MEDICARE_INDICATORS
    ok = ok and rule.programme not in MEDICARE_PROGRAMMES
    try:
        cutoff: dt.date | None = day - dt.timedelta(days=rule.ledger_lag_days)
        due = due_by(day, deadline)
    except OverflowError:  # the per-claim path says what such a rule means
        cutoff, due, ok = None, None, False
    return {
        "raw": raw,
        "filing": filing,
        "payer": payer,
        "ok": int(ok),
        "cutoff": cutoff,
        "government": government,
        "deadline": deadline,
        "due_by": due,
    }


def load(
    s: Session, where: str, params: dict[str, Any], day: dt.date, payers: PayerDirectory
) -> dict[Key, tuple[ClaimFacts, ClaimOutcome]]:
    """The plain no-charge candidates of a chunk (``where`` on ``rc_cand s``), decided."""
    where = f"{where} AND {q.NO_CHARGE_ROWS}"
    rules: dict[str, PayerRule] = {}

    def rule(payer: str) -> PayerRule:
        found = rules.get(payer)
        if found is None:
            found = rules[payer] = payers.rule(payer)
        return found

    claims = _payments(s, where, params, payers, rule)
    if not any(c.plain for c in claims.values()):
        return {}
    for r in s.execute(text(q.recouped_keys(where)), params):
        recouped = claims.get((int(r.pid), str(r.pcn)))
        if recouped is not None:
            recouped.plain = False
    facts = _ledger_facts(s, where, params, claims)
    kinds: dict[Key, tuple[int, str]] = {}
    for r in s.execute(text(q.claim_kinds(where)), params):
        key = (int(r.pid), str(r.pcn))
        if key in facts and int(r.id) > kinds.get(key, (0, ""))[0]:
            kinds[key] = (int(r.id), r.kind or "")
    out: dict[Key, tuple[ClaimFacts, ClaimOutcome]] = {}
    for key, f in facts.items():
        c = claims[key]
        if c.plain:
            out[key] = (f, _outcome(f, c, kinds.get(key, (0, ""))[1], day, rule))
    return out


def _payments(
    s: Session,
    where: str,
    params: dict[str, Any],
    payers: PayerDirectory,
    rule: Callable[[str], PayerRule],
) -> dict[Key, _Claim]:
    """Each candidate's net paid, newest remittance and filing indicator per canonical payer;
    a claim with a reversal, an undated or Medicare payment, or two indicators is not plain."""
    claims: dict[Key, _Claim] = {}
    for r in s.execute(text(q.no_charge_payments(where)).columns(newest=Date), params):
        c = claims.setdefault((int(r.pid), str(r.pcn)), _Claim())
        payer = payers.canonical(r.payer_id)
        filing = r.filing or ""
        if (
            r.reversals
            or r.undated
            or r.newest is None
            or not filing
            or filing in MEDICARE_INDICATORS
            or c.filing.get(payer, filing) != filing
            or rule(payer).programme in MEDICARE_PROGRAMMES
        ):
            c.plain = False
            continue
        c.filing[payer] = filing
        c.net[payer] = c.net.get(payer, ZERO) + _money(r.c)
        newest = c.newest.get(payer)
        c.newest[payer] = r.newest if newest is None else max(newest, r.newest)
    return claims


def _ledger_facts(
    s: Session, where: str, params: dict[str, Any], claims: dict[Key, _Claim]
) -> dict[Key, ClaimFacts]:
    """The plain claims' facts from their ledger rows (account, patient money); a payer refund
    on the ledger makes a claim not plain."""
    facts: dict[Key, ClaimFacts] = {}
    for key, c in claims.items():
        if c.plain:
            facts[key] = ClaimFacts(
                provider_id=key[0],
                account_id="",
                patient_control_number=key[1],
                has_charge_rows=False,
            )
    for r in s.execute(text(q.ledger_sums(where)), params):
        key = (int(r.pid), str(r.pcn))
        f = facts.get(key)
        if f is None:
            continue
        if r.type == "refund" and r.party == "payer":
            claims[key].plain = False
            continue
        account = r.account
        if account and (not f.account_id or account < f.account_id):
            f.account_id = account
        if r.type == "payment" and r.party == "patient":
            f.patient_payments += _money(r.c)
        elif r.type == "refund" and r.party == "patient":
            f.patient_refunds += _money(r.c)
    return facts


def _outcome(
    f: ClaimFacts, c: _Claim, kind: str, as_of: dt.date, rule: Callable[[str], PayerRule]
) -> ClaimOutcome:
    """``credit._without_charges`` then ``medicare.annotate``, for a plain claim."""
    until = max(
        newest + dt.timedelta(days=rule(p).ledger_lag_days) for p, newest in c.newest.items()
    )
    if as_of < until:
        payer = max(sorted(c.net), key=lambda p: c.net[p])
        return ClaimOutcome(
            [],
            [],
            no_charges_until=until,
            waiting=(payer, sum(c.net.values(), ZERO), max(c.newest.values())),
        )
    rows: list[CreditRow] = []
    for p, n in sorted(c.net.items()):
        if n > 0:
            government, deadline = government_by(rule(p), c.filing[p])
            rows.append(_row(f, "payer", p, n, "overpayment", government, deadline, kind))
    patient = f.patient_payments - f.patient_refunds
    if patient > 0:
        rows.append(_row(f, "patient", None, patient, "patient_overpayment", False, None, kind))
    return ClaimOutcome(rows, [])


def _row(
    f: ClaimFacts,
    owed_to: str,
    payer: str | None,
    amount: Decimal,
    cause: str,
    government: bool,
    deadline: int | None,
    kind: str,
) -> CreditRow:
    return CreditRow(
        provider_id=f.provider_id,
        account_id=f.account_id,
        patient_control_number=f.patient_control_number,
        owed_to=owed_to,
        payer_id=payer,
        amount=amount,
        cause=cause,
        government=government,
        status="pending",
        deadline_days=deadline,
        pending_until=None,
        pending_reason=REASON,
        claim_kind=kind,
        medicare_part=None,
        medicare_verified=None,
        return_method="refund",
    )


__all__ = ["BASIS", "insert_plain", "load"]
