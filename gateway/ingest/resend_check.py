"""An 835's transactions against the copies of their traces already loaded (resends).

``gateway.ingest.resend`` keeps the bookkeeping (keys, counters, conflicts); this reads what
earlier transactions of a trace (TRN02 of one payer and provider) loaded, decides which
buffered claim payments and PLB pairs are twins of loaded ones (not counted again) or conflict
with them (quarantine, unless forced), and writes the outcome: ``resend_of_file_id`` on the
remittance and a note per reused trace. The loader calls it per transaction and per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, or_, select, text, update
from sqlalchemy.orm import Session

from gateway.db.remittance_rows import (
    AdjustmentRow,
    ClaimPaymentRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    ServicePaymentRow,
)
from gateway.db.types import tbl
from gateway.errors import PermanentError
from gateway.ingest import resend, rows
from gateway.ingest.resend import Copy, Prior, Trace, TransactionResends
from schemas import ClaimPayment, ProviderAdjustment

#: ids per IN (...) list when reading earlier copies back
IN_CHUNK = 900

#: a buffered 835 claim: the loop, remittance id, provider, payer, its transaction's resend
#: bookkeeping and its resend key (both None without a provider)
Claim835 = tuple[ClaimPayment, int, int | None, str, TransactionResends | None, str | None]


class RemittanceConflictError(PermanentError):
    """An 835 repeats a loaded trace but reports one of its claims with other money or codes."""

    code = "remittance_conflict"


def prior_remittances(trace: Trace) -> Select[Any]:
    """Loaded remittances of ``trace`` (TRN04 NULL: loaded before it was kept, so any)."""
    r = tbl(RemittanceRow)
    return select(r.c.id, r.c.file_id, r.c.amount, r.c.payment_date).where(
        r.c.provider_id == trace.provider_id,
        r.c.payer_id == trace.payer_id,
        r.c.trace_number == trace.number,
        or_(r.c.trace_supplemental == trace.supplemental, r.c.trace_supplemental.is_(None)),
    )


class ResendCheck:
    """The resend decisions of one file's load, in the loader's transaction.

    ``flush`` writes the loader's buffered rows: a trace seen twice in one file is compared
    with its own earlier transaction, so that one's rows must be in the database first.
    """

    def __init__(
        self,
        session: Session,
        file_id: int,
        *,
        force: bool,
        postgres: bool,
        flush: Callable[[], None],
    ) -> None:
        self.s = session
        self.file_id = file_id
        self.force = force
        self.postgres = postgres
        self._flush = flush
        self._transactions: list[TransactionResends] = []
        self._traces: set[Trace] = set()
        #: findings of our own (resends, reused traces), stored with the parser's
        self.notes: list[dict[str, Any]] = []
        #: claim payments and PLB pairs already loaded from another transaction (``finish``)
        self.resent = 0

    def track(self, tx: TransactionResends) -> None:
        """Follow ``tx`` (a transaction with a provider) until ``finish``."""
        self._transactions.append(tx)

    def prior(self, trace: Trace) -> Prior | None:
        """What earlier transactions of ``trace`` loaded (None: the trace is new).

        On PostgreSQL a transaction-scoped advisory lock on the trace makes two loads of the
        same trace take turns, so the later one sees the earlier one's committed rows (SQLite
        has a single writer anyway). Earlier transactions of this file are flushed first.
        """
        if self.postgres:
            self.s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": trace.lock_id()})
        if trace in self._traces:
            self._flush()
        self._traces.add(trace)
        found = self.s.execute(prior_remittances(trace)).all()
        if not found:
            return None
        prior = Prior(
            remittances={
                int(x.id): (
                    int(x.file_id),
                    resend.cents(x.amount),
                    x.payment_date.isoformat() if x.payment_date else "",
                )
                for x in found
            }
        )
        ids = sorted(prior.remittances)
        cp, pa = tbl(ClaimPaymentRow), tbl(ProviderAdjustmentRow)
        for i in range(0, len(ids), IN_CHUNK):
            part = ids[i : i + IN_CHUNK]
            for c in self.s.execute(
                select(
                    cp.c.id,
                    cp.c.file_id,
                    cp.c.resend_key,
                    cp.c.patient_control_number,
                    cp.c.payer_claim_control_number,
                ).where(cp.c.remittance_id.in_(part))
            ):
                prior.add_claim(
                    c.resend_key,
                    int(c.id),
                    int(c.file_id),
                    c.patient_control_number,
                    c.payer_claim_control_number,
                )
            for p in self.s.execute(
                select(pa.c.id, pa.c.file_id, pa.c.resend_key, pa.c.reason, pa.c.reference).where(
                    pa.c.remittance_id.in_(part)
                )
            ):
                prior.add_plb(p.resend_key, int(p.id), int(p.file_id), p.reason, p.reference)
        return prior

    def _contents(self, row_ids: list[int]) -> dict[int, resend.Content]:
        """Money and codes of loaded claim payments, read back from their rows."""
        cp, sp, adj = tbl(ClaimPaymentRow), tbl(ServicePaymentRow), tbl(AdjustmentRow)
        out: dict[int, resend.Content] = {}
        for i in range(0, len(row_ids), IN_CHUNK):
            part = sorted(set(row_ids[i : i + IN_CHUNK]))
            claim_cas: dict[int, list[resend.Cas]] = {}
            line_cas: dict[int, list[resend.Cas]] = {}
            for a in self.s.execute(
                select(
                    adj.c.claim_payment_id,
                    adj.c.service_payment_id,
                    adj.c.group_code,
                    adj.c.reason,
                    adj.c.amount,
                    adj.c.quantity,
                ).where(adj.c.claim_payment_id.in_(part))
            ):
                cas = (a.group_code, a.reason, a.amount, a.quantity)
                if a.service_payment_id is None:
                    claim_cas.setdefault(int(a.claim_payment_id), []).append(cas)
                else:
                    line_cas.setdefault(int(a.service_payment_id), []).append(cas)
            services: dict[int, list[resend.Service]] = {}
            for v in self.s.execute(
                select(
                    sp.c.id,
                    sp.c.claim_payment_id,
                    sp.c.procedure,
                    sp.c.revenue_code,
                    sp.c.charge,
                    sp.c.paid,
                ).where(sp.c.claim_payment_id.in_(part))
            ):
                services.setdefault(int(v.claim_payment_id), []).append(
                    (v.procedure, v.revenue_code, v.charge, v.paid, line_cas.get(int(v.id), []))
                )
            for c in self.s.execute(
                select(
                    cp.c.id,
                    cp.c.status_code,
                    cp.c.charge,
                    cp.c.paid,
                    cp.c.patient_responsibility,
                    cp.c.filing_indicator,
                    cp.c.facility_code,
                    cp.c.frequency_code,
                ).where(cp.c.id.in_(part))
            ):
                cid = int(c.id)
                out[cid] = resend.claim_content(
                    c.status_code,
                    c.charge,
                    c.paid,
                    c.patient_responsibility,
                    c.filing_indicator,
                    c.facility_code,
                    c.frequency_code,
                    claim_cas.get(cid, []),
                    services.get(cid, []),
                )
        return out

    def classify_claims(self, batch: list[Claim835]) -> list[bool]:
        """Which claim payments are twins of a loaded one; records resends and conflicts."""
        twins = [False] * len(batch)
        compare: list[tuple[int, Copy]] = []
        for i, (c, _, _, _, tx, k) in enumerate(batch):
            if tx is None or tx.prior is None or k is None:
                continue
            copy = tx.prior.claims.get(k)
            if copy is not None:
                twins[i] = True
                compare.append((i, copy))
                continue
            earlier = tx.prior.adjudications.get(
                (c.patient_control_number, c.payer_claim_control_number)
            )
            if earlier is not None:
                tx.conflict(
                    earlier,
                    self._claim_conflict(
                        tx,
                        c,
                        earlier,
                        f"CLP02 {c.status_code} / CLP04 {c.paid} is not among that "
                        "file's payments of it",
                    ),
                )
        if compare:
            loaded = self._contents([copy.row_id for _, copy in compare])
            for i, copy in compare:
                c, tx = batch[i][0], batch[i][4]
                assert tx is not None
                mine, theirs = resend.content_of(c), loaded.get(copy.row_id)
                if mine == theirs:
                    tx.resent(copy)
                else:
                    what = resend.difference(mine, theirs) if theirs is not None else "all"
                    tx.conflict(
                        copy.file_id,
                        self._claim_conflict(tx, c, copy.file_id, f"its {what} differ"),
                    )
        self._raise_conflicts()
        return twins

    def classify_plbs(
        self, plb: list[tuple[rows.Row, TransactionResends | None, ProviderAdjustment]]
    ) -> list[rows.Row]:
        out = []
        for row, tx, p in plb:
            if tx is not None and tx.prior is not None:
                copy = tx.prior.plbs.get(row["resend_key"])
                earlier = tx.prior.plb_refs.get((p.reason, p.reference))
                if copy is not None:
                    row = {**row, "resend_twin": True}
                    tx.resent(copy, plb=True)
                elif earlier is not None:
                    tx.conflict(
                        earlier,
                        self._conflict_text(
                            tx,
                            earlier,
                            f"PLB {p.reason}:{p.reference} of {p.amount} is not the "
                            "amount that file holds for it",
                        ),
                    )
            out.append(row)
        self._raise_conflicts()
        return out

    def _claim_conflict(
        self, tx: TransactionResends, c: ClaimPayment, other: int, what: str
    ) -> str:
        return self._conflict_text(
            tx,
            other,
            f"claim '{c.patient_control_number}' (CLP07 "
            f"{c.payer_claim_control_number}, transaction segment {c.segment_index}): {what}",
        )

    def _conflict_text(self, tx: TransactionResends, other: int, what: str) -> str:
        where = (
            f"file {self.file_id} carries TRN02 {tx.trace.number} of payer "
            f"{tx.trace.payer_id} in transaction {tx.control_number} and an earlier one"
            if other == self.file_id
            else f"file {self.file_id} and file {other} both carry TRN02 {tx.trace.number} of "
            f"payer {tx.trace.payer_id} (transaction {tx.control_number} here)"
        )
        return f"{where} with different money or codes: {what}"

    def _raise_conflicts(self) -> None:
        if self.force:
            return  # a forced replay loads it; _finish_transactions notes the conflict
        for tx in self._transactions:
            if tx.conflicts:
                more = len(tx.conflicts) - 1
                raise RemittanceConflictError(
                    f"remittance conflict: {tx.conflicts[0]}"
                    + (f" (and {more} more)" if more else "")
                    + "; quarantined, replay with --force to load it anyway",
                    location={
                        "segment_number": tx.st_segment,
                        "segment_id": "ST",
                        "transaction_control_number": tx.control_number,
                    },
                )

    def finish(self) -> None:
        """Record resends on their remittance rows; note reused traces and forced conflicts."""
        r = tbl(RemittanceRow)
        for tx in self._transactions:
            self.resent += tx.claims_resent + tx.plbs_resent
            if tx.prior is None:
                continue
            where = {
                "segment_number": tx.st_segment,
                "segment_id": "TRN",
                "element": 2,
                "transaction_control_number": tx.control_number,
            }
            earlier = sorted({f for f, _, _ in tx.prior.remittances.values()})
            if tx.conflicts:
                self.notes.append(
                    {
                        "code": "remittance_conflict",
                        "severity": "warning",
                        "location": where,
                        "file_ids": sorted(tx.conflict_files),
                        "message": f"loaded with --force despite {len(tx.conflicts)} conflict(s): "
                        f"{tx.conflicts[0]}",
                    }
                )
            elif tx.is_resend:
                of = tx.resend_of
                self.s.execute(
                    update(r).where(r.c.id == tx.remittance_id).values(resend_of_file_id=of)
                )
                self.notes.append(
                    {
                        "code": "remittance_resent",
                        "severity": "info",
                        "location": where,
                        "file_ids": [of] if of is not None else earlier,
                        "message": f"transaction {tx.control_number} re-sends TRN02 "
                        f"{tx.trace.number} of payer {tx.trace.payer_id} from file {of}: "
                        f"its {tx.claims} claim payment(s) and {tx.plbs} PLB "
                        "adjustment(s) were already loaded and are not counted again",
                    }
                )
            else:
                same = (
                    "the same payment (BPR02 and BPR16 equal)"
                    if tx.same_remittance()
                    else "another payment"
                )
                resent = tx.claims_resent + tx.plbs_resent
                self.notes.append(
                    {
                        "code": "trace_reused",
                        "severity": "warning",
                        "location": where,
                        "file_ids": earlier,
                        "message": f"TRN02 {tx.trace.number} of payer {tx.trace.payer_id} was "
                        f"already loaded from file(s) {', '.join(map(str, earlier))}; "
                        f"transaction {tx.control_number} is {same}: "
                        f"{tx.claims - tx.claims_resent} claim payment(s) not in the "
                        "earlier copy are counted"
                        + (f", {resent} already loaded are not counted again" if resent else ""),
                    }
                )
