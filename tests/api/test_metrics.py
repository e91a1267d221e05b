"""GET /metrics: the Prometheus text format, over real HTTP."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_ingest import NOW_MS, ack, closed, connected, sample_events
from tests.conftest import MIN, Server

MakeServer = Callable[..., Server]
DOCS = Path(__file__).resolve().parents[2] / "docs"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: Server) -> Samples:
    response = httpx.get(f"{server.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


EVENTS_ROUTE = "/api/v1/accounts/{accountId}/events"
QUERY_ROUTE = "/operations/api/account/{accountId}/engactivity"


def test_metrics_count_requests_events_and_batches(server: Server) -> None:
    before = scrape(server)
    assert value(before, "engactivity_events_total", outcome="accepted") == 0
    assert value(before, "engactivity_store_readable") == 1

    events = sample_events("m")
    assert ack(server.send("acme", events))["accepted"] == 6
    body = ack(
        server.send(
            "acme", [*events[:2], connected("m-new"), closed("m-old", NOW_MS - 2 * 24 * 60 * MIN)]
        )
    )
    assert body == {"accepted": 1, "duplicates": 2, "expired": 1}
    bad = server.send("acme", [connected("ok"), {"eventId": "broken"}])
    assert bad.status_code == 400
    assert server.query("acme", timeframe=60).status_code == 200
    assert server.query("acme", timeframe="abc").status_code == 400
    assert httpx.get(f"{server.base_url}/no/such/page").status_code == 404

    time.sleep(1.1)  # the store file's figures are cached for a second
    after = scrape(server)
    assert value(after, "engactivity_events_total", outcome="accepted") == 7
    assert value(after, "engactivity_events_total", outcome="duplicate") == 2
    assert value(after, "engactivity_events_total", outcome="expired") == 1
    assert value(after, "engactivity_events_total", outcome="rejected") == 2
    assert value(after, "engactivity_batches_total", outcome="stored") == 2
    assert value(after, "engactivity_batches_total", outcome="rejected") == 1
    assert value(after, "engactivity_ingest_batch_events_count") == 2
    assert value(after, "engactivity_ingest_batch_events_sum") == 10

    requests = "engactivity_http_requests_total"
    assert value(after, requests, endpoint=EVENTS_ROUTE, method="POST", status="200") == 2
    assert value(after, requests, endpoint=EVENTS_ROUTE, method="POST", status="400") == 1
    assert value(after, requests, endpoint=QUERY_ROUTE, method="GET", status="200") == 1
    assert value(after, requests, endpoint=QUERY_ROUTE, method="GET", status="400") == 1
    # Unknown paths share one label value: no unbounded cardinality.
    assert value(after, requests, endpoint="other", method="GET", status="404") == 1
    assert not any("/no/such" in str(labels) for _, labels in after)
    latency = "engactivity_http_request_duration_seconds_count"
    assert value(after, latency, endpoint=EVENTS_ROUTE, status="200") == 2
    assert (
        value(after, "engactivity_store_operation_duration_seconds_count", operation="commit") == 2
    )
    assert (
        value(after, "engactivity_store_operation_duration_seconds_count", operation="query") == 1
    )

    # Freshness: the newest accepted event's time, and the store file's contents.
    newest = max(int(str(e["time"])) for e in events)
    assert (
        value(after, "engactivity_newest_event_timestamp_seconds")
        == max(newest, NOW_MS - MIN) / 1000
    )
    assert value(after, "engactivity_store_rollup_rows") > 0
    assert value(after, "engactivity_store_newest_bucket_timestamp_seconds") > 0


def hammer(server: Server, account: str, count: int) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def ask() -> None:
        response = server.query(account, timeframe=1440, skillIds="all", agentIds="all", interval=5)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def load_some(server: Server, account: str) -> None:
    events = [
        closed(f"{account}-{i}", NOW_MS - (i % 1400) * MIN, skill=i % 50, agent=i % 300)
        for i in range(5000)
    ]
    assert ack(server.send(account, events))["accepted"] == len(events)


def test_429_counter_has_no_account_label_unless_asked(make_server: MakeServer) -> None:
    plain = make_server(["--max-concurrent", "1", "--answer-cache-mb", "0"])
    load_some(plain, "busy")
    statuses = hammer(plain, "busy", 24)
    throttled = statuses.count(429)
    assert throttled > 0 and set(statuses) <= {200, 429}
    samples = scrape(plain)
    assert value(samples, "engactivity_throttled_requests_total", account="all") == throttled
    assert not any(labels == (("account", "busy"),) for _, labels in samples)

    labelled = make_server(
        ["--max-concurrent", "1", "--answer-cache-mb", "0", "--metrics-account-labels"]
    )
    load_some(labelled, "busy")
    statuses = hammer(labelled, "busy", 24)
    assert statuses.count(429) > 0
    samples = scrape(labelled)
    assert value(samples, "engactivity_throttled_requests_total", account="busy") == statuses.count(
        429
    )


def test_multiprocess_mode(make_server: MakeServer, tmp_path: Path) -> None:
    folder = tmp_path / "prom"
    folder.mkdir()
    server = make_server(env={"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    assert ack(server.send("acme", sample_events("mp")))["accepted"] == 6
    samples = scrape(server)
    assert value(samples, "engactivity_events_total", outcome="accepted") == 6
    assert value(samples, "engactivity_store_rollup_rows") > 0
    assert list(folder.glob("*.db")), "each process writes its values in the folder"


def _connection_to_each_worker(server: Server) -> list[http.client.HTTPConnection]:
    """One kept-alive connection served by each worker process (psutil tells which)."""
    assert server.proc is not None
    workers = psutil.Process(server.proc.pid).children()
    assert len(workers) == 2
    found: dict[int, http.client.HTTPConnection] = {}
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.connect()
        assert conn.sock is not None
        port = conn.sock.getsockname()[1]
        deadline = time.monotonic() + 5
        owner = None
        while owner is None and time.monotonic() < deadline:
            owner = next(
                (
                    w.pid
                    for w in workers
                    for c in w.net_connections(kind="tcp")
                    if c.raddr and c.raddr.port == port
                ),
                None,
            )
        if owner is None or owner in found:
            conn.close()
        else:
            found[owner] = conn
        if len(found) == len(workers):
            return list(found.values())
    raise AssertionError("the kernel never handed a connection to one of the workers")


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def _scrape_through(conn: http.client.HTTPConnection) -> Samples:
    status, body = _get(conn, "/metrics")
    assert status == 200
    out: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_workers_on_postgresql_sum_their_request_metrics(tmp_path: Path) -> None:
    """serve --workers 2 (no PROMETHEUS_MULTIPROC_DIR given): whichever worker answers
    /metrics reports the requests, latencies and events of both."""
    server = Server(tmp_path, engine="postgresql").start()
    try:
        first, second = _connection_to_each_worker(server)
        events = "/api/v1/accounts/acme/events"
        for n, (conn, count) in enumerate(((first, 3), (second, 5))):
            for _ in range(count):
                assert _get(conn, "/healthz")[0] == 200
            batch = [connected(f"w{n}-{i}") for i in range(n + 2)]  # 2, then 3 events
            conn.request("POST", events, json.dumps(batch), {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200, response.read()
            response.read()
            query = "/operations/api/account/acme/engactivity?timeframe=60&v=1"
            assert _get(conn, query)[0] == 200
        # A worker counts a request just after answering it, so a scrape through the
        # other worker may come a moment early: look again until the counts are in.
        scrapes = 0
        requests = "engactivity_http_requests_total"
        latency = "engactivity_http_request_duration_seconds_count"

        def settled(
            conn: http.client.HTTPConnection, check: Callable[[Samples, int], bool]
        ) -> None:
            nonlocal scrapes
            deadline = time.monotonic() + 10
            while True:
                before = scrapes  # answered scrapes; a scrape never counts itself
                samples = _scrape_through(conn)
                scrapes += 1
                if check(samples, before):
                    return
                assert time.monotonic() < deadline, samples
                time.sleep(0.05)

        def all_counted(samples: Samples, _before: int) -> bool:
            return (
                value(samples, requests, endpoint="/healthz", method="GET", status="200") == 8
                and value(samples, requests, endpoint=EVENTS_ROUTE, method="POST", status="200")
                == 2
                and value(samples, latency, endpoint=QUERY_ROUTE, status="200") == 2
                and value(samples, "engactivity_events_total", outcome="accepted") == 5
                and value(samples, "engactivity_batches_total", outcome="stored") == 2
            )

        def scrapes_counted(samples: Samples, before: int) -> bool:
            return (
                value(samples, requests, endpoint="/metrics", method="GET", status="200") == before
            )

        for conn in (first, second):
            settled(conn, all_counted)
        # Scrapes are counted too, whichever worker served them.
        for conn in (first, second):
            settled(conn, scrapes_counted)
        first.close()
        second.close()
    finally:
        server.stop()


def test_the_sample_dashboard_uses_only_exported_metrics(server: Server) -> None:
    assert ack(server.send("acme", sample_events("d")))["accepted"] == 6
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    families = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
    names: set[str] = set()
    for name, kind in families:
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names.add(name)
        names.update(name + s for s in suffixes.get(kind, []))
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used.update(re.findall(r"engactivity_[a-z_]+", target["expr"]))
    assert used and used <= names, used - names
    # And so do the alert rules of docs/operations.md.
    rules = set(re.findall(r"engactivity_[a-z_]+", (DOCS / "operations.md").read_text()))
    assert rules <= names | {"engactivity_store_"}, rules - names


def test_retention_purges_are_counted(server: Server) -> None:
    events = [connected(f"old{i}", NOW_MS - (60 + i) * MIN) for i in range(5)]
    assert server.send("acme", events).status_code == 200
    assert value(scrape(server), "engactivity_retention_purged_rows_total") == 0
    # Two days on, the writer's first purge step (it runs at start) removes them.
    server.stop()
    server.set_now(NOW_MS + 2 * 24 * 60 * MIN)
    server.start()
    deadline = time.monotonic() + 10
    purged = 0.0
    while time.monotonic() < deadline and purged == 0:
        purged = value(scrape(server), "engactivity_retention_purged_rows_total")
        time.sleep(0.05)
    assert purged > 0
