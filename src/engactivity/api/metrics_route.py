"""``GET /metrics``: the Prometheus text format, over a registry of this process's
metrics (``telemetry.py``) or, with ``PROMETHEUS_MULTIPROC_DIR``, of every worker's,
plus collectors that ask the store at scrape time."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response

# The metrics served are defined there, in the default registry.
from engactivity import telemetry  # noqa: F401
from engactivity.api.access.routes import add_route
from engactivity.auth.access import METRICS
from engactivity.core.timeframe import BUCKET_MS
from engactivity.store import MemoryStats, Store, StoreUnavailable, TableStats


class TableStatsCollector(Collector):
    """What the store's tables hold, asked of the store at scrape time: row count and
    bucket ages (where the engine can tell them cheaply).

    Cached for a second, so a burst of scrapes costs one look.
    """

    def __init__(self, store: Store, max_age_s: float = 1.0) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._at = -1e9
        self._values: TableStats | None = None
        self._readable = True

    def _read(self) -> tuple[bool, TableStats | None]:
        with self._lock:
            if time.monotonic() - self._at >= self.max_age_s:
                try:
                    self._values, self._readable = self.store.table_stats(), True
                except StoreUnavailable:
                    self._values, self._readable = None, False
                self._at = time.monotonic()
            return self._readable, self._values

    def collect(self) -> Iterable[GaugeMetricFamily]:
        readable, values = self._read()
        if readable and values is None:
            return  # the engine cannot tell cheaply
        up = GaugeMetricFamily(
            "engactivity_store_readable", "1 when the store could be read at the last scrape."
        )
        up.add_metric([], 1 if readable else 0)
        yield up
        if values is None:
            return
        yield GaugeMetricFamily(
            "engactivity_store_rollup_rows", "Rows of the bucket tables.", value=values.rows
        )
        if values.newest_bucket is not None:
            yield GaugeMetricFamily(
                "engactivity_store_newest_bucket_timestamp_seconds",
                "Start of the newest 5-minute bucket holding data, any account.",
                value=values.newest_bucket * BUCKET_MS / 1000,
            )
        if values.oldest_bucket is not None:
            yield GaugeMetricFamily(
                "engactivity_store_oldest_bucket_timestamp_seconds",
                "Start of the oldest bucket still stored (retention purges keep it recent).",
                value=values.oldest_bucket * BUCKET_MS / 1000,
            )


class StoreCountersCollector(Collector):
    """Counters the store keeps itself (it knows nothing of Prometheus)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(
            "engactivity_retention_purged_rows",
            "Rows (rollups and event ids) removed by retention since the process started.",
            value=self.store.purged_rows,
        )
        yield from _memory(self.store.memory())


def _memory(stats: MemoryStats) -> Iterable[CounterMetricFamily | GaugeMetricFamily]:
    """The accounts held in memory by the process that answers the scrape."""
    yield GaugeMetricFamily(
        "engactivity_memory_accounts_resident",
        "Accounts whose rollups are in memory.",
        value=stats.resident,
    )
    yield CounterMetricFamily(
        "engactivity_memory_account_loads",
        "Accounts read from the store into memory (first use, or after an eviction).",
        value=stats.loads,
    )
    yield CounterMetricFamily(
        "engactivity_memory_account_evictions",
        "Accounts dropped from memory, least recently used first, to stay within the limit.",
        value=stats.evictions,
    )
    yield GaugeMetricFamily(
        "engactivity_memory_in_use_bytes",
        "Estimated memory of the accounts' rollups in memory.",
        value=stats.in_use_bytes,
    )
    yield GaugeMetricFamily(
        "engactivity_memory_limit_bytes",
        "The limit of that estimate (--memory-mb).",
        value=stats.limit_bytes,
    )


def _registry(extra: list[Collector]) -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    for collector in extra:
        registry.register(collector)
    return registry


class _Default(Collector):
    """The process's own metrics (the default registry), inside a scrape registry."""

    def collect(self) -> Iterable[Any]:
        return REGISTRY.collect()


def install_metrics_route(app: FastAPI, store: Store) -> None:
    """Add ``GET /metrics``; it needs the metrics token (``METRICS``, docs/security.md)."""
    registry = _registry([StoreCountersCollector(store), TableStatsCollector(store)])

    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    add_route(
        app,
        "/metrics",
        metrics,
        access=METRICS,
        methods=["GET"],
        tags=["health"],
        summary="Prometheus metrics",
        response_class=Response,
    )
