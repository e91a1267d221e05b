"""``engactivity import`` and ``simulate`` as real processes, checked through the API."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.conftest import NOW_MS, Server

MIN = 60_000
KEYS = (
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
)
ZERO = dict.fromkeys(KEYS, 0)


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENGACTIVITY_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "engactivity", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def to_ms(value: object) -> int:
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(str(value)).timestamp() * 1000)


def make_events(count: int, seed: int = 5) -> list[dict[str, object]]:
    """A varied file: every kind of event, ISO and epoch times, within the last day."""
    rng = random.Random(seed)
    events: list[dict[str, object]] = []
    for n in range(count):
        when = NOW_MS - rng.randrange(23 * 60 * MIN)
        event: dict[str, object] = {"eventId": f"e{n}", "time": when if n % 3 else iso(when)}
        if rng.random() < 0.1:
            event["extra"] = "ignored"
        if rng.random() < 0.4:
            event.update(type="connected", skillId=rng.randint(1, 4), agentId=rng.randint(1, 9))
        else:
            event.update(type="closed", interactive=rng.random() < 0.7)
            if rng.random() < 0.9:
                event["agentId"] = rng.randint(1, 9)
            if rng.random() < 0.9:
                event["skillId"] = rng.randint(1, 4)
            if rng.random() < 0.9:
                event["handlingTime"] = rng.randint(0, 900)
        events.append(event)
    return events


def expected_totals(events: list[dict[str, object]], now_ms: int = NOW_MS) -> dict[str, int]:
    """The five metrics of a day-long request, computed straight from the events."""
    seen: set[object] = set()
    totals = dict(ZERO)
    for event in events:
        if event["eventId"] in seen or to_ms(event["time"]) < now_ms - 1440 * MIN:
            continue
        seen.add(event["eventId"])
        if event["type"] == "connected":
            totals["connectedEngagements"] += 1
        elif event["interactive"]:
            totals["totalInteractiveChats"] += 1
            totals["totalHandlingTime"] += int(event.get("handlingTime", 0))  # type: ignore[call-overload]
        else:
            totals["totalNonInteractiveChats"] += 1
            totals["nonInteractiveTotalHandlingTime"] += int(event.get("handlingTime", 0))  # type: ignore[call-overload]
    return totals


def write_ndjson(path: Path, lines: Sequence[object]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return path


def day_totals(server: Server, account: str) -> dict[str, int]:
    response = server.query(account, timeframe=1440)
    assert response.status_code == 200, response.text
    totals: dict[str, int] = response.json()["metricsTotals"]
    return totals


def test_import_over_http_then_again(server: Server, tmp_path: Path) -> None:
    events = make_events(400)
    old = {"eventId": "old", "type": "connected", "time": NOW_MS - 25 * 60 * MIN, "agentId": 1}
    lines: list[object] = [*events[:200], "", "   ", events[7], old, *events[200:]]
    path = write_ndjson(tmp_path / "events.ndjson", lines)
    env = {"ENGACTIVITY_FAKE_NOW_FILE": str(server.clock_file)}
    args = ["import", str(path), "--account", "acme", "--url", server.base_url]

    first = run_cli([*args, "--batch-size", "64", "--json"], tmp_path, env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["lines"] == 402
    assert (summary["accepted"], summary["duplicates"], summary["expired"]) == (400, 1, 1)
    assert summary["rejected"] == 0 and summary["rejections"] == []
    assert day_totals(server, "acme") == expected_totals(events)

    again = run_cli(args, tmp_path, env)  # default batch size, human summary
    assert again.returncode == 0, again.stderr
    assert "accepted    0" in again.stdout
    assert "duplicates  401" in again.stdout
    assert "expired     1" in again.stdout
    assert "rejected    0" in again.stdout
    assert day_totals(server, "acme") == expected_totals(events)


def test_import_every_event_type(server: Server, tmp_path: Path) -> None:
    """A file of every type of event (simulated, with ISO times, unknown fields, nulls
    and duplicates) goes through the API's validation and lands in every method."""
    from engactivity.simulate import SimConfig, generate_events

    config = SimConfig(account="mix", agents=30, skills=3, rate=5, seed=3, duplicate_share=0.1)
    events = list(generate_events(config, NOW_MS - 90 * MIN, NOW_MS))
    assert {e["type"] for e in events} == {
        "queued",
        "connected",
        "abandoned",
        "closed",
        "queueState",
        "agentState",
    }
    lines: list[dict[str, object]] = []
    for n, event in enumerate(dict(e) for e in events):
        if n % 3 == 0:
            event["time"] = iso(to_ms(event["time"]))
        if n % 7 == 0:
            event["note"] = "ignored"
        if n % 5 == 0 and event["type"] == "connected":
            event["agentGroupId"] = None
        if n % 2 == 0 and event.get("reasonId") is not None:
            event["reasonId"] = int(str(event["reasonId"]))  # the same reason, as a number
        lines.append(event)
    path = write_ndjson(tmp_path / "mixed.ndjson", lines)
    env = {"ENGACTIVITY_FAKE_NOW_FILE": str(server.clock_file)}
    args = ["import", str(path), "--account", "mix", "--url", server.base_url, "--json"]
    result = run_cli(args, tmp_path, env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    unique = {str(e["eventId"]): e for e in events}
    assert (summary["accepted"], summary["rejected"]) == (len(unique), 0)
    assert summary["duplicates"] == len(events) - len(unique) > 0

    chats = [e for e in unique.values() if e["type"] in ("connected", "closed")]
    assert day_totals(server, "mix") == expected_totals(chats)
    url = f"{server.base_url}/operations/api/account/mix"
    health = httpx.get(f"{url}/queuehealth", params={"timeframe": 1440, "v": 1}).json()
    kinds = Counter(str(e["type"]) for e in unique.values())
    totals = health["metricsTotals"]
    assert totals["enteredQEng"] == kinds["queued"]
    assert totals["connectedEng"] == kinds["connected"]
    assert totals["abandonedEng"] == kinds["abandoned"]
    assert totals["queueSizeCount"] == kinds["queueState"]
    state = httpx.get(f"{url}/queuestate", params={"v": 1}).json()
    newest = max(to_ms(e["time"]) for e in unique.values() if e["type"] == "queueState")
    assert set(state["skills"]) == {"1", "2", "3"}
    assert state["totals"]["currentQueueSize"] == sum(
        int(str(e["queueSize"]))
        for e in unique.values()
        if e["type"] == "queueState" and to_ms(e["time"]) == newest
    )
    sla = httpx.get(f"{url}/sla", params={"timeframe": 1440, "v": 1}).json()
    assert sum(r["chats"] for r in sla["slaDataRange"].values()) == kinds["connected"]


def test_bad_lines_are_reported_and_the_rest_stored(server: Server, tmp_path: Path) -> None:
    events = make_events(30, seed=9)
    lines: list[object] = [
        *events[:10],
        "{not json",
        {"eventId": "no-agent", "type": "connected", "time": NOW_MS},
        *events[10:20],
        {"eventId": "future", "type": "connected", "time": NOW_MS + 6 * MIN, "agentId": 1},
        "",
        {
            "eventId": "neg",
            "type": "closed",
            "time": NOW_MS,
            "interactive": True,
            "handlingTime": -1,
        },
        *events[20:],
        "[1, 2]",
    ]
    path = write_ndjson(tmp_path / "bad.ndjson", lines)
    env = {"ENGACTIVITY_FAKE_NOW_FILE": str(server.clock_file)}
    args = ["import", str(path), "--account", "acme", "--url", server.base_url, "--batch-size", "4"]

    result = run_cli([*args, "--json"], tmp_path, env)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 30 and summary["rejected"] == 5
    rejected = {r["line"]: r["reason"] for r in summary["rejections"]}
    assert sorted(rejected) == [11, 12, 23, 25, 36]
    assert "JSON" in rejected[11]
    assert "agentId" in rejected[12]
    assert "ahead" in rejected[23]
    assert "handlingTime" in rejected[25]
    assert day_totals(server, "acme") == expected_totals(events)

    text = run_cli(args, tmp_path, env)
    assert text.returncode == 1
    assert "line 12:" in text.stdout and "rejected    5" in text.stdout


def test_server_side_rejections_keep_the_rest(server: Server, tmp_path: Path) -> None:
    """The importer's clock runs ahead of the server's: the server refuses what is in its
    future; those lines are reported and the rest of their batch is stored."""
    good = make_events(20, seed=3)
    ahead = {"eventId": "ahead", "type": "connected", "time": NOW_MS + 30 * MIN, "agentId": 4}
    path = write_ndjson(tmp_path / "skew.ndjson", [*good[:5], ahead, *good[5:]])
    env = {"ENGACTIVITY_FAKE_NOW_MS": str(NOW_MS + 60 * MIN)}
    args = ["import", str(path), "--account", "skew", "--url", server.base_url, "--json"]
    result = run_cli(args, tmp_path, env)
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 20
    assert [r["line"] for r in summary["rejections"]] == [6]
    assert "ahead" in summary["rejections"][0]["reason"]
    assert day_totals(server, "skew") == expected_totals(good)


def test_batches_too_large_for_the_server_are_split(tmp_path: Path) -> None:
    srv = Server(tmp_path, extra_args=["--max-batch-events", "50"]).start()
    try:
        events = make_events(300, seed=13)
        path = write_ndjson(tmp_path / "big.ndjson", events)
        env = {"ENGACTIVITY_FAKE_NOW_FILE": str(srv.clock_file)}
        args = ["import", str(path), "--account", "big", "--url", srv.base_url]
        result = run_cli([*args, "--batch-size", "200", "--json"], tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["accepted"] == 300
        assert day_totals(srv, "big") == expected_totals(events)
    finally:
        srv.stop()


def test_import_into_a_store_file(tmp_path: Path) -> None:
    events = make_events(250, seed=11)
    path = write_ndjson(tmp_path / "events.ndjson", events)
    srv = Server(tmp_path)  # writes the clock file; its store is tmp_path/store.db
    env = {"ENGACTIVITY_FAKE_NOW_FILE": str(srv.clock_file), "ENGACTIVITY_STORE": srv.store_url}
    first = run_cli(["import", str(path), "--account", "acme", "--json"], tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["accepted"] == 250
    args = ["import", str(path), "--account", "acme", "--store", srv.store_url, "--json"]
    again = run_cli(args, tmp_path, env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["duplicates"] == 250
    srv.start()
    try:
        assert day_totals(srv, "acme") == expected_totals(events)
    finally:
        srv.stop()


def test_simulate_backfill_matches_the_api(server: Server, tmp_path: Path) -> None:
    env = {"ENGACTIVITY_FAKE_NOW_FILE": str(server.clock_file)}
    args = ["simulate", "--account", "sim", "--url", server.base_url, "--backfill", "2"]
    args += ["--duration", "0", "--seed", "7", "--json"]
    started = time.monotonic()
    result = run_cli(args, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    report = json.loads(result.stdout)
    assert report["accepted"] > 1000 and report["duplicates"] > 0 and report["rejected"] == 0
    assert report["totalsExact"] is True
    assert report["metricsTotals"] == day_totals(server, "sim")
    assert all(report["metricsTotals"][key] > 0 for key in KEYS)

    # The same seed again: nothing new.
    again = json.loads(run_cli(args, tmp_path, env).stdout)
    assert again["accepted"] == 0 and again["metricsTotals"] == ZERO
    assert day_totals(server, "sim") == report["metricsTotals"]


def test_simulate_live_into_a_store(tmp_path: Path) -> None:
    """Live mode with the real clock: a couple of seconds of traffic."""
    store = f"sqlite:///{tmp_path / 'live.db'}"
    args = ["simulate", "--account", "live", "--store", store, "--backfill", "0"]
    # The queues are simulated from the last nightly hand-over (up to a day before the
    # start): a high rate would make that long. Queues sampled every second make sure
    # there is traffic in any two seconds.
    args += ["--duration", "2.2", "--rate", "60", "--agents", "400"]
    args += ["--queue-state-period", "1", "--json"]
    result = run_cli(args, tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accepted"] > 0
    # The last tick comes at the deadline, so the traffic covers the whole duration.
    assert report["toMs"] - report["fromMs"] >= 2200


def test_serve_demo_shows_traffic(tmp_path: Path) -> None:
    """The demo backfills a day in the background, so the latest hour is busy soon."""
    srv = Server(tmp_path, extra_args=["--demo"]).start()
    try:
        # The demo prints a read key for 'demo' (and a curl line using it).
        token = re.search(r"Bearer (ea_[\w-]+)", srv.log_path.read_text())
        assert token is not None, srv.log_path.read_text()
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        url = f"{srv.base_url}/operations/api/account/demo/engactivity"
        assert httpx.get(url, params={"timeframe": 60, "v": 1}).status_code == 401
        srv.wait_demo_backfilled()
        params = {"timeframe": 60, "skillIds": "all", "v": 1}
        answer = httpx.get(url, params=params, headers=auth).json()
        assert len(answer["skillsMetricsPerAgent"]["metricsPerSkill"]) >= 8
        day = httpx.get(url, params={"timeframe": 1440, "v": 1}, headers=auth)
        totals = day.json()["metricsTotals"]
        assert all(totals[key] > 0 for key in KEYS), totals
        assert totals["connectedEngagements"] > 10_000
    finally:
        srv.stop()
