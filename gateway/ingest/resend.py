"""Identity of interchanges and of 835 payments, so a re-sent ERA is not a second payment. Pure.

Clearinghouses and payers re-send the same ERA with a new ISA13/GS06/ST02 (a provider asked
for it, a portal re-delivers, a clearinghouse re-cuts a payer's ERA per NPI). Within one
provider (the payee), a claim payment is identified by

    (payer, TRN02, TRN04, CLP01, CLP07, CLP02, CLP04, n)

where n numbers identical claim payments within one transaction (two identical CLP loops in
one ERA are two payments; the same two in a resend are the same two). A PLB adjustment is
identified the same way by (payer, TRN02, TRN04, reason, reference, amount, n). A true second
payment carries a different TRN02.

Against the earlier transactions of the same trace (provider, payer, TRN02, TRN04) a claim
payment is

- a **resend** when its identity is loaded and its money and codes (CLP, SVC and CAS amounts
  and codes; not dates, names or envelope fields) are the same: loaded, never counted while
  the earlier copy is present;
- a **conflict** when its identity is loaded with other money or codes, or when it is not but
  the same claim adjudication (CLP01, CLP07) is: the file is quarantined (``remittance_conflict``);
- **new** otherwise: counted, and the file carries a ``trace_reused`` warning (payers reuse
  TRN02 for re-adjudications and zero-pay ERAs).

A PLB pair with a loaded identity is a resend; one whose (reason, reference) is loaded with
another amount is a conflict.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from schemas import ClaimPayment, Interchange, ProviderAdjustment

#: (ISA05, ISA06, ISA07, ISA08, ISA13)
InterchangeIdentity = tuple[str, str, str, str, str]
#: canonical money and codes of one CLP loop (see ``claim_content``)
Content = tuple[object, ...]
#: a CAS triplet as stored: group, reason, amount, quantity
Cas = tuple[str, str, Decimal, Decimal | None]
#: an SVC loop as stored: procedure, revenue code, charge, paid, and its CAS
Service = tuple[str, str, Decimal, Decimal, Sequence[Cas]]


def interchange_identity(ic: Interchange) -> InterchangeIdentity:
    """Who sent it to whom, and its number: a repeat of all five is a duplicate (TA1 025)."""
    return (
        ic.sender_qualifier,
        ic.sender_id,
        ic.receiver_qualifier,
        ic.receiver_id,
        ic.control_number,
    )


def key(parts: Sequence[str]) -> str:
    """Hash of an identity: length-prefixed parts (injective), BLAKE2b-128 as 32 hex digits.

    Migration 0014 holds a frozen copy of this formula for the backfill; keep them equal.
    """
    text = "".join(f"{len(p)}:{p}" for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def cents(amount: Decimal | None) -> int:
    """Whole cents (80, 80.0 and 80.00 are the same amount)."""
    return int((amount or Decimal(0)).scaleb(2).to_integral_value())


@dataclass(frozen=True, slots=True)
class Trace:
    """One payer's payment trace for one provider: (provider, payer, TRN02, TRN04)."""

    provider_id: int
    payer_id: str
    number: str
    supplemental: str

    def lock_id(self) -> int:
        """A signed 64-bit number for ``pg_advisory_xact_lock``: loads of one trace queue."""
        digest = hashlib.blake2b(
            f"{self.provider_id}:{key((self.payer_id, self.number, self.supplemental))}".encode(),
            digest_size=8,
        ).digest()
        return int.from_bytes(digest, "big", signed=True)

    def claim_base(self, c: ClaimPayment) -> tuple[str, ...]:
        return (
            "CLP",
            self.payer_id,
            self.number,
            self.supplemental,
            c.patient_control_number,
            c.payer_claim_control_number,
            c.status_code,
            str(cents(c.paid)),
        )

    def plb_base(self, p: ProviderAdjustment) -> tuple[str, ...]:
        return (
            "PLB",
            self.payer_id,
            self.number,
            self.supplemental,
            p.reason,
            p.reference,
            str(cents(p.amount)),
        )


def _quantity(q: Decimal | None) -> str | None:
    return None if q is None else str(q.normalize())


def claim_content(
    status: str,
    charge: Decimal,
    paid: Decimal,
    patient_responsibility: Decimal | None,
    filing: str,
    facility: str,
    frequency: str,
    adjustments: Iterable[Cas],
    services: Iterable[Service],
) -> Content:
    """The money and codes of a CLP loop, comparable between a parsed loop and stored rows.

    CLP02–CLP06, CLP08, CLP09, the claim's CAS, and each SVC's procedure, revenue code, charge,
    paid and CAS. Dates, names, references and SVC units are not part of it. CAS and SVC
    order does not matter.
    """
    cas = sorted((g, r, cents(a), _quantity(q)) for g, r, a, q in adjustments)
    svc = sorted(
        (
            p,
            rev,
            cents(ch),
            cents(pd),
            tuple(sorted((g, r, cents(a), _quantity(q)) for g, r, a, q in adj)),
        )
        for p, rev, ch, pd, adj in services
    )
    pr = None if patient_responsibility is None else cents(patient_responsibility)
    return (
        status,
        cents(charge),
        cents(paid),
        pr,
        filing,
        facility,
        frequency,
        tuple(cas),
        tuple(svc),
    )


CONTENT_FIELDS = (
    "CLP02",
    "CLP03",
    "CLP04",
    "CLP05",
    "CLP06",
    "CLP08",
    "CLP09",
    "claim CAS",
    "SVC/line CAS",
)


def content_of(c: ClaimPayment) -> Content:
    return claim_content(
        c.status_code,
        c.charge,
        c.paid,
        c.patient_responsibility,
        c.filing_indicator,
        c.facility_code,
        c.frequency_code,
        [(a.group, a.reason, a.amount, a.quantity) for a in c.adjustments],
        [
            (
                s.procedure,
                s.revenue_code,
                s.charge,
                s.paid,
                [(a.group, a.reason, a.amount, a.quantity) for a in s.adjustments],
            )
            for s in c.services
        ],
    )


def difference(a: Content, b: Content) -> str:
    """Which part of two contents differs first (for the quarantine reason)."""
    for name, x, y in zip(CONTENT_FIELDS, a, b, strict=True):
        if x != y:
            return name
    return "nothing"


@dataclass(frozen=True, slots=True)
class Copy:
    """A loaded claim payment or PLB pair of an earlier transaction of the trace."""

    row_id: int
    file_id: int


@dataclass(slots=True)
class Prior:
    """What earlier transactions of one trace loaded, indexed for the checks."""

    #: resend key → its earliest copy
    claims: dict[str, Copy] = field(default_factory=dict)
    #: (CLP01, CLP07) → the file that loaded that adjudication first
    adjudications: dict[tuple[str, str], int] = field(default_factory=dict)
    plbs: dict[str, Copy] = field(default_factory=dict)
    #: (reason, reference) → the file that loaded it first
    plb_refs: dict[tuple[str, str], int] = field(default_factory=dict)
    #: remittance id → (file id, BPR02 cents, BPR16 ISO date or "")
    remittances: dict[int, tuple[int, int, str]] = field(default_factory=dict)

    def add_claim(
        self, resend_key: str | None, row_id: int, file_id: int, pcn: str, icn: str
    ) -> None:
        if resend_key:
            old = self.claims.get(resend_key)
            if old is None or row_id < old.row_id:
                self.claims[resend_key] = Copy(row_id, file_id)
        ref = (pcn, icn)
        self.adjudications[ref] = min(file_id, self.adjudications.get(ref, file_id))

    def add_plb(
        self, resend_key: str | None, row_id: int, file_id: int, reason: str, reference: str
    ) -> None:
        if resend_key:
            old = self.plbs.get(resend_key)
            if old is None or row_id < old.row_id:
                self.plbs[resend_key] = Copy(row_id, file_id)
        ref = (reason, reference)
        self.plb_refs[ref] = min(file_id, self.plb_refs.get(ref, file_id))


@dataclass(slots=True)
class TransactionResends:
    """Resend bookkeeping of one 835 transaction while it loads."""

    remittance_id: int
    control_number: str
    trace: Trace
    prior: Prior | None
    #: file segment number of ST (locations of our findings)
    st_segment: int = 0
    amount: int = 0
    payment_date: str = ""
    claims: int = 0
    claims_resent: int = 0
    plbs: int = 0
    plbs_resent: int = 0
    #: files whose copies the resent rows repeat (the copies that count)
    resent_from: Counter[int] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)
    conflict_files: set[int] = field(default_factory=set)
    _seen: Counter[tuple[str, ...]] = field(default_factory=Counter)

    def claim_key(self, c: ClaimPayment) -> str:
        """The resend key of the next claim payment of this transaction (in file order)."""
        base = self.trace.claim_base(c)
        self._seen[base] += 1
        self.claims += 1
        return key((*base, str(self._seen[base])))

    def keys_done(self) -> None:
        """The transaction has ended: no more keys, so its per-claim counter can go (the
        loader keeps every transaction's bookkeeping to the end of the file)."""
        self._seen = Counter()

    def plb_key(self, p: ProviderAdjustment) -> str:
        base = self.trace.plb_base(p)
        self._seen[base] += 1
        self.plbs += 1
        return key((*base, str(self._seen[base])))

    def resent(self, copy: Copy, *, plb: bool = False) -> None:
        if plb:
            self.plbs_resent += 1
        else:
            self.claims_resent += 1
        self.resent_from[copy.file_id] += 1

    def conflict(self, file_id: int, reason: str) -> None:
        self.conflict_files.add(file_id)
        self.conflicts.append(reason)

    @property
    def is_resend(self) -> bool:
        """Every claim payment and PLB pair (if any) was already loaded: a resend."""
        return (
            self.prior is not None
            and not self.conflicts
            and self.claims_resent == self.claims
            and self.plbs_resent == self.plbs
        )

    @property
    def resend_of(self) -> int | None:
        """The file whose copy this transaction repeats (most of its rows; ties: earliest)."""
        if not self.resent_from:
            return (
                min(f for f, _, _ in self.prior.remittances.values())
                if (self.prior and self.prior.remittances)
                else None
            )
        return min(self.resent_from, key=lambda f: (-self.resent_from[f], f))

    def same_remittance(self) -> bool:
        """Same remittance identity (payee, payer, TRN02, BPR02, BPR16) as an earlier one."""
        return self.prior is not None and any(
            amount == self.amount and day == self.payment_date
            for _, amount, day in self.prior.remittances.values()
        )


__all__ = [
    "CONTENT_FIELDS",
    "Cas",
    "Content",
    "Copy",
    "InterchangeIdentity",
    "Prior",
    "Service",
    "Trace",
    "TransactionResends",
    "cents",
    "claim_content",
    "content_of",
    "difference",
    "interchange_identity",
    "key",
]
