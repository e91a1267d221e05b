"""Cached answers are never stale: new data shows at once, and so do other writers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import MIN, NOW_MS, Server


def connected(event_id: str, skill: int, agent: int, minutes_ago: int = 1) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "type": "connected",
        "time": NOW_MS - minutes_ago * MIN,
        "skillId": skill,
        "agentId": agent,
    }


def test_repeated_query_sees_each_new_batch(server: Server) -> None:
    params = {"timeframe": 60, "skillIds": "all", "agentIds": "all", "interval": 15}
    assert server.send("acme", [connected("a", 1, 10)]).status_code == 200
    first = server.query("acme", **params).json()
    assert server.query("acme", **params).json() == first  # served again, unchanged
    for n in range(2, 6):
        assert server.send("acme", [connected(f"e{n}", n, 10 + n)]).status_code == 200
        body = server.query("acme", **params).json()
        assert set(body["skillsMetricsPerAgent"]["metricsPerSkill"]) == {
            str(s) for s in [1, *range(2, n + 1)]
        }
        assert body["agentsMetrics"]["metricsTotals"]["connectedEngagements"] == n


def test_duplicates_and_other_accounts_leave_answers_alone(server: Server) -> None:
    assert server.send("acme", [connected("a", 1, 10)]).status_code == 200
    before = server.query("acme", timeframe=60, skillIds="all").json()
    assert server.send("acme", [connected("a", 1, 10)]).json()["duplicates"] == 1
    assert server.send("other", [connected("b", 1, 10)]).status_code == 200
    assert server.query("acme", timeframe=60, skillIds="all").json() == before


def test_span_moves_with_the_clock_even_when_cached(server: Server) -> None:
    assert server.send("acme", [connected("a", 1, 10, minutes_ago=3)]).status_code == 200
    assert server.query("acme", timeframe=5).json()["metricsTotals"]["connectedEngagements"] == 1
    server.set_now(NOW_MS + 30 * MIN)
    assert server.query("acme", timeframe=5).json()["metricsTotals"]["connectedEngagements"] == 0


def test_cache_off_gives_the_same_answers(make_server: Any) -> None:
    cached: Server = make_server()
    uncached: Server = make_server(extra_args=["--answer-cache-mb", "0"])
    events = [connected(f"e{i}", i % 4, 100 + i % 7, minutes_ago=i) for i in range(200)]
    for srv in (cached, uncached):
        assert srv.send("acme", events).status_code == 200
    for params in (
        {"timeframe": 1440},
        {"timeframe": 240, "interval": 30, "skillIds": "all"},
        {"timeframe": 60, "agentIds": "all", "skillIds": "1,2"},
    ):
        for _ in range(2):
            assert cached.query("acme", **params).json() == uncached.query("acme", **params).json()


def test_import_into_the_file_of_a_running_server_shows_up(server: Server, tmp_path: Path) -> None:
    assert server.send("acme", [connected("before", 1, 10)]).status_code == 200
    assert server.query("acme", timeframe=60).json()["metricsTotals"]["connectedEngagements"] == 1
    lines = [orjson.dumps(connected(f"imported-{i}", 2, 20 + i)) for i in range(25)]
    source = tmp_path / "events.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engactivity",
            "import",
            str(source),
            "--account",
            "acme",
            "--store",
            server.store_url,
        ],
        env={"ENGACTIVITY_FAKE_NOW_MS": str(NOW_MS), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        totals = server.query("acme", timeframe=60).json()["metricsTotals"]
        if totals["connectedEngagements"] == 26:
            break
        time.sleep(0.1)
    assert totals["connectedEngagements"] == 26


def test_interleaved_writes_and_queries_match_an_uncached_server(make_server: Any) -> None:
    """Rendered intervals are reused only while their buckets are unchanged.

    Late events land in old buckets, new events in the current one, the clock moves
    and old data expires; after every step both servers must answer alike.
    """
    import random

    rng = random.Random(5)
    cached: Server = make_server()
    uncached: Server = make_server(extra_args=["--answer-cache-mb", "0"])
    questions = [
        {"timeframe": 1440, "interval": 60, "skillIds": "all", "agentIds": "all"},
        {"timeframe": 240, "interval": 30, "skillIds": "all"},
        {"timeframe": 120, "interval": 15, "agentIds": "all"},
        {"timeframe": 60, "interval": 5, "skillIds": "1,2", "agentIds": "all"},
        {"timeframe": 1435, "interval": 5, "agentIds": "101,102"},
        {"timeframe": 30},
    ]
    now = NOW_MS
    serial = 0
    for step in range(12):
        events = []
        for _ in range(rng.randint(1, 30)):
            serial += 1
            minutes_ago = rng.choice([0, 1, 4, 7, 59, 61, 300, 1439, rng.randint(0, 1440)])
            events.append(
                {
                    "eventId": f"e{serial}",
                    "type": "connected",
                    "time": now - minutes_ago * MIN,
                    "skillId": rng.randint(1, 4),
                    "agentId": 100 + rng.randint(1, 6),
                }
            )
        for srv in (cached, uncached):
            assert srv.send("acme", events).status_code == 200
        if step % 4 == 3:
            now += rng.choice([MIN, 5 * MIN, 6 * 60 * MIN])
            for srv in (cached, uncached):
                srv.set_now(now)
        for params in questions:
            for _ in range(2):
                assert (
                    cached.query("acme", **params).json() == uncached.query("acme", **params).json()
                )
