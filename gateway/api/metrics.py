"""Prometheus metrics read from the database at scrape time.

Workers are separate processes (and replicas), so in-process counters in the API would see only
their own share; the registry in the database is the one place every replica agrees on. Each
scrape runs a handful of indexed aggregate queries; the latency histogram looks at files
processed in the last ``LATENCY_WINDOW`` (at most ``LATENCY_ROWS`` of them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from gateway.db.base import Database
from gateway.db.models import FileState, InboundFile, utcnow
from gateway.logging import get_logger

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
        files = GaugeMetricFamily("gateway_files", "Files in the registry by state",
                                  labels=["state"])
        latency = HistogramMetricFamily(
            "gateway_file_processing_seconds",
            "Seconds from receipt to processed/failed, files finished in the last 24 h")
        with self.db.read() as s:
            counts = dict(s.execute(select(InboundFile.state, func.count())
                                    .group_by(InboundFile.state)).all())
            since = utcnow() - LATENCY_WINDOW
            rows = s.execute(
                select(InboundFile.received_at, InboundFile.processed_at)
                .where(InboundFile.processed_at.is_not(None),
                       InboundFile.processed_at >= since)
                .order_by(InboundFile.processed_at.desc()).limit(LATENCY_ROWS)).all()
        for state in FileState:
            files.add_metric([state.value], float(counts.get(state.value, 0)))
        yield files
        seconds = sorted(max(0.0, (_aware(p) - _aware(r)).total_seconds()) for r, p in rows
                         if p is not None)
        buckets: list[tuple[str, float]] = []
        i = 0
        for bound in BUCKETS:
            while i < len(seconds) and seconds[i] <= bound:
                i += 1
            buckets.append((str(bound), float(i)))
        buckets.append(("+Inf", float(len(seconds))))
        latency.add_metric([], buckets, sum_value=sum(seconds))
        yield latency
        yield from self.extra()

    def extra(self) -> Iterator[Metric]:
        """Credits and deliveries, once those concerns have tables to count (none yet)."""
        return iter(())


def build_registry(db: Database) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return registry
