"""Whose money a credit is and by when it must go back (pure): the government programmes and
their deadlines from a payer's profile rule and the claim filing indicator, and the due date
with an investigation's suspension (``credit`` and the set-based ``nocharge`` path use them).
"""

from __future__ import annotations

import datetime as dt

from gateway.reconcile import medicare
from schemas.payer import PayerRule

GOVERNMENT_60_DAY = frozenset({"MA", "MB", "MC"})
FEDERAL_OTHER = frozenset({"16", "CH", "VA", "OF"})
SIXTY_DAY_PROGRAMMES = frozenset({"medicare_a", "medicare_b", "medicaid"})


def government_by(rule: PayerRule, indicator: str) -> tuple[bool, int | None]:
    """``_government`` from the payer's profile rule and the claim filing indicator that
    speaks for it (also used by the set-based no-charge path, ``nocharge``)."""
    if indicator in medicare.MEDICARE_INDICATORS:
        return True, 60
    if rule.government is not None or rule.programme:
        gov = bool(rule.government) or rule.programme in SIXTY_DAY_PROGRAMMES
        if rule.programme in SIXTY_DAY_PROGRAMMES:
            return True, 60
        return gov, rule.deadline_days
    if indicator in GOVERNMENT_60_DAY:
        return True, 60
    if indicator in FEDERAL_OTHER:
        return True, rule.deadline_days
    return False, rule.deadline_days


def due_by(
    identified_on: dt.date,
    deadline_days: int | None,
    suspension_days: int = 0,
    suspension_cap: int = 180,
) -> dt.date | None:
    """Deadline: identification + the programme's days, plus an investigation's suspension.

    The suspension for a timely good-faith investigation is capped: 180 days for Medicare
    Parts A and B (42 CFR 401.305), a payer profile's ``investigation_days`` elsewhere, and
    0 (the deadline does not move) for a programme with neither.
    """
    if deadline_days is None:
        return None
    cap = min(max(suspension_cap, 0), 180)
    return identified_on + dt.timedelta(days=deadline_days + min(max(suspension_days, 0), cap))


__all__ = ["FEDERAL_OTHER", "GOVERNMENT_60_DAY", "SIXTY_DAY_PROGRAMMES", "due_by", "government_by"]
