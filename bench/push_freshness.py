"""Push freshness: from an event's acknowledgement to the pushed answer that shows it.

    .venv/bin/python -m bench.push_freshness [--events 200] [--gap-ms 1100] [--period-ms 1000]

Starts ``engactivity serve`` on a fresh SQLite store, loads a day of the demo's simulated
traffic for one account (the simulator of ``serve --demo``), subscribes to
``engactivity?timeframe=60&skillIds=all`` with ``Accept: text/event-stream``, then sends
one ``connected`` event at a time, ``--gap-ms`` apart, on a skill of its own. For each,
the time from the moment its ingest request is acknowledged to the arrival of the first
pushed answer whose ``connectedEngagements`` of that skill counts it. Printed as
p50/p90/p99/max in milliseconds.

With a gap longer than the push period every event finds its question idle, so the
figure is the push's own latency (wake-up, one computation, the bytes on the socket);
with a shorter gap events wait for the coalescing period, up to one period.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
from httpx_sse import connect_sse

from bench.servers import Process
from engactivity.simulate import DAY_MS, DEMO_CONFIG, generate_events

ACCOUNT = DEMO_CONFIG.account
QUESTION = {"v": "1", "timeframe": "60", "skillIds": "all"}


MARKER_SKILL = 424_242
"""The skill of the measured events: the demo has no such skill, so its count only grows
(the account's totals also lose the simulated day's oldest minute as the hour moves)."""


def connected_count(data: str) -> int:
    skills = orjson.loads(data)["skillsMetricsPerAgent"]["metricsPerSkill"]
    marker = skills.get(str(MARKER_SKILL))
    return 0 if marker is None else int(marker["metricsTotals"]["connectedEngagements"])


def follow(base_url: str, answers: queue.Queue[tuple[float, int]], ready: threading.Event) -> None:
    """Read the stream; put (arrival time, connected count) of every answer."""
    url = f"{base_url}/operations/api/account/{ACCOUNT}/engactivity"
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "GET", url, params=QUESTION) as source,
    ):
        source.response.raise_for_status()
        ready.set()
        for event in source.iter_sse():
            if event.event == "answer":
                answers.put((time.perf_counter(), connected_count(event.data)))


def load_day(base_url: str) -> None:
    now = int(time.time() * 1000)
    events = list(generate_events(DEMO_CONFIG, now - DAY_MS, now))
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for start in range(0, len(events), 5000):
            sent = client.post(
                f"/api/v1/accounts/{ACCOUNT}/events", json=events[start : start + 5000]
            )
            sent.raise_for_status()
    print(f"loaded {len(events)} events of a simulated day on account {ACCOUNT!r}")


def measure(base_url: str, count: int, gap_s: float) -> list[float]:
    answers: queue.Queue[tuple[float, int]] = queue.Queue()
    ready = threading.Event()
    threading.Thread(target=follow, args=(base_url, answers, ready), daemon=True).start()
    assert ready.wait(30), "the stream did not open"
    _, shown = answers.get(timeout=30)  # the answer at subscribing
    lags: list[float] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n in range(count):
            event = {
                "eventId": f"fresh-{time.time_ns()}-{n}",
                "type": "connected",
                "time": int(time.time() * 1000),
                "agentId": 1 + n % 7,
                "skillId": MARKER_SKILL,
            }
            client.post(f"/api/v1/accounts/{ACCOUNT}/events", json=[event]).raise_for_status()
            acknowledged = time.perf_counter()
            target = shown + 1
            while shown < target:
                arrived, shown = answers.get(timeout=30)
            lags.append((arrived - acknowledged) * 1000)
            time.sleep(gap_s)
    return lags


def report(lags: list[float], gap_ms: int, period_ms: int) -> None:
    ordered = sorted(lags)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    print(
        f"push freshness over {len(lags)} events, {gap_ms} ms apart, push period {period_ms} ms: "
        f"p50 {pct(50):.1f} ms, p90 {pct(90):.1f} ms, p99 {pct(99):.1f} ms, "
        f"max {ordered[-1]:.1f} ms (mean {statistics.fmean(lags):.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap-ms", type=int, default=1100)
    parser.add_argument("--period-ms", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push_freshness_") as folder:
        store = Path(folder) / "store.db"
        command = [
            "-m",
            "engactivity",
            "serve",
            "--port",
            "{port}",
            "--store",
            f"sqlite:///{store}",
        ]
        server = Process(
            "engactivity",
            [*command, "--push-period-ms", str(args.period_ms)],
            Path(folder) / "server.log",
        ).start()
        try:
            load_day(server.base_url)
            lags = measure(server.base_url, args.events, args.gap_ms / 1000)
            report(lags, args.gap_ms, args.period_ms)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
