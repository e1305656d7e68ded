"""Stream one file's parser events into the database in batches (executemany), in the
caller's transaction.

Parent rows whose ids children need (claims, service lines) are inserted with
``RETURNING id`` in parameter order (SQLAlchemy "insertmanyvalues": multi-row VALUES on both
backends); leaf rows are plain executemany. Nothing here commits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

import parsers
from gateway.db.models import (
    DERIVED_TABLES,
    AdjustmentRow,
    ClaimLineRow,
    ClaimPaymentRow,
    ClaimRow,
    FunctionalGroupRow,
    InterchangeRow,
    OtherPayerPaymentRow,
    Provider,
    ProviderAdjustmentRow,
    RemittanceRow,
    ServicePaymentRow,
    TransactionRow,
    tbl,
)
from gateway.errors import PermanentError
from gateway.ingest import rows
from gateway.ingest.faults import crash_point
from schemas import (
    Claim,
    ClaimPayment,
    ClaimSubmission,
    Entity,
    FunctionalGroup,
    Interchange,
    ProviderAdjustment,
    Remittance,
)

BATCH_CLAIMS = 2000


def _t(model: Any) -> Table:
    return tbl(model)


class DuplicateInterchangeError(PermanentError):
    """This interchange (ISA06 sender + ISA13 control number) was already processed."""

    code = "duplicate_interchange"


@dataclass
class LoadStats:
    """Row counts written for one file, and where the time went."""

    kind: str = "unknown"
    interchanges: int = 0
    groups: int = 0
    transactions: int = 0
    remittances: int = 0
    claim_payments: int = 0
    service_payments: int = 0
    adjustments: int = 0
    provider_adjustments: int = 0
    claims: int = 0
    claim_lines: int = 0
    other_payers: int = 0
    provider_id: int | None = None
    load_seconds: float = 0.0
    parse_seconds: float = 0.0
    kinds: set[str] = field(default_factory=set)

    @property
    def claim_count(self) -> int:
        return self.claim_payments + self.claims

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in (
            "interchanges", "groups", "transactions", "remittances", "claim_payments",
            "service_payments", "adjustments", "provider_adjustments", "claims", "claim_lines",
            "other_payers")}


class ProviderResolver:
    """Provider id for an NPI/TIN, creating the provider row on first sight.

    On PostgreSQL the row is created in its own short committed transaction (``engine``), so
    concurrent workers loading files of the same provider never wait on (or deadlock over)
    each other's uncommitted inserts; a provider row outliving a rolled-back load is harmless
    reference data. On SQLite there is one writer, so it goes into the caller's transaction.
    """

    def __init__(self, session: Session, engine: Engine | None) -> None:
        self.session = session
        self.engine = engine
        self.cache: dict[str, int] = {}

    def resolve(self, entity: Entity | None) -> int | None:
        npi, tin, name = rows.provider_identity(entity)
        if not npi and not tin:
            return None
        key = f"npi:{npi}" if npi else f"tin:{tin}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        values = {"key": key, "npi": npi, "tin": tin, "name": name[:200]}
        table = _t(Provider)
        if self.engine is not None:
            stmt: Any = postgresql.insert(table).values(values).on_conflict_do_nothing(
                index_elements=["key"])
            with self.engine.begin() as conn:
                conn.execute(stmt)
        else:
            stmt = sqlite.insert(table).values(values).on_conflict_do_nothing(
                index_elements=["key"])
            self.session.execute(stmt)
        pid: int = self.session.execute(
            select(table.c.id).where(table.c.key == key)).scalar_one()
        self.cache[key] = pid
        return pid


def delete_derived(session: Session, file_id: int) -> None:
    """Remove a file's own derived rows (children first), before reloading it."""
    for model in DERIVED_TABLES:
        t = _t(model)
        session.execute(delete(t).where(t.c.file_id == file_id))


class Loader:
    """Consume ``parsers.stream(data)`` and write every derived row of one file."""

    def __init__(self, session: Session, file_id: int, *, allow_duplicate_interchange: bool,
                 engine_for_providers: Engine | None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.s = session
        self.file_id = file_id
        self.force = allow_duplicate_interchange
        self.providers = ProviderResolver(session, engine_for_providers)
        self.stats = LoadStats()
        self.clock = clock
        self._claims835: list[tuple[ClaimPayment, int, int | None, str]] = []
        self._claims837: list[tuple[Claim, int, int | None, str]] = []
        self._plb: list[rows.Row] = []
        self._seen_interchanges: set[tuple[str, str]] = set()
        self.reader: parsers.X12Reader | None = None

    def _insert_returning(self, model: Any, values: list[rows.Row]) -> list[int]:
        t = _t(model)
        start = self.clock()
        ids = list(self.s.execute(
            insert(t).returning(t.c.id, sort_by_parameter_order=True), values).scalars())
        self.stats.load_seconds += self.clock() - start
        return ids

    def _insert_one(self, model: Any, values: rows.Row) -> int:
        t = _t(model)
        start = self.clock()
        new_id: int = self.s.execute(insert(t).values(values).returning(t.c.id)).scalar_one()
        self.stats.load_seconds += self.clock() - start
        return new_id

    def _insert_many(self, model: Any, values: list[rows.Row]) -> None:
        if values:
            start = self.clock()
            self.s.execute(insert(_t(model)), values)
            self.stats.load_seconds += self.clock() - start

    def run(self, data: bytes) -> LoadStats:
        """Load everything; raises ``parsers.X12Error`` or ``DuplicateInterchangeError``."""
        reader = self.reader = parsers.stream(data)
        ic_id = group_id = tx_id = remit_id = 0
        remit_provider: int | None = None
        payer_id = ""
        claim_kind = ""
        tx_ids: dict[int, int] = {}
        started = self.clock()
        for ev in reader:
            if isinstance(ev, ClaimPayment):
                self._claims835.append((ev, remit_id, remit_provider, payer_id))
                if len(self._claims835) >= BATCH_CLAIMS:
                    self._flush()
            elif isinstance(ev, Claim):
                pid = self.providers.resolve(ev.billing_provider)
                if self.stats.provider_id is None:
                    self.stats.provider_id = pid
                self._claims837.append((ev, tx_id, pid, claim_kind))
                if len(self._claims837) >= BATCH_CLAIMS:
                    self._flush()
            elif isinstance(ev, ProviderAdjustment):
                self._plb.append(rows.provider_adjustment_row(
                    self.file_id, remit_id, remit_provider, ev))
            elif isinstance(ev, Remittance):
                tx_id = self._insert_one(TransactionRow, rows.transaction_row(
                    self.file_id, group_id, ev.header))
                tx_ids[id(ev.header)] = tx_id
                remit_provider = self.providers.resolve(ev.payee)
                if self.stats.provider_id is None:
                    self.stats.provider_id = remit_provider
                payer_id = ev.payer_id
                remit_id = self._insert_one(RemittanceRow, rows.remittance_row(
                    self.file_id, tx_id, remit_provider, ev))
                self.stats.transactions += 1
                self.stats.remittances += 1
                self.stats.kinds.add("835")
            elif isinstance(ev, ClaimSubmission):
                tx_id = self._insert_one(TransactionRow, rows.transaction_row(
                    self.file_id, group_id, ev.header))
                tx_ids[id(ev.header)] = tx_id
                claim_kind = ev.kind
                self.stats.transactions += 1
                self.stats.kinds.add(ev.kind)
            elif isinstance(ev, parsers.TransactionEnd):
                known = tx_ids.get(id(ev.header))
                if known is not None:
                    t = _t(TransactionRow)
                    self.s.execute(update(t).where(t.c.id == known).values(
                        segment_count=ev.segment_count))
            elif isinstance(ev, FunctionalGroup):
                group_id = self._insert_one(FunctionalGroupRow, rows.group_row(
                    self.file_id, ic_id, ev))
                self.stats.groups += 1
            elif isinstance(ev, Interchange):
                ic_id = self._interchange(ev)
        self._flush()
        self.stats.parse_seconds = self.clock() - started - self.stats.load_seconds
        kinds = self.stats.kinds
        self.stats.kind = kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "unknown")
        return self.stats

    def _interchange(self, ic: Interchange) -> int:
        key = (ic.sender_id, ic.control_number)
        t = _t(InterchangeRow)
        other = self.s.execute(select(t.c.file_id).where(and_(
            t.c.sender_id == ic.sender_id, t.c.control_number == ic.control_number,
            t.c.forced.is_(False), t.c.file_id != self.file_id)).limit(1)).scalar_one_or_none()
        duplicate = other is not None or key in self._seen_interchanges
        if duplicate and not self.force:
            where = f"file {other}" if other is not None else "this file"
            raise DuplicateInterchangeError(
                f"TA1 note 025 (duplicate interchange control number): interchange "
                f"{ic.control_number} from sender {ic.sender_id} was already received in "
                f"{where}", location={"segment_number": ic.segment_index, "segment_id": "ISA",
                                      "element": 13},
            )
        self._seen_interchanges.add(key)
        self.stats.interchanges += 1
        return self._insert_one(InterchangeRow, rows.interchange_row(
            self.file_id, ic, forced=duplicate))

    def _flush(self) -> None:
        """Write buffered claims with their children, then PLB rows."""
        fid = self.file_id
        if self._claims835:
            batch, self._claims835 = self._claims835, []
            base = self.stats.claim_payments
            ids = self._insert_returning(ClaimPaymentRow, [
                rows.claim_payment_row(fid, rid, pid, payer, base + i, c)
                for i, (c, rid, pid, payer) in enumerate(batch)])
            svc_rows: list[rows.Row] = []
            svc_src = []
            adj_rows: list[rows.Row] = []
            for (c, _, _, _), cid in zip(batch, ids, strict=True):
                for a in c.adjustments:
                    adj_rows.append(rows.adjustment_row(fid, cid, None, a))
                for i, sp in enumerate(c.services):
                    svc_rows.append(rows.service_payment_row(fid, cid, i, sp))
                    svc_src.append((cid, sp))
            svc_ids = self._insert_returning(ServicePaymentRow, svc_rows) if svc_rows else []
            for (cid, sp), sid in zip(svc_src, svc_ids, strict=True):
                for a in sp.adjustments:
                    adj_rows.append(rows.adjustment_row(fid, cid, sid, a))
            self._insert_many(AdjustmentRow, adj_rows)
            self.stats.claim_payments += len(batch)
            self.stats.service_payments += len(svc_rows)
            self.stats.adjustments += len(adj_rows)
            crash_point("batch")
        if self._claims837:
            batch837, self._claims837 = self._claims837, []
            base = self.stats.claims
            ids = self._insert_returning(ClaimRow, [
                rows.claim_row(fid, tid, pid, kind, base + i, c)
                for i, (c, tid, pid, kind) in enumerate(batch837)])
            line_rows: list[rows.Row] = []
            other_rows: list[rows.Row] = []
            for (claim, _, _, _), cid in zip(batch837, ids, strict=True):
                line_rows.extend(rows.claim_line_row(fid, cid, ln) for ln in claim.lines)
                other_rows.extend(rows.other_payer_row(fid, cid, o) for o in claim.other_payers)
            self._insert_many(ClaimLineRow, line_rows)
            self._insert_many(OtherPayerPaymentRow, other_rows)
            self.stats.claims += len(batch837)
            self.stats.claim_lines += len(line_rows)
            self.stats.other_payers += len(other_rows)
            crash_point("batch")
        if self._plb:
            plb, self._plb = self._plb, []
            self._insert_many(ProviderAdjustmentRow, plb)
            self.stats.provider_adjustments += len(plb)
