"""What the planted scenarios are written with: the month's ``Planted`` result, the
``Builder`` that adds a scenario's claim, its adjudications and the credit it plants (dates of
the first month's design moved to this month, identification dates from the schedule), and
``post`` for a ledger row.

Split from ``gateway.demo.planted`` so the scenarios there read as the list of traps and
answers they are, without the machinery.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gateway.demo.calendar import first_run_on_or_after, shift
from gateway.demo.clean import Planner, line_payment, post_charges
from gateway.demo.model import (
    Adjudication,
    DemoClaim,
    ExpectedCredit,
    ExpectedLineVariance,
    ExpectedVariance,
    LinePayment,
    Posting,
    Submission,
    money,
)
from gateway.demo.payers import DemoPayer


@dataclass(slots=True)
class Planted:
    """What the planted scenarios add to the month."""

    claims: list[DemoClaim] = field(default_factory=list)
    credits: list[ExpectedCredit] = field(default_factory=list)
    variances: list[ExpectedVariance | ExpectedLineVariance] = field(default_factory=list)


#: (allowed, [(PR reason, amount)]) per line, in line order
Pricing = list[tuple[str, list[tuple[str, str]]]]


class Builder:
    """Writes one month's scenarios: its claims, adjudications and the credits they plant."""

    def __init__(
        self, planner: Planner, out: Planted, month: int, runs: tuple[dt.date, ...]
    ) -> None:
        self.p = planner
        self.out = out
        self.shift = shift(month)
        self.runs = runs

    def d(self, month: int, day: int) -> dt.date:
        """A date of the first month's design, moved to this month."""
        return dt.date(2025, month, day) + self.shift

    def claim(
        self,
        scenario: str,
        kind: str,
        service: dt.date,
        lines: list[tuple[str, str, str]],
        payer: DemoPayer,
        submitted: dt.date,
        charge_lines: list[int] | None = None,
    ) -> DemoClaim:
        c = self.p.new_claim(self.p.patient(), kind, service, lines, scenario)
        c.submissions.append(Submission(payer, submitted))
        post_charges(c, charge_lines)
        self.out.claims.append(c)
        return c

    def adjudicate(
        self, c: DemoClaim, payer: DemoPayer, day: dt.date, pricing: Pricing, status: str = "1"
    ) -> Adjudication:
        lines: list[LinePayment] = []
        for ln, (allowed, pr) in zip(c.lines, pricing, strict=True):
            lines.append(line_payment(ln, money(allowed), [(r, money(a)) for r, a in pr]))
        a = Adjudication(payer, day, status, self.p.icn(payer, day), lines)
        c.adjudications.append(a)
        return a

    def credit(
        self,
        c: DemoClaim,
        cause: str,
        amount: str,
        payer: DemoPayer | None,
        found: dt.date,
        *,
        owed_to: str = "payer",
        government: bool | None = None,
        status: str = "open",
        held_until: dt.date | None = None,
        undone: dt.date | None = None,
    ) -> None:
        """A planted credit first visible on ``found``; ``held_until``: ``pending`` while the
        final run is before that day, ``open`` after; ``undone``: the day it is resolved."""
        gov = payer.government if government is None and payer is not None else bool(government)
        identified = first_run_on_or_after(self.runs, found)
        if held_until is not None:
            status = "pending" if self.runs[-1] < held_until else "open"
        # found by a run before the day it is undone, and undone by the final run
        if undone is not None and not (
            status == "resolved" and identified < undone <= self.runs[-1]
        ):
            raise AssertionError(f"{c.scenario}: not found before it is undone")
        self.out.credits.append(
            ExpectedCredit(c, owed_to, payer, money(amount), cause, gov, identified, status)
        )


def post(
    c: DemoClaim,
    day: dt.date,
    code: str,
    amount: str,
    payer: DemoPayer | None = None,
    reference: str = "",
) -> None:
    c.postings.append(
        Posting(
            day,
            code,
            money(amount),
            payer.payer_id if payer else "",
            reference or f"{code}{day:%m%d}",
        )
    )


__all__ = ["Builder", "Planted", "Pricing", "post"]
