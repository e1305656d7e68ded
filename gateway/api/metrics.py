"""Prometheus metrics read from the database at scrape time.

Workers are separate processes (and replicas), so in-process counters in the API would see only
their own share; the registry in the database is the one place every replica agrees on. Each
scrape runs a handful of indexed aggregate queries; the latency histogram looks at files
processed in the last ``LATENCY_WINDOW`` (at most ``LATENCY_ROWS`` of them).

Credits (open and overdue, by government flag, cause and payer) come from reconciliation's
``credits`` through the worklist indexes of migration 0009; delivery problems (unresolved
transfer failures by partner, direction and error code; the outbound queue by state) from the
outbound tables. Labels carry payer and partner ids and codes, never anything about a patient.
Amounts are summed as integer cents in SQL and only turned into a float for the exposition
format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from gateway.db.base import Database
from gateway.db.models import InboundFile
from gateway.db.types import tbl, utcnow
from gateway.logging import get_logger
from gateway.outbound.tables import OutboundFile, OutboundState, TransferFailure
from gateway.reconcile.tables import Credit
from schemas.states import FileState

log = get_logger("gateway.metrics")
LATENCY_WINDOW = dt.timedelta(hours=24)
LATENCY_ROWS = 50_000
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class DatabaseCollector(Collector):
    """Collects gateway gauges and histograms from the database on every scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        files = GaugeMetricFamily(
            "gateway_files", "Files in the registry by state", labels=["state"]
        )
        latency = HistogramMetricFamily(
            "gateway_file_processing_seconds",
            "Seconds from receipt to processed/failed, files finished in the last 24 h",
        )
        with self.db.read() as s:
            counts = dict(
                s.execute(select(InboundFile.state, func.count()).group_by(InboundFile.state)).all()
            )
            since = utcnow() - LATENCY_WINDOW
            rows = s.execute(
                select(InboundFile.received_at, InboundFile.processed_at)
                .where(InboundFile.processed_at.is_not(None), InboundFile.processed_at >= since)
                .order_by(InboundFile.processed_at.desc())
                .limit(LATENCY_ROWS)
            ).all()
        for state in FileState:
            files.add_metric([state.value], float(counts.get(state.value, 0)))
        yield files
        seconds = sorted(
            max(0.0, (_aware(p) - _aware(r)).total_seconds()) for r, p in rows if p is not None
        )
        buckets: list[tuple[str, float]] = []
        i = 0
        for bound in BUCKETS:
            while i < len(seconds) and seconds[i] <= bound:
                i += 1
            buckets.append((str(bound), float(i)))
        buckets.append(("+Inf", float(len(seconds))))
        latency.add_metric([], buckets, sum_value=sum(seconds))
        yield latency
        with self.db.read() as s:
            yield from credit_metrics(s, utcnow().date())
            yield from delivery_metrics(s)


def _flag(value: object) -> str:
    return "true" if value else "false"


def credit_metrics(s: Session, today: dt.date) -> Iterator[Metric]:
    """Active (open + pending) credits by government flag, cause and status; overdue ones by
    government flag and payer."""
    ct = tbl(Credit)
    cents = func.sum(cast(func.round(ct.c.amount * 100), BigInteger))
    active = ct.c.status != "resolved"  # the predicate of the partial worklist indexes
    labels = ["government", "cause", "status"]
    count = GaugeMetricFamily(
        "gateway_credits_open", "Credit balances not yet resolved", labels=labels
    )
    amount = GaugeMetricFamily(
        "gateway_credits_open_amount_dollars",
        "Amount of the credit balances not yet resolved",
        labels=labels,
    )
    for gov, cause, status, n, c in s.execute(
        select(ct.c.government, ct.c.cause, ct.c.status, func.count(), cents)
        .where(active)
        .group_by(ct.c.government, ct.c.cause, ct.c.status)
    ):
        key = [_flag(gov), str(cause), str(status)]
        count.add_metric(key, float(n))
        amount.add_metric(key, int(c or 0) / 100)
    yield count
    yield amount
    labels = ["government", "payer"]
    overdue = GaugeMetricFamily(
        "gateway_credits_overdue", "Unresolved credit balances past their due date", labels=labels
    )
    overdue_amount = GaugeMetricFamily(
        "gateway_credits_overdue_amount_dollars",
        "Amount of the unresolved credit balances past due",
        labels=labels,
    )
    for gov, payer, n, c in s.execute(
        select(ct.c.government, ct.c.payer_id, func.count(), cents)
        .where(active, ct.c.due_by.is_not(None), ct.c.due_by < today)
        .group_by(ct.c.government, ct.c.payer_id)
    ):
        key = [_flag(gov), str(payer) or "none"]
        overdue.add_metric(key, float(n))
        overdue_amount.add_metric(key, int(c or 0) / 100)
    yield overdue
    yield overdue_amount


def delivery_metrics(s: Session) -> Iterator[Metric]:
    """Unresolved SFTP transfer failures and the outbound delivery queue by state."""
    tf = tbl(TransferFailure)
    failures = GaugeMetricFamily(
        "gateway_transfer_failures_unresolved",
        "SFTP transfer failures not yet resolved (inbound pulls and outbound deliveries)",
        labels=["partner", "direction", "error_code"],
    )
    for partner, direction, code, n in s.execute(
        select(tf.c.partner_id, tf.c.direction, tf.c.error_code, func.count())
        .where(tf.c.resolved.is_(False))
        .group_by(tf.c.partner_id, tf.c.direction, tf.c.error_code)
    ):
        failures.add_metric([str(partner), str(direction), str(code)], float(n))
    yield failures
    ob = tbl(OutboundFile)
    queue = GaugeMetricFamily(
        "gateway_outbound_files",
        "Outbound files (refunds, offsets, acks) by delivery state",
        labels=["state"],
    )
    counts: dict[str, int] = {
        str(state): int(n)
        for state, n in s.execute(select(ob.c.state, func.count()).group_by(ob.c.state))
    }
    for state in dict.fromkeys([*(st.value for st in OutboundState), *counts]):
        queue.add_metric([state], float(counts.get(state, 0)))
    yield queue


def build_registry(db: Database) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return registry
