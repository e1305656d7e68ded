"""The pure rules of a reconciliation run's bookkeeping: how a claim's credits, waits and line
variances are diffed against what is stored, and the small classifications beside them.

``credit`` decides what a claim owes; this module decides what that means for the stored rows
(``service``/``chunk`` write them): a new identity (owed_to, payer, cause) is inserted, a
persisting one updated with its ``identified_on`` kept (its deadline moved by a recorded
investigation, ``suspension``), a vanished one resolved with how (``resolution``, from the
``basis`` stored when it was last seen). Nothing here touches a database or a clock (the caller
passes ``now``), so ``tests/unit/test_reconcile_diff.py`` needs none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from gateway.reconcile.credit import due_by
from gateway.reconcile.model import ClaimFacts, ClaimOutcome, CreditRow, LineVariance

CENT = Decimal("0.01")
Key = tuple[int, str]
Identity = tuple[str, str, str]  # owed_to, payer ('' for none), cause
Row = dict[str, Any]


def money(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) * CENT).quantize(CENT)


def ledger_fact(
    f: ClaimFacts, account: str, kind: str, party: str, payer: str, amount: Decimal
) -> None:
    """Apply one ledger sum to the facts (same classification as ``sql.LEDGER_BALANCE_EFFECT``).

    Payer payments and payer adjustments are the provider's postings of remittances: not
    counted (the 835 is the truth), compared as posting variances instead.
    """
    if account and (not f.account_id or account < f.account_id):
        f.account_id = account
    if kind == "charge":
        f.charges += amount
    elif kind == "payment" and party == "patient":
        f.patient_payments += amount
    elif kind == "refund" and party == "patient":
        f.patient_refunds += amount
    elif kind == "adjustment" and party != "payer":
        f.provider_adjustments += amount
    elif kind == "refund" and party == "payer":
        f.payer_refunds[payer] = f.payer_refunds.get(payer, Decimal(0)) + amount


def basis(f: ClaimFacts, owed_to: str, payer: str) -> dict[str, Any]:
    """What could make this credit disappear, as it stands now."""
    if owed_to == "payer":
        return {
            "recouped": str(f.recoupments.get(payer, Decimal(0))),
            "refunded": str(f.payer_refunds.get(payer, Decimal(0))),
            "reversals": sum(1 for a in f.adjudications if a.payer_id == payer and a.is_reversal),
        }
    if owed_to == "patient":
        return {"recouped": "0", "refunded": str(f.patient_refunds), "reversals": 0}
    return {
        "recouped": str(sum(f.recoupments.values(), Decimal(0))),
        "refunded": str(sum(f.payer_refunds.values(), Decimal(0)) + f.patient_refunds),
        "reversals": sum(1 for a in f.adjudications if a.is_reversal),
    }


def resolution(before: dict[str, Any] | None, now: dict[str, Any]) -> str:
    before = before or {}
    if Decimal(now["recouped"]) > Decimal(before.get("recouped", "0")):
        return "recouped_by_plb"
    if Decimal(now["refunded"]) > Decimal(before.get("refunded", "0")):
        return "refund_posted"
    if int(now["reversals"]) > int(before.get("reversals", 0)):
        return "reversal_arrived"
    return "balance_changed"


def merge(rows: Iterable[CreditRow]) -> dict[Identity, CreditRow]:
    out: dict[Identity, CreditRow] = {}
    for r in rows:
        ident = (r.owed_to, r.payer_id or "", r.cause)
        prev = out.get(ident)
        if prev is not None:
            r = replace(r, amount=prev.amount + r.amount)
        out[ident] = r
    return out


def suspension(row: Any, day: dt.date) -> int:
    """Days of an open (or closed) investigation that suspend the deadline: at most what the
    investigation was recorded with (``investigation_days``: 180 for Medicare A/B, a payer
    profile's days, 0 when the deadline does not move; NULL, recorded before that: 180)."""
    opened: dt.date | None = row["investigation_opened_on"]
    if opened is None:
        return 0
    closed: dt.date = row["investigation_closed_on"] or day
    cap = row["investigation_days"]
    return min(max((closed - opened).days, 0), 180 if cap is None else cap)


def medicare_columns(row: CreditRow) -> dict[str, Any]:
    """The credit columns of ``medicare.annotate`` (claim kind, Part, return method)."""
    return {
        "claim_kind": row.claim_kind,
        "medicare_part": row.medicare_part,
        "medicare_verified": row.medicare_verified,
        "return_method": row.return_method,
    }


def by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their set of keys (one executemany per shape)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        shapes.setdefault(tuple(sorted(r)), []).append(r)
    return list(shapes.values())


def classify_variance(posted: int, npost: int, remit: int) -> str:
    """Kind of a posting variance, from cents posted, number of postings and cents remitted."""
    if npost == 0:
        return "unposted_payment"
    if remit == 0:
        return "posted_without_remittance"
    if npost >= 2 and posted == npost * remit:
        return "posted_twice"
    return "wrong_amount"


def wait_row(key: Key, outcome: ClaimOutcome) -> Row | None:
    """The ``claim_waits`` row of a claim waiting for its ledger (None when it is not)."""
    if outcome.no_charges_until is None or outcome.waiting is None:
        return None
    payer, amount, since = outcome.waiting
    return {
        "provider_id": key[0],
        "patient_control_number": key[1],
        "until": outcome.no_charges_until,
        "payer_id": payer,
        "amount": amount,
        "since": since,
    }


def credit_changes(
    key: Key,
    f: ClaimFacts,
    rows: Mapping[Identity, CreditRow],
    old: Mapping[Identity, Mapping[str, Any]],
    day: dt.date,
    run_id: int,
    now: Callable[[], dt.datetime],
) -> tuple[list[Row], list[Row], list[Row]]:
    """One claim's credits (``merge``d) against its stored non-resolved ones (``old``, by
    identity): the rows to insert, the updates and the resolutions (``b_id``: the stored id)."""
    inserts: list[Row] = []
    updates: list[Row] = []
    resolves: list[Row] = []
    account = f.account_id or None
    for ident, row in rows.items():
        seen = basis(f, row.owed_to, ident[1])
        prev = old.get(ident)
        if prev is None:
            inserts.append(
                {
                    "provider_id": key[0],
                    "account_id": account,
                    "patient_control_number": key[1],
                    "owed_to": row.owed_to,
                    "payer_id": ident[1],
                    "cause": row.cause,
                    "amount": row.amount,
                    "government": row.government,
                    "deadline_days": row.deadline_days,
                    "identified_on": day,
                    "due_by": due_by(day, row.deadline_days),
                    "status": row.status,
                    "pending_until": row.pending_until,
                    "pending_reason": row.pending_reason,
                    "basis": seen,
                    "first_run_id": run_id,
                    "last_run_id": run_id,
                    "updated_at": now(),
                    **medicare_columns(row),
                }
            )
            continue
        updates.append(
            {
                "b_id": prev["id"],
                "account_id": account,
                "amount": row.amount,
                "government": row.government,
                "deadline_days": row.deadline_days,
                "due_by": due_by(prev["identified_on"], row.deadline_days, suspension(prev, day)),
                "status": row.status,
                "pending_until": row.pending_until,
                "pending_reason": row.pending_reason,
                "basis": seen,
                "last_run_id": run_id,
                "updated_at": now(),
                **medicare_columns(row),
            }
        )
    for ident, prev in old.items():
        if ident in rows:
            continue
        resolves.append(
            {
                "b_id": prev["id"],
                "status": "resolved",
                "resolved_on": day,
                "resolution": resolution(prev["basis"], basis(f, ident[0], ident[1])),
                "pending_reason": None,
                "last_run_id": run_id,
                "updated_at": now(),
            }
        )
    return inserts, updates, resolves


def line_variance_changes(
    found: Mapping[Key, list[LineVariance]],
    accounts: Mapping[Key, str | None],
    stored: Mapping[tuple[int, str, str, str, str], Any],
    day: dt.date,
    run_id: int,
) -> tuple[list[Row], list[Row]]:
    """Line variances found against the stored ones of the same claims (keyed by provider,
    pcn, payer, kind, group key; each with ``id``, ``status`` and ``resolution``): new ones to
    insert; updates of persisting ones (the analyst's answer kept: ``resolved`` if answered)
    and of vanished ones (``cleared``)."""
    inserts: list[Row] = []
    updates: list[Row] = []
    seen: set[int] = set()
    for key, variances in found.items():
        account = accounts.get(key)
        for v in variances:
            values = {
                "account_id": account,
                "reason": v.reason[:2000],
                "charge": v.charge,
                "paid": v.paid,
                "lines": [dict(x) for x in v.lines],
                "run_id": run_id,
            }
            prev = stored.get((key[0], key[1], v.payer_id, v.kind, v.group_key))
            if prev is None:
                inserts.append(
                    {
                        **values,
                        "provider_id": key[0],
                        "patient_control_number": key[1],
                        "payer_id": v.payer_id,
                        "kind": v.kind,
                        "group_key": v.group_key,
                        "status": "open",
                        "detected_on": day,
                    }
                )
                continue
            seen.add(prev.id)
            status = "resolved" if prev.resolution else "open"
            updates.append({**values, "b_id": prev.id, "status": status})
    for prev in stored.values():
        if prev.id not in seen and prev.status != "cleared":
            updates.append({"b_id": prev.id, "status": "cleared", "run_id": run_id})
    return inserts, updates


__all__ = [
    "CENT",
    "Identity",
    "Key",
    "basis",
    "by_columns",
    "classify_variance",
    "credit_changes",
    "ledger_fact",
    "line_variance_changes",
    "medicare_columns",
    "merge",
    "money",
    "resolution",
    "suspension",
    "wait_row",
]
