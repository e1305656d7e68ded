"""A claim's attributed credit parts as credit rows (pure): status, government and deadline.

``credit`` decides how much is owed to whom and why (``Part``); here each part becomes a
``CreditRow``: pending with its reason or open, whether the money is a government programme's
and its deadline days (``deadlines.government_by``), and, for the rows of a run, the claim
kind, Medicare Part and return method (``medicare.annotate``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from gateway.reconcile import medicare
from gateway.reconcile.balance import effective_adjudications
from gateway.reconcile.deadlines import government_by
from gateway.reconcile.model import ClaimBalance, ClaimFacts, CreditRow
from schemas.payer import PayerRule

#: a payer id → its profile's rule (``PayerDirectory.rule``)
Rules = Callable[[str], PayerRule]


@dataclass(slots=True)
class Part:
    """A share of a claim's credit: who it is owed to, how much, and why."""

    owed_to: str
    payer: str | None
    amount: Decimal
    cause: str


def rows(
    facts: ClaimFacts,
    cb: ClaimBalance,
    parts: list[Part],
    rules: Rules,
    reason: str | None,
    hold_until: dt.date | None,
) -> list[CreditRow]:
    """The rows of ``parts``: pending for ``reason`` (until ``hold_until``) or open. Money owed
    to nobody known is the government's when any payer of the claim is (60 days)."""
    if not parts:
        return []
    any_government = any(government(facts, cb, p, rules)[0] for p in cb.net_payments)
    status = "pending" if reason is not None else "open"
    out = []
    for part in parts:
        if part.payer is not None:
            gov, deadline = government(facts, cb, part.payer, rules)
        else:
            gov, deadline = (part.owed_to == "unknown" and any_government), None
            if gov:
                deadline = 60
        out.append(
            CreditRow(
                provider_id=facts.provider_id,
                account_id=facts.account_id,
                patient_control_number=facts.patient_control_number,
                owed_to=part.owed_to,
                payer_id=part.payer,
                amount=part.amount,
                cause=part.cause,
                government=gov,
                status=status,
                deadline_days=deadline,
                pending_until=hold_until,
                pending_reason=reason,
            )
        )
    return out


def government(
    facts: ClaimFacts, cb: ClaimBalance, payer: str, rules: Rules
) -> tuple[bool, int | None]:
    """(government?, deadline days) for money owed to ``payer``.

    Medicare by the claim (CLP06 of the payer's effective adjudication, else the SBR09 of its
    own 837 loop: MA, MB) is Medicare's money, 60 days, whether or not the payer has a
    profile. Otherwise the payer profile decides; without one, that same indicator: MC → 60
    days; 16, CH, VA, OF → government with the profile's deadline.
    """
    indicator = medicare.payer_indicator(facts, cb.effective.get(payer), payer)
    return government_by(rules(payer), indicator)


def classify_rows(facts: ClaimFacts, rows: list[CreditRow], *, rules: Rules) -> list[CreditRow]:
    """``rows`` of ``attribute`` with their claim kind, Medicare Part and return method."""
    if not rows:
        return rows
    effective, _ = effective_adjudications(facts.adjudications)
    return medicare.annotate(facts, rows, effective, rules)


__all__ = ["Part", "Rules", "classify_rows", "government", "rows"]
