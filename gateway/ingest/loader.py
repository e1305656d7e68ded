"""Stream one file's parser events into the database in batches, in the caller's transaction.

The few header rows (interchange, group, transaction, remittance) go through SQLAlchemy with
``RETURNING id``. The per-claim rows (claims, service lines, adjustments, 837 lines) are the
bulk of a file and go through ``gateway.ingest.bulk`` on the session's own connection, so they
share its transaction. A transaction of another provider than the uploader's is refused as it
is read (``gateway.ingest.binding``). Nothing here commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, BinaryIO

from sqlalchemy import Engine, Table, and_, delete, insert, select, update
from sqlalchemy.orm import Session

import parsers
from gateway.crashpoints import crash_point
from gateway.db.claim_rows import ClaimLineRow, ClaimRow, OtherPayerPaymentRow
from gateway.db.models import DERIVED_TABLES, FunctionalGroupRow, InterchangeRow, TransactionRow
from gateway.db.remittance_rows import (
    AdjustmentRow,
    ClaimPaymentRow,
    ProviderAdjustmentRow,
    RemittanceRow,
    ServicePaymentRow,
)
from gateway.db.types import tbl
from gateway.errors import PermanentError
from gateway.ingest import binding, remittance_counts, resend, rows
from gateway.ingest.bulk import BulkWriter
from gateway.ingest.load_stats import LoadStats
from gateway.ingest.providers import ProviderResolver
from gateway.ingest.resend import Trace, TransactionResends
from gateway.ingest.resend_check import Claim835, ResendCheck
from gateway.progress import Progress, no_progress
from gateway.security.columns import column_cipher
from parsers.x12.lexer import DEFAULT_LIMITS, Limits
from schemas import (
    Claim,
    ClaimPayment,
    ClaimSubmission,
    FunctionalGroup,
    Interchange,
    ProviderAdjustment,
    Remittance,
    TransactionHeader,
)

BATCH_CLAIMS = 2000


def _t(model: Any) -> Table:
    return tbl(model)


class DuplicateInterchangeError(PermanentError):
    """This interchange (ISA05/06 sender, ISA07/08 receiver, ISA13) was already processed."""

    code = "duplicate_interchange"


def delete_derived(session: Session, file_id: int) -> None:
    """Remove a file's own derived rows (children first), before reloading it; the other
    remittances that held later copies of its claim payments are counted again."""
    later_copies = remittance_counts.dependents(session, file_id)
    for model in DERIVED_TABLES:
        t = _t(model)
        session.execute(delete(t).where(t.c.file_id == file_id))
    remittance_counts.recount(session, later_copies)


class Loader:
    """Consume ``parsers.stream(data)`` and write every derived row of one file."""

    def __init__(
        self,
        session: Session,
        file_id: int,
        *,
        allow_duplicate_interchange: bool,
        engine_for_providers: Engine | None,
        clock: Callable[[], float] = time.perf_counter,
        limits: Limits = DEFAULT_LIMITS,
        progress: Progress = no_progress,
        bound: frozenset[str] = frozenset(),
    ) -> None:
        self.s = session
        #: hears the claims read so far (835 claim payments and 837 claims), once per batch
        self.progress = progress
        self._claims_seen = 0
        #: providers of the scoped keys that uploaded the file (``gateway.ingest.binding``)
        self.bound = bound
        self.file_id = file_id
        self.force = allow_duplicate_interchange
        self.providers = ProviderResolver(session, engine_for_providers)
        self.stats = LoadStats()
        self.bulk = BulkWriter(session)
        self.clock = clock
        self._claims835: list[Claim835] = []
        self._claims837: list[tuple[Claim, int, int | None, str]] = []
        self._plb: list[tuple[rows.Row, TransactionResends | None, ProviderAdjustment]] = []
        self._seen_interchanges: set[resend.InterchangeIdentity] = set()
        self.resends = ResendCheck(
            session,
            file_id,
            force=self.force,
            postgres=self.bulk.postgres,
            flush=self._flush,
        )
        #: findings of our own (resends, reused traces), stored with the parser's
        self.notes = self.resends.notes
        self.reader: parsers.X12Reader | None = None
        self.limits = limits
        #: PHI columns are sealed with the data keys when they are configured
        self.cipher = column_cipher()

    def _insert_one(self, model: Any, values: rows.Row) -> int:
        t = _t(model)
        start = self.clock()
        new_id: int = self.s.execute(insert(t).values(values).returning(t.c.id)).scalar_one()
        self.stats.load_seconds += self.clock() - start
        return new_id

    def run(self, data: bytes | BinaryIO) -> LoadStats:
        """Load everything; raises ``parsers.X12Error`` or ``DuplicateInterchangeError``."""
        started = self.clock()
        try:
            self._load(data)
            self._flush()
            self.resends.finish()
            self.stats.resent += self.resends.resent
            remittance_counts.count_file(self.s, self.file_id)
        finally:
            self.bulk.release()
        self.stats.parse_seconds = self.clock() - started - self.stats.load_seconds
        kinds = self.stats.kinds
        self.stats.kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "unknown")
        return self.stats

    def _load(self, data: bytes | BinaryIO) -> None:  # noqa: C901 - the load hot loop (bench)
        reader = self.reader = parsers.stream(data, self.limits)
        ic_id = group_id = tx_id = remit_id = 0
        remit_provider: int | None = None
        payer_id = ""
        claim_kind = ""
        tx_ids: dict[int, int] = {}
        tx: TransactionResends | None = None
        header837: TransactionHeader | None = None
        for ev in reader:
            if isinstance(ev, ClaimPayment):
                self._claims835.append(
                    (
                        ev,
                        remit_id,
                        remit_provider,
                        payer_id,
                        tx,
                        tx.claim_key(ev) if tx is not None else None,
                    )
                )
                if len(self._claims835) >= BATCH_CLAIMS:
                    self._flush()
            elif isinstance(ev, Claim):
                if self.bound:
                    binding.check_transaction(
                        self.bound, ev.billing_provider, header837, "NM1", ev.segment_index
                    )
                pid = self.providers.resolve(ev.billing_provider)
                if self.stats.provider_id is None:
                    self.stats.provider_id = pid
                self._claims837.append((ev, tx_id, pid, claim_kind))
                if len(self._claims837) >= BATCH_CLAIMS:
                    self._flush()
            elif isinstance(ev, ProviderAdjustment):
                self._plb.append(
                    (
                        rows.provider_adjustment_row(
                            self.file_id,
                            remit_id,
                            remit_provider,
                            ev,
                            tx.plb_key(ev) if tx is not None else None,
                        ),
                        tx,
                        ev,
                    )
                )
            elif isinstance(ev, Remittance):
                tx_id = self._insert_one(
                    TransactionRow, rows.transaction_row(self.file_id, group_id, ev.header)
                )
                tx_ids[id(ev.header)] = tx_id
                if self.bound:
                    binding.check_transaction(self.bound, ev.payee, ev.header, "N1", None)
                remit_provider = self.providers.resolve(ev.payee)
                if self.stats.provider_id is None:
                    self.stats.provider_id = remit_provider
                payer_id = ev.payer_id
                trace = (
                    None
                    if remit_provider is None
                    else Trace(
                        remit_provider, payer_id, ev.trace_number, ev.originator_supplemental
                    )
                )
                prior = self.resends.prior(trace) if trace is not None else None
                remit_id = self._insert_one(
                    RemittanceRow, rows.remittance_row(self.file_id, tx_id, remit_provider, ev)
                )
                tx = None
                if trace is not None:
                    tx = TransactionResends(
                        remit_id,
                        ev.header.control_number,
                        trace,
                        prior,
                        st_segment=ev.header.segment_index,
                        amount=resend.cents(ev.payment_amount),
                        payment_date=ev.payment_date.isoformat() if ev.payment_date else "",
                    )
                    self.resends.track(tx)
                self.stats.transactions += 1
                self.stats.remittances += 1
                self.stats.kinds.add("835")
            elif isinstance(ev, ClaimSubmission):
                header837 = ev.header
                tx_id = self._insert_one(
                    TransactionRow, rows.transaction_row(self.file_id, group_id, ev.header)
                )
                tx_ids[id(ev.header)] = tx_id
                claim_kind = ev.kind
                self.stats.transactions += 1
                self.stats.kinds.add(ev.kind)
            elif isinstance(ev, parsers.TransactionEnd):
                if tx is not None:
                    tx.keys_done()
                known = tx_ids.pop(id(ev.header), None)
                if known is not None:
                    t = _t(TransactionRow)
                    self.s.execute(
                        update(t).where(t.c.id == known).values(segment_count=ev.segment_count)
                    )
            elif isinstance(ev, FunctionalGroup):
                group_id = self._insert_one(
                    FunctionalGroupRow, rows.group_row(self.file_id, ic_id, ev)
                )
                self.stats.groups += 1
            elif isinstance(ev, Interchange):
                ic_id = self._interchange(ev)

    def _interchange(self, ic: Interchange) -> int:
        key = resend.interchange_identity(ic)
        t = _t(InterchangeRow)
        other = self.s.execute(
            select(t.c.file_id)
            .where(
                and_(
                    t.c.sender_qualifier == ic.sender_qualifier,
                    t.c.sender_id == ic.sender_id,
                    t.c.receiver_qualifier == ic.receiver_qualifier,
                    t.c.receiver_id == ic.receiver_id,
                    t.c.control_number == ic.control_number,
                    t.c.forced.is_(False),
                    t.c.file_id != self.file_id,
                )
            )
            .limit(1)
        ).scalar_one_or_none()
        duplicate = other is not None or key in self._seen_interchanges
        if duplicate and not self.force:
            # never the other file's id: it may be another provider's, and this message is shown
            # to whoever may read this file (an uploader of one provider among them)
            where = "an earlier file" if other is not None else "this file"
            raise DuplicateInterchangeError(
                f"TA1 note 025 (duplicate interchange control number): interchange "
                f"{ic.control_number} from sender {ic.sender_qualifier}:{ic.sender_id} to "
                f"receiver {ic.receiver_qualifier}:{ic.receiver_id} was already received in "
                f"{where}",
                location={"segment_number": ic.segment_index, "segment_id": "ISA", "element": 13},
            )
        self._seen_interchanges.add(key)
        self.stats.interchanges += 1
        return self._insert_one(
            InterchangeRow, rows.interchange_row(self.file_id, ic, forced=duplicate)
        )

    def _flush(self) -> None:
        """Write the buffered claims with their children, then PLB rows."""
        batch835, self._claims835 = self._claims835, []
        batch837, self._claims837 = self._claims837, []
        plb, self._plb = self._plb, []
        self._claims_seen += len(batch835) + len(batch837)
        if batch835 or batch837 or plb:
            self.bulk.bind()
            self._write(batch835, batch837, plb)
            self.progress(self._claims_seen)

    def _write(
        self,
        batch: list[Claim835],
        batch837: list[tuple[Claim, int, int | None, str]],
        plb: list[tuple[rows.Row, TransactionResends | None, ProviderAdjustment]],
    ) -> None:
        start = self.clock()
        try:
            self._write_rows(batch, batch837, plb)
        finally:
            self.stats.load_seconds += self.clock() - start

    def _write_rows(
        self,
        batch: list[Claim835],
        batch837: list[tuple[Claim, int, int | None, str]],
        plb: list[tuple[rows.Row, TransactionResends | None, ProviderAdjustment]],
    ) -> None:
        fid = self.file_id
        bulk = self.bulk
        if batch:
            base = self.stats.claim_payments
            twins = self.resends.classify_claims(batch)
            ids = bulk.allocate_ids(ClaimPaymentRow, len(batch))
            claim_row = rows.claim_payment_row
            claim_rows = [
                claim_row(cid, fid, rid, pid, payer, base + i, c, k, twin)
                for i, ((c, rid, pid, payer, _, k), cid, twin) in enumerate(
                    zip(batch, ids, twins, strict=True)
                )
            ]
            adj_rows: list[list[Any]] = []
            services = [
                (cid, i, sp)
                for (c, *_), cid in zip(batch, ids, strict=True)
                for i, sp in enumerate(c.services)
            ]
            svc_ids = bulk.allocate_ids(ServicePaymentRow, len(services))
            svc_row = rows.service_payment_row
            adj_row = rows.adjustment_row
            for (c, *_), cid in zip(batch, ids, strict=True):
                for a in c.adjustments:
                    adj_rows.append(adj_row(fid, cid, None, a))
            svc_rows = []
            for (cid, i, sp), sid in zip(services, svc_ids, strict=True):
                svc_rows.append(svc_row(sid, fid, cid, i, sp))
                for a in sp.adjustments:
                    adj_rows.append(adj_row(fid, cid, sid, a))
            bulk.insert(ClaimPaymentRow, rows.CLAIM_PAYMENT_COLUMNS, claim_rows)
            bulk.insert(ServicePaymentRow, rows.SERVICE_PAYMENT_COLUMNS, svc_rows)
            bulk.insert(AdjustmentRow, rows.ADJUSTMENT_COLUMNS, adj_rows)
            self.stats.claim_payments += len(batch)
            self.stats.service_payments += len(svc_rows)
            self.stats.adjustments += len(adj_rows)
            crash_point("batch")
        if batch837:
            base = self.stats.claims
            ids = bulk.allocate_ids(ClaimRow, len(batch837))
            seal = self.cipher.seal
            claim_rows = [
                rows.claim_row(cid, fid, tid, pid, kind, base + i, c, seal)
                for i, ((c, tid, pid, kind), cid) in enumerate(zip(batch837, ids, strict=True))
            ]
            line_rows: list[list[Any]] = []
            other_rows: list[list[Any]] = []
            for (claim, _, _, _), cid in zip(batch837, ids, strict=True):
                line_rows.extend(rows.claim_line_row(fid, cid, ln) for ln in claim.lines)
                other_rows.extend(rows.other_payer_row(fid, cid, o) for o in claim.other_payers)
            bulk.insert(ClaimRow, rows.CLAIM_COLUMNS, claim_rows)
            bulk.insert(ClaimLineRow, rows.CLAIM_LINE_COLUMNS, line_rows)
            bulk.insert(OtherPayerPaymentRow, rows.OTHER_PAYER_COLUMNS, other_rows)
            self.stats.claims += len(batch837)
            self.stats.claim_lines += len(line_rows)
            self.stats.other_payers += len(other_rows)
            crash_point("batch")
        if plb:
            bulk.insert_dicts(ProviderAdjustmentRow, self.resends.classify_plbs(plb))
            self.stats.provider_adjustments += len(plb)
