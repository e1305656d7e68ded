"""What the 835 parser reports instead of raising: unreadable amounts and the balancing rules.

An 835 that does not balance is still a payer's statement of what it paid, so each check is a
warning finding on the segment that fails it, never an error that stops the parse:

- a service line: SVC02 − Σ line CAS = SVC03;
- a claim: CLP03 − Σ (claim CAS + line CAS) = CLP04;
- the transaction: BPR02 = Σ CLP04 − Σ PLB.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from parsers.x12.context import TxContext
from parsers.x12.values import decimal, is_numeric_text
from schemas.remittance import ClaimPayment, Remittance, ServicePayment

_ZERO = Decimal(0)


class Money:
    """Amount conversion that records a finding instead of raising."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: TxContext) -> None:
        self.ctx = ctx

    def __call__(self, text: str, n: int, seg: str, el: int, required: bool = True) -> Decimal:
        if text and is_numeric_text(text):  # fast path: one call, not two
            try:
                return Decimal(text)
            except InvalidOperation:
                pass
        if not text:
            if required:
                self.ctx.error("missing_element", f"{seg}{el:02d} is required", n, seg, el, "1")
            return _ZERO
        try:
            return decimal(text)
        except ValueError as exc:
            self.ctx.error("bad_number", f"{seg}{el:02d} {exc}", n, seg, el, "6")
            return _ZERO


def balance_line(s: ServicePayment, adjustments: Decimal, ctx: TxContext) -> None:
    """SVC02 − Σ line CAS = SVC03 (``adjustments``: the running Σ line CAS)."""
    adjusted = s.charge - adjustments
    if adjusted != s.paid:
        ctx.warning(
            "line_out_of_balance",
            f"service line charge {s.charge} minus adjustments "
            f"{s.charge - adjusted} is {adjusted}, but paid is {s.paid}",
            s.segment_index,
            "SVC",
        )


def balance_claim(c: ClaimPayment, total: Decimal, ctx: TxContext) -> None:
    """CLP03 − Σ(claim CAS + line CAS) = CLP04 (``total``: the running Σ of both)."""
    if c.charge - total != c.paid:
        ctx.warning(
            "claim_out_of_balance",
            f"claim charge {c.charge} minus adjustments {total} is {c.charge - total}, "
            f"but paid is {c.paid}",
            c.segment_index,
            "CLP",
        )


def balance_transaction(
    r: Remittance, total_paid: Decimal, total_plb: Decimal, n: int, ctx: TxContext
) -> None:
    """BPR02 = Σ CLP04 − Σ PLB."""
    expected = total_paid - total_plb
    if expected != r.payment_amount:
        ctx.warning(
            "transaction_out_of_balance",
            f"BPR02 {r.payment_amount} does not equal claim payments {total_paid} "
            f"minus provider adjustments {total_plb} = {expected}",
            n,
            "SE",
        )


__all__ = ["Money", "balance_claim", "balance_line", "balance_transaction"]
