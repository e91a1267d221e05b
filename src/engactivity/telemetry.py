"""The process's metrics (Prometheus) and the small functions the code counts with.

Defined once per process, at import, with the official client. When
``PROMETHEUS_MULTIPROC_DIR`` is set (several worker processes), every process writes
its values to files there and ``/metrics`` sums the files of all of them; the folder
must be empty when the first process starts, and this module must not be imported
before it is set (``workers.py``), which is why only the HTTP modules import it.

Label values are bounded: endpoints are route templates, never raw paths, and the
429 counter has no per-account label unless ``--metrics-account-labels`` is given.
The ``/metrics`` route is ``api/metrics_route.py``; the request counting middleware
``api/request_metrics.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

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
LOGINS = Counter(
    "engactivity_logins",
    "Login Service logins, by outcome: ok, refused (wrong name or password, 401), "
    "throttled (429 after repeated failures).",
    ["outcome"],
)
PUSH_COMPUTATIONS = Counter(
    "engactivity_push_computations",
    "Answers computed for event streams after a change, one per question however "
    "many streams share it (the first answer of each stream is not counted).",
)
PUSH_DELIVERIES = Counter(
    "engactivity_push_deliveries",
    "New answers handed to event streams after a change (one per stream per change).",
)
PUSH_STREAMS = Gauge(
    "engactivity_push_streams",
    "Event streams open now.",
    multiprocess_mode="livesum",
)

for _outcome in ("accepted", "duplicate", "expired", "rejected"):
    EVENTS.labels(_outcome)
for _outcome in ("stored", "rejected", "too_large", "failed"):
    BATCHES.labels(_outcome)
for _outcome in ("ok", "refused", "throttled"):
    LOGINS.labels(_outcome)


M = TypeVar("M", Counter, Histogram)

_children: dict[tuple[Counter | Histogram, tuple[str, ...]], Any] = {}


def labelled(metric: M, *values: str) -> M:
    """``metric.labels(*values)``, found once: ``labels`` checks its values and takes a
    lock on each call, and every request and batch counts with it."""
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


def count_throttled(account_id: str, per_account: bool) -> None:
    labelled(THROTTLED, account_id if per_account else "all").inc()


def count_batch(accepted: int, duplicates: int, expired: int, newest_event_ms: int) -> None:
    labelled(EVENTS, "accepted").inc(accepted)
    labelled(EVENTS, "duplicate").inc(duplicates)
    labelled(EVENTS, "expired").inc(expired)
    labelled(BATCHES, "stored").inc()
    BATCH_SIZE.observe(accepted + duplicates + expired)
    LAST_BATCH.set(time.time())
    if accepted:
        current = NEWEST_EVENT._value.get()
        if newest_event_ms / 1000 > current:
            NEWEST_EVENT.set(newest_event_ms / 1000)


def count_login(outcome: str) -> None:
    labelled(LOGINS, outcome).inc()


def count_refused(outcome: str, events: int) -> None:
    labelled(BATCHES, outcome).inc()
    if outcome == "rejected":
        labelled(EVENTS, "rejected").inc(events)


@contextmanager
def timed(operation: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        labelled(STORE_LATENCY, operation).observe(time.perf_counter() - started)
