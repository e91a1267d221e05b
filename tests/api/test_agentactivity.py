"""Agent Activity over real HTTP, on both stores and, on PostgreSQL, two processes; every
answer checked against tests/oracle_agents.py (written from AGENTS.md alone).

Random agent timelines are sent out of order in batches, with repeated deliveries (some
carrying other values: the first delivery wins), ties in time, ISO times, events ahead
of the clock and events already older than the retention. The server clock is pinned
and moved to check the exact window, to the millisecond.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import oracle_agents
from tests.auth.keyhelp import bearer, create_key
from tests.conftest import ENGINES, MIN, NOW_MS, Server, store_rows
from tests.oracle_agents import RETENTION_MS, agentactivity, same, stored

ACCOUNT = "agents"
METHOD = "/operations/api/account/{accountId}/agentactivity"
DAY = 24 * 60 * MIN
AGENTS = [1, 2, 3, 17, -7, 4_000_000_001, 2**63 - 1]
ID_PREFIXES = ["a", "B", "é", "Z", "_", "0", "~"]
"""eventIds whose order by code point differs from a locale's (B < Z < _ < a < é)."""
REASONS: list[object] = [None, "r1", "10", "9", 2642559712, "2642559712", "é-lunch"]
"""Away reasons; an integer one is the same reason as its decimal string."""
STATES = ["online"] * 7 + ["backSoon"] * 3 + ["away"] * 6 + ["loggedOut"] * 4
Event = dict[str, Any]


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def url(server: Server, account: str = ACCOUNT) -> str:
    return server.base_url + METHOD.replace("{accountId}", account)


def get(server: Server, params: Mapping[str, object], account: str = ACCOUNT) -> httpx.Response:
    query = {k: str(v) for k, v in {"v": 1, **params}.items() if v is not None}
    return httpx.get(url(server, account), params=query, timeout=30)


def post(server: Server, body: object, account: str = ACCOUNT) -> httpx.Response:
    return httpx.post(url(server, account), json=body, timeout=30)


def answer(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def state_event(event_id: str, at: int, agent: int, state: str, **fields: Any) -> Event:
    return {"eventId": event_id, "type": "agentState", "time": at, "agentId": agent,
            "state": state, **fields}  # fmt: skip


# -- random timelines -----------------------------------------------------------------------


def random_time(rng: random.Random, now: int) -> int:
    if rng.random() < 0.4:  # the recent past, for the short timeframes
        ms = now - rng.randrange(-4 * MIN, 40 * MIN)
    else:  # the whole retention and a little more (those are expired)
        ms = now - rng.randrange(-4 * MIN, 1500 * MIN)
    return ms - ms % 30_000 if rng.random() < 0.3 else ms  # on a grid: ties in time


def agent_event(rng: random.Random, n: int, agent: int, now: int) -> Event:
    event: Event = {
        "eventId": f"{rng.choice(ID_PREFIXES)}{n}",
        "type": "agentState",
        "time": random_time(rng, now),
        "agentId": agent,
        "state": rng.choice(STATES),
    }
    if event["state"] == "away" and (reason := rng.choice(REASONS)) is not None:
        event["reasonId"] = reason
    if rng.random() < 0.8:
        event["activeChats"] = rng.choice([None, 0, 0, 1, 2, 3, 4])
    if rng.random() < 0.6:
        event["maxChats"] = rng.choice([None, 1, 2, 3])
    if rng.random() < 0.1:
        event["skillId"] = 5  # allowed on every type, unused here
    if rng.random() < 0.1:
        moment = datetime.fromtimestamp(event["time"] / 1000, UTC)
        event["time"] = moment.isoformat(timespec="milliseconds")
    return event


def make_events(rng: random.Random, count: int, now: int = NOW_MS) -> list[Event]:
    events: list[Event] = []
    for n in range(count):
        event = agent_event(rng, n, rng.choice(AGENTS), now)
        if events and rng.random() < 0.15:  # at the very time of another of the agent's
            tied = rng.choice(events)
            event["agentId"], event["time"] = tied["agentId"], tied["time"]
        events.append(event)
    # Other types beside them count for other methods only.
    for n in range(count // 10):
        events.append(
            {"eventId": f"c{n}", "type": "connected", "time": now - n * MIN, "agentId": 1}
        )
    return events


def deliveries(rng: random.Random, events: list[Event]) -> list[Event]:
    """Every event once, plus repeats (half of them with another state), shuffled."""
    out = list(events)
    for event in rng.sample(events, len(events) // 8):
        again = dict(event)
        if rng.random() < 0.5 and again["type"] == "agentState":
            again.pop("reasonId", None)
            again["state"] = "loggedOut" if again["state"] != "loggedOut" else "online"
        out.append(again)
    rng.shuffle(out)
    return out


def send_all(server: Server, account: str, sent: list[Event], size: int = 150) -> dict[str, int]:
    totals = {"accepted": 0, "duplicates": 0, "expired": 0}
    for start in range(0, len(sent), size):
        response = server.send(account, sent[start : start + size])
        assert response.status_code == 200, response.text
        for key in totals:
            totals[key] += response.json()[key]
    return totals


class Loaded:
    def __init__(self, server: Server, events: Sequence[Mapping[str, Any]]) -> None:
        self.server = server
        self.events = events
        """What the store keeps, first deliveries only (see oracle_agents.stored)."""

    def check(self, params: dict[str, object], now: int = NOW_MS) -> Any:
        expected = agentactivity(self.events, now, params)
        got = answer(get(self.server, params))
        same(got, expected)
        return got


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, store_engine: str) -> Iterator[Loaded]:
    server = Server(tmp_path_factory.mktemp("agents"), engine=store_engine).start()
    rng = random.Random(14)
    sent = deliveries(rng, make_events(rng, 700))
    acks = send_all(server, ACCOUNT, sent)
    kept = stored([(NOW_MS, sent)])
    expired = sum(1 for e in sent if oracle_agents.event_time(e) < NOW_MS - RETENTION_MS)
    assert expired > 0
    assert acks == {
        "accepted": len(kept),
        "duplicates": len(sent) - len(kept) - expired,
        "expired": expired,
    }
    yield Loaded(server, kept)
    server.stop()


# -- random queries ---------------------------------------------------------------------------


def random_query(rng: random.Random) -> dict[str, object]:
    timeframe = rng.choice([1, 5, 7, 20, 60, 61, 120, 300, 1440, rng.randint(1, 1440)])
    divisors = [i for i in range(5, timeframe + 1) if timeframe % i == 0]
    interval = rng.choice(divisors) if divisors and rng.random() < 0.6 else None
    pick = rng.random()
    if pick < 0.3:
        agents = rng.choice(["all", "ALL", "All"])
    else:
        chosen = rng.sample(AGENTS, rng.randint(1, 4)) + rng.sample([5, 99, -1, 2**62], 1)
        chosen += rng.sample(chosen, 1)  # a duplicate
        agents = rng.choice([",", ", ", " ,"]).join(str(a) for a in chosen)
    return {"timeframe": timeframe, "agentIds": agents, "interval": interval}


@pytest.mark.parametrize("seed", range(30))
def test_random_queries_get_and_post(loaded: Loaded, seed: int) -> None:
    params = random_query(random.Random(seed))
    got = loaded.check(params)
    present = {k: v for k, v in params.items() if v is not None}
    as_strings = {"v": "1", **{k: str(v) for k, v in present.items()}}
    assert answer(post(loaded.server, as_strings)) == got
    as_numbers: dict[str, object] = {"v": 1, **present}
    if isinstance(params["agentIds"], str) and params["agentIds"].lower() != "all":
        as_numbers["agentIds"] = [int(a) for a in str(params["agentIds"]).split(",")]
    assert answer(post(loaded.server, as_numbers)) == got


def test_the_reference_post_body(loaded: Loaded) -> None:
    body = {"timeframe": "1440", "v": "1", "agentIds": "1,2,1", "interval": "1440"}
    expected = agentactivity(loaded.events, NOW_MS, body)
    assert list(expected["agentsMetrics"]["metricsPerAgent"]) == ["1", "2"]
    same(answer(post(loaded.server, body)), expected)


def test_a_long_agent_list_in_a_post_body(loaded: Loaded) -> None:
    rng = random.Random(5)
    ids = [*rng.sample(range(10**9, 10**10), 3000), *AGENTS[:4]]
    rng.shuffle(ids)
    body = {"timeframe": 1440, "v": 1, "agentIds": ",".join(map(str, ids)), "interval": 360}
    same(answer(post(loaded.server, body)), agentactivity(loaded.events, NOW_MS, body))
    body["agentIds"] = ids
    same(answer(post(loaded.server, body)), agentactivity(loaded.events, NOW_MS, body))


def test_unknown_parameters_are_ignored(loaded: Loaded) -> None:
    params = {"timeframe": 60, "agentIds": "all", "interval": 30}
    got = loaded.check(params)
    for extra in ({"skillIds": "1,2"}, {"skillIds": "not-ids"}, {"foo": "bar", "groupIds": "x"}):
        assert answer(get(loaded.server, {**params, **extra})) == got
        assert answer(post(loaded.server, {"v": 1, **params, **extra})) == got


# -- the clock --------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [1, 999, 1000, 29_999, MIN, MIN + 1, 3 * MIN + 17, -1, -5 * MIN])
def test_the_window_moves_with_the_clock(loaded: Loaded, offset: int) -> None:
    now = NOW_MS + offset
    loaded.server.set_now(now)
    try:
        for params in [
            {"timeframe": 1, "agentIds": "all"},
            {"timeframe": 5, "agentIds": "all", "interval": 5},
            {"timeframe": 60, "agentIds": "1,2,3,17", "interval": 15},
            {"timeframe": 1440, "agentIds": "all", "interval": 60},
        ]:
            loaded.check(params, now)
    finally:
        loaded.server.set_now(NOW_MS)


def test_exact_window_edges(loaded: Loaded) -> None:
    # Online 5 s (t0 .. t1), then logged out: a one-minute window slid over its end.
    t0 = NOW_MS - 10 * MIN + 123
    t1 = t0 + 5000
    events = [
        {"eventId": "on", "type": "agentState", "time": t0, "agentId": 8, "state": "online",
         "activeChats": 1, "maxChats": 1},
        {"eventId": "off", "type": "agentState", "time": t1, "agentId": 8, "state": "loggedOut"},
    ]  # fmt: skip
    server = loaded.server
    assert server.send("edges", events).json()["accepted"] == 2
    params = {"timeframe": 1, "agentIds": "8"}
    try:
        for now, seconds in [(t1 + MIN - 4000, 4), (t1 + MIN - 3999, 3), (t1 + MIN - 1, 0)]:
            server.set_now(now)
            body = answer(get(server, params, "edges"))
            same(body, agentactivity(events, now, params))
            online = body["agentsMetrics"]["metricsPerAgent"]["8"][0]["value"]
            assert online == {"total": seconds, "chatting": seconds, "notChatting": 0,
                              "chattingInMaxConcurrency": seconds}  # fmt: skip
        server.set_now(t1 + MIN)  # the window starts where the agent logged out
        assert answer(get(server, params, "edges"))["agentsMetrics"]["metricsPerAgent"] == {}
    finally:
        server.set_now(NOW_MS)


def test_the_reference_example_of_intervals(loaded: Loaded) -> None:
    # now 08:07, T=20, I=10: timestamps 08:10, 08:00, 07:50 over 08:00-08:07, 07:50-08:00,
    # 07:47-07:50. An agent online all along shows 420, 600 and 180 seconds.
    now = NOW_MS - (13 * 60 + 29 - 8 * 60 - 7) * MIN
    server = loaded.server
    server.set_now(now)
    try:
        event = {"eventId": "x", "type": "agentState", "time": now - 3 * 60 * MIN,
                 "agentId": 4, "state": "online"}  # fmt: skip
        assert server.send("ref", [event]).json()["accepted"] == 1
        body = answer(get(server, {"timeframe": 20, "interval": 10, "agentIds": "all"}, "ref"))
        same(body, agentactivity([event], now, {"timeframe": 20, "interval": 10, "agentIds": "4"}))
        stamps = [i["timestamp"] for i in body["metricsByIntervals"]]
        assert stamps == [now + 3 * MIN, now - 7 * MIN, now - 17 * MIN]
        totals = [
            i["metricsData"]["agentsMetrics"]["metricsPerAgent"]["4"][3]["value"]["total"]
            for i in body["metricsByIntervals"]
        ]
        assert totals == [420, 600, 180]
    finally:
        server.set_now(NOW_MS)


# -- parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"timeframe": 60}, "agentIds"),
        ({"timeframe": 60, "agentIds": ""}, "agentIds"),
        ({"timeframe": 60, "agentIds": "x"}, "agentIds"),
        ({"timeframe": 60, "agentIds": "1,,2"}, "agentIds"),
        ({"timeframe": 60, "agentIds": "1.5"}, "agentIds"),
        ({"timeframe": 60, "agentIds": str(2**63)}, "agentIds"),
        ({"timeframe": 60, "agentIds": "all,1"}, "agentIds"),
        ({"timeframe": 60, "agentIds": "  "}, "agentIds"),
        ({"timeframe": 60, "agentIds": "null"}, "agentIds"),
        ({"agentIds": "all"}, "timeframe"),
        ({"timeframe": 0, "agentIds": "all"}, "timeframe"),
        ({"timeframe": 1441, "agentIds": "all"}, "timeframe"),
        ({"timeframe": "abc", "agentIds": "all"}, "timeframe"),
        ({"timeframe": 60, "agentIds": "all", "interval": 4}, "interval"),
        ({"timeframe": 60, "agentIds": "all", "interval": 7}, "interval"),
        ({"timeframe": 60, "agentIds": "all", "interval": 120}, "interval"),
        ({"timeframe": 60, "agentIds": "all", "interval": "x"}, "interval"),
        ({"timeframe": 60, "agentIds": "all", "v": 2}, "v"),
        ({"timeframe": 60, "agentIds": "all", "v": "x"}, "v"),
        ({"timeframe": 60, "agentIds": "all", "v": None}, "v"),
    ],
)
def test_invalid_parameters_name_the_field(
    loaded: Loaded, params: dict[str, object], field: str
) -> None:
    response = get(loaded.server, params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and body["field"] == field and body["allowed"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeframe": 60, "v": 1}, "agentIds"),
        ({"timeframe": 60, "v": 1, "agentIds": None}, "agentIds"),
        ({"timeframe": 60, "v": 1, "agentIds": ""}, "agentIds"),
        ({"timeframe": 60, "v": 1, "agentIds": []}, "agentIds"),
        ({"timeframe": 60, "v": 1, "agentIds": ["1"]}, "agentIds"),
        ({"timeframe": 60, "v": 1, "agentIds": {"a": 1}}, "agentIds"),
        ({"timeframe": None, "v": 1, "agentIds": "all"}, "timeframe"),
        ({"timeframe": 60.5, "v": 1, "agentIds": "all"}, "timeframe"),
        ({"timeframe": "60", "v": "1", "agentIds": "all", "interval": "25"}, "interval"),
        ({"timeframe": "60", "agentIds": "all"}, "v"),
    ],
)
def test_invalid_post_bodies_name_the_field(
    loaded: Loaded, body: dict[str, object], field: str
) -> None:
    response = post(loaded.server, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] == "invalid_request" and error["field"] == field and error["allowed"]


def test_an_account_without_data(loaded: Loaded) -> None:
    for params in [
        {"timeframe": 60, "agentIds": "all"},
        {"timeframe": 60, "agentIds": "1,2"},
        {"timeframe": 20, "agentIds": "all", "interval": 10},
    ]:
        body = answer(get(loaded.server, params, "nobody"))
        same(body, agentactivity([], NOW_MS, params))
    assert body["agentsMetrics"] == {"metricsPerAgent": {}, "metricsTotals": []}
    assert len(body["metricsByIntervals"]) == 3


def test_ties_in_time_follow_event_id_code_points(loaded: Loaded) -> None:
    # At the same time, the event whose id is greater by code point is the one in force:
    # B < a, z < é, Z < _, 10 < 9 (a locale's collation would order some the other way).
    t0 = NOW_MS - 30 * MIN
    pairs = [("a", "away", "B", "online"), ("é", "online", "z", "backSoon"),
             ("_1", "online", "Z1", "away"), ("9", "online", "10", "away")]  # fmt: skip
    events = []
    for agent, (winner, state, loser, other) in enumerate(pairs, start=1):
        events += [state_event(winner, t0, agent, state), state_event(loser, t0, agent, other)]
    assert loaded.server.send("ties", events).json()["accepted"] == 8
    params = {"timeframe": 60, "agentIds": "all"}
    body = answer(get(loaded.server, params, "ties"))
    same(body, agentactivity(events, NOW_MS, params))
    in_force = {
        agent: [e["id"] for e in entries[:3] if e["value"]["total"]]
        for agent, entries in body["agentsMetrics"]["metricsPerAgent"].items()
    }
    assert in_force == {"1": [4], "2": [2], "3": [2], "4": [2]}


# -- freshness, late events, retention ----------------------------------------------------------


def test_acknowledged_events_are_answered_at_once_in_their_place(loaded: Loaded) -> None:
    # Each event, late or not, is in the very next answer (on PostgreSQL, whichever
    # process serves it); answers for the same query must change accordingly.
    rng = random.Random(7)
    sent: list[Event] = []
    params = {"timeframe": 120, "agentIds": "all", "interval": 30}
    same(answer(get(loaded.server, params, "fresh")), agentactivity([], NOW_MS, params))
    for n in range(25):
        event = agent_event(rng, n, rng.choice([1, 2, 3]), NOW_MS)
        event["time"] = NOW_MS - rng.randrange(0, 150 * MIN)  # mostly out of order
        ack = loaded.server.send("fresh", [event])
        assert ack.status_code == 200 and ack.json()["accepted"] == 1, ack.text
        sent.append(event)
        expected = agentactivity(sent, NOW_MS, params)
        same(answer(get(loaded.server, params, "fresh")), expected, f"after {n + 1} events")
        if n % 5 == 0:
            same(answer(post(loaded.server, {"v": 1, **params}, "fresh")), expected)


def test_late_events_under_a_moving_clock(loaded: Loaded) -> None:
    # Past intervals answered once must still change when an event before their end
    # arrives: each step asks, sends late events, asks again, then the clock moves on.
    rng = random.Random(21)
    server, sent, now = loaded.server, list[Event](), NOW_MS
    queries = [
        {"timeframe": 60, "agentIds": "all", "interval": 5},
        {"timeframe": 1440, "agentIds": "1,2", "interval": 60},
    ]
    try:
        for step in range(10):
            for params in queries:
                same(answer(get(server, params, "moving")), agentactivity(sent, now, params))
            batch = [agent_event(rng, step * 10 + i, rng.choice([1, 2, 3]), now) for i in range(3)]
            for event in batch:
                event["time"] = now - rng.randrange(0, 90 * MIN)
            assert server.send("moving", batch).json()["accepted"] == 3
            sent += batch
            for params in queries:
                same(answer(get(server, params, "moving")), agentactivity(sent, now, params))
            now += rng.randrange(1, 7 * MIN)
            server.set_now(now)
    finally:
        server.set_now(NOW_MS)


def test_a_repeated_delivery_changes_nothing(loaded: Loaded) -> None:
    first = {"eventId": "once", "type": "agentState", "time": NOW_MS - 30 * MIN,
             "agentId": 1, "state": "away", "reasonId": "r1"}  # fmt: skip
    assert loaded.server.send("repeat", [first]).json()["accepted"] == 1
    params = {"timeframe": 60, "agentIds": "1"}
    before = answer(get(loaded.server, params, "repeat"))
    for again in [first, {**first, "state": "online", "reasonId": None}]:
        ack = loaded.server.send("repeat", [again]).json()
        assert (ack["accepted"], ack["duplicates"]) == (0, 1)
        assert answer(get(loaded.server, params, "repeat")) == before
    same(before, agentactivity([first], NOW_MS, params))


def purged(server: Server, account: str, agents: int) -> bool:
    """Whether retention has removed the account's old event ids and its old timeline rows
    (table ``agent_state``), but for at most the state in force at the cutoff per agent."""
    return (
        store_rows(server.store_url, "seen_event", account) == 0
        and store_rows(server.store_url, "agent_state", account) <= agents
    )


def test_retention_carries_the_state_in_force(server: Server) -> None:
    old = [
        state_event("a1", NOW_MS - 2 * 60 * MIN, 1, "online", activeChats=1),  # never leaves
        state_event("b1", NOW_MS - 3 * 60 * MIN, 2, "away", reasonId="r"),
        state_event("b2", NOW_MS - 2 * 60 * MIN, 2, "loggedOut"),  # gone before the cutoff
        state_event("c1", NOW_MS - 3 * 60 * MIN, 3, "online"),
        state_event("c2", NOW_MS - 60 * MIN, 3, "away", reasonId="r"),  # the newest purged
    ]
    assert server.send("ret", old).json()["accepted"] == 5
    later = NOW_MS + 2 * DAY
    server.stop()
    server.set_now(later)
    server.start()  # the writer purges at start
    deadline = time.monotonic() + 20
    while not purged(server, "ret", 3) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert purged(server, "ret", 3)
    # Redelivered now, the same events are expired and change nothing.
    assert server.send("ret", old).json() == {"accepted": 0, "duplicates": 0, "expired": 5}
    for params in [
        {"timeframe": 1440, "agentIds": "all"},
        {"timeframe": 1440, "agentIds": "1,2,3", "interval": 720},
        {"timeframe": 10, "agentIds": "all", "interval": 5},
    ]:
        same(answer(get(server, params, "ret")), agentactivity(old, later, params))
    whole = answer(get(server, {"timeframe": 1440, "agentIds": "all"}, "ret"))
    agents = whole["agentsMetrics"]["metricsPerAgent"]
    assert sorted(agents) == ["1", "3"]
    assert agents["1"][0]["value"]["chatting"] == 86400
    assert agents["3"][2]["reasons"][0] == {"id": "r", "value": agents["3"][2]["value"]}
    # And the timeline goes on from the carried state.
    new = state_event("a2", later - 10 * MIN, 1, "backSoon")
    assert server.send("ret", [new]).json()["accepted"] == 1
    params = {"timeframe": 60, "agentIds": "all", "interval": 15}
    same(answer(get(server, params, "ret")), agentactivity([*old, new], later, params))


# -- around the method ----------------------------------------------------------------------------


def test_metrics_count_agentactivity_requests(loaded: Loaded) -> None:
    loaded.check({"timeframe": 5, "agentIds": "all"})
    answer(post(loaded.server, {"timeframe": 5, "v": 1, "agentIds": "all"}))
    text = httpx.get(f"{loaded.server.base_url}/metrics", timeout=30).text
    endpoint = f'endpoint="{METHOD}"'
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("engactivity_http_requests_total{") and endpoint in line
    ]
    assert counted, text[:2000]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in counted) >= 2


def test_openapi_lists_the_method(loaded: Loaded) -> None:
    paths = httpx.get(f"{loaded.server.base_url}/openapi.json", timeout=30).json()["paths"]
    assert METHOD in paths, sorted(paths)
    assert {"get", "post"} <= set(paths[METHOD])
    names = {p["name"] for p in paths[METHOD]["get"]["parameters"]}
    assert {"accountId", "timeframe", "agentIds", "interval", "v"} <= names


def test_keys_guard_the_method(tmp_path: Path, store_engine: str) -> None:
    server = Server(tmp_path, engine=store_engine, workers=1).start()
    try:
        read = create_key(server.store_url, "locked", "read", kind="bearer")
        write = create_key(server.store_url, "locked", "write", kind="bearer")
        other = create_key(server.store_url, "other", "read", kind="bearer")
        event = state_event("k", NOW_MS - MIN, 9, "online")
        posted = httpx.post(f"{server.base_url}/api/v1/accounts/locked/events", json=[event],
                            headers=bearer(write), timeout=30)  # fmt: skip
        assert posted.status_code == 200, posted.text
        params = {"timeframe": "60", "v": "1", "agentIds": "9"}
        for headers, status in [({}, 401), (bearer(write), 403), (bearer(other), 403)]:
            refused = httpx.get(url(server, "locked"), params=params, headers=headers)
            assert refused.status_code == status, (headers, refused.text)
        for served in [
            httpx.get(url(server, "locked"), params=params, headers=bearer(read)),
            httpx.post(url(server, "locked"), json=params, headers=bearer(read)),
        ]:
            assert served.status_code == 200, served.text
            same(served.json(), agentactivity([event], NOW_MS, params))
    finally:
        server.stop()
