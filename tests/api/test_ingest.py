"""The ingest endpoint over real HTTP: POST /api/v1/accounts/{accountId}/events (EVENTS.md)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ENGINES, MIN, NOW_MS, Server, store_rows


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


@pytest.fixture(scope="module")
def pg_workers() -> int:
    # Ingestion through two processes on one database is tested in test_scaleout.py.
    return 1


@pytest.fixture(scope="module")
def refusing(
    tmp_path_factory: pytest.TempPathFactory, store_engine: str, pg_workers: int
) -> Iterator[Server]:
    """One server for the tests that only send what is refused: nothing is ever stored
    in it, so each of them sees an empty store, as a fresh server would show."""
    folder = tmp_path_factory.mktemp("refusing")
    srv = Server(folder, engine=store_engine, workers=pg_workers).start()
    yield srv
    srv.stop()


Counters = tuple[int, int, int, int, int]
MakeServer = Callable[..., Server]
KEYS = [
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
]
ZERO: Counters = (0, 0, 0, 0, 0)
DAY = 24 * 60 * MIN
NDJSON = {"Content-Type": "application/x-ndjson"}


def connected(
    event_id: str, time_ms: int = NOW_MS - MIN, skill: int | None = 2, agent: int = 3
) -> dict[str, object]:
    event: dict[str, object] = {
        "eventId": event_id,
        "type": "connected",
        "time": time_ms,
        "agentId": agent,
    }
    if skill is not None:
        event["skillId"] = skill
    return event


def closed(
    event_id: str,
    time_ms: int = NOW_MS - MIN,
    skill: int | None = 2,
    agent: int | None = 3,
    interactive: bool = True,
    handling: int | None = 10,
) -> dict[str, object]:
    event: dict[str, object] = {
        "eventId": event_id,
        "type": "closed",
        "time": time_ms,
        "interactive": interactive,
    }
    if skill is not None:
        event["skillId"] = skill
    if agent is not None:
        event["agentId"] = agent
    if handling is not None:
        event["handlingTime"] = handling
    return event


def contribution(event: dict[str, Any]) -> Counters:
    if event["type"] == "connected":
        return (0, 0, 0, 0, 1)
    seconds = int(event.get("handlingTime") or 0)
    if event["interactive"]:
        return (1, 0, seconds, 0, 0)
    return (0, 1, 0, seconds, 0)


def total_of(events: list[dict[str, Any]]) -> Counters:
    sums = [0, 0, 0, 0, 0]
    for event in events:
        for i, value in enumerate(contribution(event)):
            sums[i] += value
    return (sums[0], sums[1], sums[2], sums[3], sums[4])


def as_metrics(counters: Counters) -> dict[str, int]:
    return dict(zip(KEYS, counters, strict=True))


def totals(server: Server, account: str, timeframe: int = 1440) -> Counters:
    response = server.query(account, timeframe=timeframe)
    assert response.status_code == 200, response.text
    metrics = response.json()["metricsTotals"]
    assert list(metrics) == KEYS
    a, b, c, d, e = (int(metrics[k]) for k in KEYS)
    return (a, b, c, d, e)


def post(
    server: Server, account: str, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/v1/accounts/{account}/events",
        content=body,
        headers=headers or {"Content-Type": "application/json"},
        timeout=30,
    )


def ndjson(events: list[dict[str, object]]) -> bytes:
    return b"\n".join(orjson.dumps(e) for e in events) + b"\n"


def ack(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, int] = response.json()
    assert set(body) == {"accepted", "duplicates", "expired"}
    return body


def assert_client_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body.get("error") and body.get("message")
    return body


def sample_events(prefix: str) -> list[dict[str, object]]:
    return [
        connected(f"{prefix}-c1"),
        connected(f"{prefix}-c2", skill=None, agent=4),
        closed(f"{prefix}-x1", handling=312),
        closed(f"{prefix}-x2", interactive=False, handling=40, agent=None),
        closed(f"{prefix}-x3", interactive=False, handling=None, skill=None),
        closed(f"{prefix}-x4", time_ms=NOW_MS - 3 * 60 * MIN, handling=7),
    ]


# -- accepted bodies ----------------------------------------------------------------------


def test_json_array_is_ingested_and_counted(server: Server) -> None:
    events = sample_events("a")
    assert ack(server.send("acme", events)) == {"accepted": 6, "duplicates": 0, "expired": 0}
    assert totals(server, "acme") == total_of(events) == (2, 2, 319, 40, 2)
    assert totals(server, "other") == ZERO


def test_ndjson_is_ingested(server: Server) -> None:
    events = sample_events("n")
    body = b"\n" + ndjson(events[:3]) + b"\n   \n" + ndjson(events[3:]).replace(b"\n", b"\r\n")
    assert ack(post(server, "acme", body, NDJSON)) == {"accepted": 6, "duplicates": 0, "expired": 0}
    assert totals(server, "acme") == total_of(events)


@pytest.mark.parametrize(
    "content_type", ["application/x-ndjson; charset=utf-8", "application/x-ndjson"]
)
def test_ndjson_starting_with_array_line_is_ndjson(refusing: Server, content_type: str) -> None:
    body = b"[1]\n" + orjson.dumps(connected("z"))
    error = assert_client_error(post(refusing, "acme", body, {"Content-Type": content_type}))
    assert [(p["index"], p["field"]) for p in error["problems"]] == [(0, "event")]
    assert totals(refusing, "acme") == ZERO


def test_iso_times_are_accepted(server: Server) -> None:
    events: list[dict[str, object]] = [
        {**connected("i1"), "time": "2026-11-24T13:28:00Z"},
        {**closed("i2"), "time": "2026-11-24T14:28:00.500+01:00"},
    ]
    assert ack(server.send("acme", events))["accepted"] == 2
    assert totals(server, "acme", timeframe=5) == total_of(events)


def test_empty_batches(server: Server) -> None:
    zero = {"accepted": 0, "duplicates": 0, "expired": 0}
    assert ack(server.send("acme", [])) == zero
    assert ack(post(server, "acme", b"[]")) == zero
    assert ack(post(server, "acme", b"", NDJSON)) == zero
    assert ack(post(server, "acme", b"\n\n  \r\n", NDJSON)) == zero
    assert totals(server, "acme") == ZERO


# -- duplicates ---------------------------------------------------------------------------


def test_duplicates_within_a_batch_count_once(server: Server) -> None:
    a, b = closed("d-a", handling=100), connected("d-b")
    result = ack(server.send("acme", [a, b, a, dict(a), b]))
    assert result == {"accepted": 2, "duplicates": 3, "expired": 0}
    assert totals(server, "acme") == total_of([a, b])


def test_duplicates_across_batches_count_once(server: Server) -> None:
    a, b, c = closed("d-a", handling=100), connected("d-b"), closed("d-c", interactive=False)
    assert ack(server.send("acme", [a, b])) == {"accepted": 2, "duplicates": 0, "expired": 0}
    assert ack(server.send("acme", [b, c])) == {"accepted": 1, "duplicates": 1, "expired": 0}
    assert ack(post(server, "acme", ndjson([a, b, c]), NDJSON)) == {
        "accepted": 0,
        "duplicates": 3,
        "expired": 0,
    }
    assert totals(server, "acme") == total_of([a, b, c])


def test_duplicate_with_different_content_keeps_the_first(server: Server) -> None:
    first = closed("same", handling=100)
    second = closed("same", handling=5000, interactive=False)
    assert ack(server.send("acme", [first]))["accepted"] == 1
    assert ack(server.send("acme", [second]))["duplicates"] == 1
    assert totals(server, "acme") == total_of([first])


def test_event_ids_are_per_account(server: Server) -> None:
    event = closed("shared-id")
    assert ack(server.send("one", [event]))["accepted"] == 1
    assert ack(server.send("two", [event]))["accepted"] == 1
    assert totals(server, "one") == totals(server, "two") == total_of([event])


# -- atomicity and errors -----------------------------------------------------------------


def test_a_bad_event_rejects_the_whole_batch(server: Server) -> None:
    before = sample_events("pre")
    ack(server.send("acme", before))
    good = [closed("g1", handling=50), connected("g2"), closed("g3", interactive=False)]
    batch: list[object] = [
        good[0],
        {**connected("b1"), "agentId": None},
        good[1],
        {"eventId": "", "type": "closed", "time": "2026-11-24T13:00:00", "interactive": 1},
        good[2],
        {**connected("b4"), "time": NOW_MS + 10 * MIN},
    ]
    body = assert_client_error(server.send("acme", batch))  # type: ignore[arg-type]
    got = {(p["index"], p["field"]) for p in body["problems"]}
    assert got == {(1, "agentId"), (3, "eventId"), (3, "time"), (3, "interactive"), (5, "time")}
    for problem in body["problems"]:
        assert problem["message"] and problem["allowed"]
    assert [p["index"] for p in body["problems"]] == sorted(p["index"] for p in body["problems"])
    assert body["field"] == "agentId" and body["allowed"]
    assert totals(server, "acme") == total_of(before)
    # Nothing of the refused batch was stored, so its good events are new later.
    assert ack(server.send("acme", good)) == {"accepted": 3, "duplicates": 0, "expired": 0}
    assert totals(server, "acme") == total_of(before + good)


def test_a_bad_ndjson_line_rejects_the_whole_batch(server: Server) -> None:
    good = [closed("g1"), connected("g2")]
    body = orjson.dumps(good[0]) + b"\n{oops\n\n" + orjson.dumps(good[1]) + b"\n"
    error = assert_client_error(post(server, "acme", body, NDJSON))
    assert [(p["index"], p["field"]) for p in error["problems"]] == [(1, "event")]
    assert totals(server, "acme") == ZERO
    assert ack(post(server, "acme", ndjson(good), NDJSON))["accepted"] == 2


def test_future_event_is_refused(refusing: Server) -> None:
    error = assert_client_error(refusing.send("acme", [connected("f", NOW_MS + 5 * MIN + 1)]))
    assert [(p["index"], p["field"]) for p in error["problems"]] == [(0, "time")]
    assert totals(refusing, "acme") == ZERO


def test_event_five_minutes_ahead_is_accepted(server: Server) -> None:
    event = connected("f", NOW_MS + 5 * MIN)
    assert ack(server.send("acme", [event]))["accepted"] == 1
    server.set_now(NOW_MS + 5 * MIN)
    assert totals(server, "acme", timeframe=5) == total_of([event])


def test_future_limit_follows_the_server_clock(server: Server) -> None:
    event = connected("f", NOW_MS + 60 * MIN)
    assert_client_error(server.send("acme", [event]))
    server.set_now(NOW_MS + 56 * MIN)
    assert ack(server.send("acme", [event]))["accepted"] == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"this is not json", "application/json"),
        (b'{"eventId": ', "application/json"),
        (b"", "application/json"),
        (b"42", "application/json"),
        (b'"events"', "application/json"),
        (b"null", "application/json"),
        (b"true", "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[{}]\n[{}]", "application/json"),
        (b"this is not json", "text/plain"),
        (b"<events><event/></events>", "application/xml"),
        (b"this is not json", "application/x-ndjson"),
        (b"\xff\xfe\x00garbage", "application/x-ndjson"),
        (b"a=1&b=2", "application/x-www-form-urlencoded"),
        (b"this is not json", ""),
    ],
)
def test_unusable_bodies_get_a_clear_400(refusing: Server, body: bytes, content_type: str) -> None:
    response = post(refusing, "acme", body, {"Content-Type": content_type})
    error = assert_client_error(response)
    assert error["field"] and error["allowed"]
    assert totals(refusing, "acme") == ZERO


def test_wrong_content_type_is_never_a_server_error(server: Server) -> None:
    body = orjson.dumps([connected("ct")])
    for content_type in ["text/plain", "application/octet-stream", "multipart/form-data", ""]:
        response = post(server, "acme", body, {"Content-Type": content_type})
        assert response.status_code in (200, 400, 415), response.text
        assert response.headers["content-type"].startswith("application/json")
        assert set(response.json()) >= (
            {"accepted"} if response.status_code == 200 else {"error", "message"}
        )
    assert totals(server, "acme") == total_of([connected("ct")])


def test_non_object_events_are_listed(refusing: Server) -> None:
    error = assert_client_error(post(refusing, "acme", b'[1, "x", null, [], {}]'))
    fields = {(p["index"], p["field"]) for p in error["problems"]}
    assert {(0, "event"), (1, "event"), (2, "event"), (3, "event")} <= fields
    assert {p["index"] for p in error["problems"]} == {0, 1, 2, 3, 4}


def test_bad_account_id_is_400(refusing: Server) -> None:
    response = refusing.send("bad account!", [connected("a")])
    assert_client_error(response)


# -- retention ----------------------------------------------------------------------------


def test_old_events_are_acknowledged_as_expired(server: Server) -> None:
    old = [closed("old-1", NOW_MS - 2 * DAY), connected("old-2", NOW_MS - 2 * DAY - 1)]
    live = [closed("live-1", NOW_MS - 24 * 60 * MIN + MIN, handling=77)]
    assert ack(server.send("acme", old)) == {"accepted": 0, "duplicates": 0, "expired": 2}
    assert totals(server, "acme") == ZERO
    assert ack(server.send("acme", old + live)) == {"accepted": 1, "duplicates": 0, "expired": 2}
    assert totals(server, "acme") == total_of(live)
    # Expired events are not stored, so not even their ids: they stay expired.
    assert ack(server.send("acme", old)) == {"accepted": 0, "duplicates": 0, "expired": 2}


def test_events_within_retention_are_kept(server: Server) -> None:
    # 24 h 9 min old: inside the guaranteed retention of 24 h 10 min.
    event = closed("edge", NOW_MS - (24 * 60 + 9) * MIN)
    assert ack(server.send("acme", [event]))["accepted"] == 1
    assert ack(server.send("acme", [event]))["duplicates"] == 1


def rows(server: Server, account: str) -> tuple[int, int]:
    return (
        store_rows(server.store_url, "rollup", account),
        store_rows(server.store_url, "seen_event", account),
    )


def test_retention_purge(server: Server) -> None:
    old = [closed(f"p-{i}", NOW_MS - i * 7 * MIN, handling=i, agent=i % 3) for i in range(30)]
    assert ack(server.send("acme", old))["accepted"] == 30
    assert totals(server, "acme") == total_of(old)
    assert rows(server, "acme")[1] == 30

    later = NOW_MS + 2 * DAY
    server.set_now(later)
    recent = [closed("r-1", later - MIN), connected("r-2", later - 10 * MIN)]
    assert ack(server.send("acme", recent))["accepted"] == 2
    assert totals(server, "acme") == total_of(recent)
    # The old ids are gone or not, but either way a redelivery can no longer count.
    assert ack(server.send("acme", old)) == {"accepted": 0, "duplicates": 0, "expired": 30}
    assert totals(server, "acme") == total_of(recent)

    # The writer purges on start and then periodically; a restart makes it happen now.
    server.restart()
    deadline = time.monotonic() + 20
    while rows(server, "acme") != (2, 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows(server, "acme") == (2, 2)
    assert totals(server, "acme") == total_of(recent)
    assert ack(server.send("acme", recent))["duplicates"] == 2


# -- limits ---------------------------------------------------------------------------------


@pytest.fixture
def small(make_server: MakeServer) -> Server:
    return make_server(extra_args=["--max-batch-events", "10", "--max-batch-bytes", "2000"])


def test_too_many_events_is_413(small: Server) -> None:
    events = [connected(f"e{i}") for i in range(11)]
    body = assert_client_error(small.send("acme", events), 413)
    assert body["error"] == "payload_too_large"
    assert assert_client_error(post(small, "acme", ndjson(events), NDJSON), 413)
    assert totals(small, "acme") == ZERO
    assert ack(small.send("acme", events[:10]))["accepted"] == 10
    assert totals(small, "acme") == total_of(events[:10])


def test_too_many_bytes_is_413(small: Server) -> None:
    events = [closed(f"{'x' * 120}-{i}") for i in range(10)]
    body = orjson.dumps(events)
    assert len(body) > 2000
    assert_client_error(post(small, "acme", body), 413)
    assert_client_error(post(small, "acme", ndjson(events), NDJSON), 413)
    assert totals(small, "acme") == ZERO


def test_too_many_bytes_without_content_length_is_413(small: Server) -> None:
    events = [closed(f"{'x' * 120}-{i}") for i in range(10)]
    data = ndjson(events)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 256):
            yield data[start : start + 256]

    response = httpx.post(
        f"{small.base_url}/api/v1/accounts/acme/events",
        content=chunks(),
        headers=NDJSON,
        timeout=30,
    )
    assert "content-length" not in response.request.headers
    assert_client_error(response, 413)
    assert totals(small, "acme") == ZERO


def test_batch_at_the_byte_limit_is_accepted(small: Server) -> None:
    events = [connected(f"b{i}") for i in range(10)]
    body = orjson.dumps(events)
    body = body + b" " * (2000 - len(body))
    assert len(body) == 2000
    assert ack(post(small, "acme", body))["accepted"] == 10


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_overlapping_senders(server: Server) -> None:
    pool: list[dict[str, object]] = []
    for i in range(400):
        t = NOW_MS - (i % 120) * MIN
        if i % 3 == 0:
            pool.append(connected(f"ev-{i}", t, skill=i % 4, agent=i % 5))
        else:
            pool.append(
                closed(
                    f"ev-{i}",
                    t,
                    skill=i % 4 if i % 7 else None,
                    agent=i % 5 if i % 11 else None,
                    interactive=i % 2 == 0,
                    handling=i,
                )
            )
    accepted: list[int] = []
    sent: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sender(seed: int) -> None:
        rng = random.Random(seed)
        batches = [rng.sample(pool, rng.randint(1, 60)) for _ in range(12)]
        batches.append(pool[seed * 50 : (seed + 1) * 50])  # together the 8 cover the pool
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                for batch in batches:
                    if rng.random() < 0.5:
                        response = client.post("/api/v1/accounts/acme/events", json=batch)
                    else:
                        response = client.post(
                            "/api/v1/accounts/acme/events", content=ndjson(batch), headers=NDJSON
                        )
                    result = ack(response)
                    assert result["expired"] == 0
                    assert result["accepted"] + result["duplicates"] == len(batch)
                    with lock:
                        accepted.append(result["accepted"])
                        sent.append(len(batch))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(accepted) == len(pool)
    assert totals(server, "acme") == total_of(pool)

    # Per skill and per agent too.
    response = server.query("acme", timeframe=1440, skillIds="all", agentIds="all")
    body = response.json()
    per_agent = body["agentsMetrics"]["metricsPerAgent"]
    for agent in range(5):
        mine = [e for e in pool if e.get("agentId") == agent]
        assert per_agent[str(agent)] == as_metrics(total_of(mine))
    per_skill = body["skillsMetricsPerAgent"]["metricsPerSkill"]
    for skill in [-1, 0, 1, 2, 3]:
        mine = [e for e in pool if e.get("skillId", -1) == skill and "agentId" in e]
        assert per_skill[str(skill)]["metricsTotals"] == as_metrics(total_of(mine))


def test_configured_retention_is_honoured(make_server: MakeServer) -> None:
    srv = make_server(extra_args=["--retention-minutes", str(3 * 24 * 60)])
    event = closed("older", NOW_MS - 2 * DAY)
    assert ack(srv.send("acme", [event])) == {"accepted": 1, "duplicates": 0, "expired": 0}
    assert ack(srv.send("acme", [event])) == {"accepted": 0, "duplicates": 1, "expired": 0}
    assert ack(srv.send("acme", [closed("oldest", NOW_MS - 4 * DAY)]))["expired"] == 1


def test_other_methods_get_json_errors(refusing: Server) -> None:
    response = httpx.get(f"{refusing.base_url}/api/v1/accounts/acme/events", timeout=30)
    assert_client_error(response, 405)
