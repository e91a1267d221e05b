"""Prometheus metrics: ``GET /metrics`` in the text exposition format.

Metrics are defined once per process (module level) with the official client. When
``PROMETHEUS_MULTIPROC_DIR`` is set (several worker processes), every process writes
its values to files there and ``/metrics`` sums the files of all of them; the folder
must be empty when the first process starts.

Label values are bounded: endpoints are route templates, never raw paths, and the
429 counter has no per-account label unless ``--metrics-account-labels`` is given.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response

from engactivity.api.requestlog import ASGIApp, Receive, Scope, Send
from engactivity.core.timeframe import BUCKET_MS
from engactivity.store import Store, StoreUnavailable, TableStats

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: half the output, no use for alerts

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "engactivity_http_requests",
    "HTTP requests answered, by endpoint (route template), method and status.",
    ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "engactivity_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint and status.",
    ["endpoint", "status"],
    buckets=_LATENCY_BUCKETS,
)
THROTTLED = Counter(
    "engactivity_throttled_requests",
    "engactivity queries answered 429 (too many concurrent requests for an account). "
    "The account label is 'all' unless --metrics-account-labels is set.",
    ["account"],
)
EVENTS = Counter(
    "engactivity_events",
    "Events received, by outcome: accepted, duplicate, expired, or rejected (in a "
    "batch refused with 400, so none of its events was stored).",
    ["outcome"],
)
BATCHES = Counter(
    "engactivity_batches",
    "Batches received, by outcome: stored, rejected (400), too_large (413), failed (503).",
    ["outcome"],
)
BATCH_SIZE = Histogram(
    "engactivity_ingest_batch_events",
    "Events per stored batch.",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000),
)
STORE_LATENCY = Histogram(
    "engactivity_store_operation_duration_seconds",
    "Store operations: commit (a batch handed to the writer until durable), "
    "query (an answer computed or taken from the cache), ping.",
    ["operation"],
    buckets=_LATENCY_BUCKETS,
)
NEWEST_EVENT = Gauge(
    "engactivity_newest_event_timestamp_seconds",
    "Event time of the newest event accepted by this process since it started "
    "(time() minus this is the freshness lag).",
    multiprocess_mode="max",
)
LAST_BATCH = Gauge(
    "engactivity_last_batch_timestamp_seconds",
    "Wall-clock time of the last batch this process stored.",
    multiprocess_mode="max",
)

for _outcome in ("accepted", "duplicate", "expired", "rejected"):
    EVENTS.labels(_outcome)
for _outcome in ("stored", "rejected", "too_large", "failed"):
    BATCHES.labels(_outcome)


def count_throttled(account_id: str, per_account: bool) -> None:
    THROTTLED.labels(account_id if per_account else "all").inc()


def count_batch(accepted: int, duplicates: int, expired: int, newest_event_ms: int) -> None:
    EVENTS.labels("accepted").inc(accepted)
    EVENTS.labels("duplicate").inc(duplicates)
    EVENTS.labels("expired").inc(expired)
    BATCHES.labels("stored").inc()
    BATCH_SIZE.observe(accepted + duplicates + expired)
    LAST_BATCH.set(time.time())
    if accepted:
        current = NEWEST_EVENT._value.get()
        if newest_event_ms / 1000 > current:
            NEWEST_EVENT.set(newest_event_ms / 1000)


def count_refused(outcome: str, events: int) -> None:
    BATCHES.labels(outcome).inc()
    if outcome == "rejected":
        EVENTS.labels("rejected").inc(events)


@contextmanager
def timed(operation: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        STORE_LATENCY.labels(operation).observe(time.perf_counter() - started)


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

    def collect(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily(
            "engactivity_retention_purged_rows",
            "Rows (rollups and event ids) removed by retention since the process started.",
            value=self.store.purged_rows,
        )


class MetricsMiddleware:
    """Counts and times every HTTP request by route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            code = str(status)
            HTTP_REQUESTS.labels(endpoint, scope.get("method", ""), code).inc()
            HTTP_LATENCY.labels(endpoint, code).observe(time.perf_counter() - started)


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


def install_metrics(app: FastAPI, store: Store) -> None:
    """Add the request metrics middleware and the ``GET /metrics`` route."""
    registry = _registry([StoreCountersCollector(store), TableStatsCollector(store)])
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
