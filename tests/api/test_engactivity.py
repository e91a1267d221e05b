"""The engactivity query API over real HTTP, checked against tests/oracle.py.

One server per module holds a realistic day of events for account ``acme`` (skills with
and without a skill id, chats with and without an agent, events on and 1 ms around bucket
and interval edges); its clock stays at NOW_MS. Tests that move the clock or need special
flags start their own server.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import oracle
from tests.conftest import ENGINES, MIN, NOW_MS, Server

B = 5 * MIN
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
ZERO = dict.fromkeys(oracle.METRIC_KEYS, 0)
MakeServer = Callable[..., Server]
Event = dict[str, Any]

ACCOUNT = "acme"
SKILLS: list[int | None] = [None, -1, 1, 2, 15, 777, 2**62, INT64_MIN]
AGENTS: list[int] = [3, 4, 100, 2**40, INT64_MAX, 0]
TIMEFRAMES = [1, 4, 5, 6, 7, 14, 20, 59, 60, 61, 360, 1200, 1439, 1440]


def path(account: str) -> str:
    return f"/operations/api/account/{account}/engactivity"


def make_event(
    rng: random.Random, n: int, time_ms: int, prefix: str = "ev", iso: bool = False
) -> Event:
    kind = rng.choice(["connected", "closed", "closed"])
    skill = rng.choice(SKILLS)
    agent: int | None = rng.choice(AGENTS)
    if kind == "closed" and rng.random() < 0.3:
        agent = None
    event: Event = {"eventId": f"{prefix}-{n}", "type": kind, "time": time_ms}
    if iso:
        moment = datetime.fromtimestamp(time_ms // 1000, UTC)
        event["time"] = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{time_ms % 1000:03d}Z"
    if skill is not None or rng.random() < 0.5:
        event["skillId"] = skill  # sometimes an explicit null
    if agent is not None:
        event["agentId"] = agent
    if kind == "closed":
        event["interactive"] = rng.random() < 0.6
        if rng.random() < 0.8:
            event["handlingTime"] = rng.randint(0, 3000)
    return event


def edge_times(now: int) -> list[int]:
    """Times on and 1 ms around the edges of the spans and intervals the tests ask for."""
    edges: set[int] = set()
    for timeframe in TIMEFRAMES:
        first, last = oracle.first_last(now, timeframe)
        edges.update({first * B, now - timeframe * MIN})
        divisors = [d for d in range(5, timeframe + 1) if timeframe % d == 0]
        for interval in divisors[:3] + divisors[-2:]:
            edges.update(iv.timestamp for iv in oracle.intervals(now, timeframe, interval))
    last = now // B
    edges.update({last * B, (last + 1) * B, now})
    out: list[int] = []
    for edge in sorted(edges):
        out += [edge - 1, edge, edge + 1]
    return [t for t in out if now - 1445 * MIN <= t <= now + 4 * MIN]


def day_of_events(now: int, seed: int, count: int, prefix: str) -> list[Event]:
    rng = random.Random(seed)
    times = [now - rng.randint(-4 * MIN, 1445 * MIN) for _ in range(count)]
    times += edge_times(now)
    return [make_event(rng, n, t, prefix, iso=rng.random() < 0.1) for n, t in enumerate(times)]


def ingest(server: Server, account: str, events: list[Event], chunk: int = 1000) -> None:
    for start in range(0, len(events), chunk):
        response = server.send(account, events[start : start + chunk])
        assert response.status_code == 200, response.text


@dataclass
class Loaded:
    server: Server
    client: httpx.Client
    events: list[Event]

    def get(self, account: str = ACCOUNT, /, **params: object) -> httpx.Response:
        params.setdefault("v", 1)
        sent = {k: str(v) for k, v in params.items() if v is not None}
        return self.client.get(path(account), params=sent)

    def post(self, body: object, account: str = ACCOUNT, **query: object) -> httpx.Response:
        return self.client.post(
            path(account), json=body, params={k: str(v) for k, v in query.items()}
        )

    def check(self, params: dict[str, object], account: str = ACCOUNT, now: int = NOW_MS) -> Any:
        response = self.get(account, **params)
        assert response.status_code == 200, (params, response.text)
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        events = self.events if account == ACCOUNT else []
        expected = oracle.expected_body(events, now, params)
        oracle.assert_same_body(body, expected, params)
        return body


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    return engine


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, store_engine: str) -> Iterator[Loaded]:
    server = Server(tmp_path_factory.mktemp("engactivity"), engine=store_engine).start()
    events = day_of_events(NOW_MS, 20261124, 1500, "acme")
    # a duplicate delivery is counted once
    events_sent = [*events, *events[:25]]
    ingest(server, ACCOUNT, events_sent)
    with server.client() as client:
        yield Loaded(server, client, events)
    server.stop()


# -- whole-span and interval answers against the oracle ---------------------------------------


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
def test_account_totals(loaded: Loaded, timeframe: int) -> None:
    body = loaded.check({"timeframe": timeframe})
    assert list(body) == ["metricsTotals"]
    assert list(body["metricsTotals"]) == list(oracle.METRIC_KEYS)


def test_data_is_really_there(loaded: Loaded) -> None:
    body = loaded.check({"timeframe": 1440})
    assert body["metricsTotals"]["connectedEngagements"] > 100
    assert body["metricsTotals"]["totalNonInteractiveChats"] > 100


@pytest.mark.parametrize(
    ("timeframe", "interval"),
    [
        (5, 5),
        (7, 7),
        (14, 7),
        (20, 10),
        (20, 5),
        (60, 15),
        (60, 60),
        (61, 61),
        (360, 45),
        (1200, 600),
        (1440, 9),
        (1440, 60),
        (1440, 1440),
    ],
)
def test_account_totals_by_interval(loaded: Loaded, timeframe: int, interval: int) -> None:
    body = loaded.check({"timeframe": timeframe, "interval": interval})
    assert list(body) == ["metricsByIntervals", "metricsTotals"]


FILTERS: list[tuple[str | None, str | None]] = [
    ("all", None),
    ("ALL", None),
    ("2", None),
    ("-1", None),
    ("1,2,15", None),
    (" 2 , 15 ,2", None),
    (f"{2**62},{INT64_MIN},999", None),
    ("424242", None),
    (None, "all"),
    (None, "All"),
    (None, "3"),
    (None, f"3,4,{INT64_MAX}"),
    (None, "0,-1,55"),
    ("all", "all"),
    ("all", "3"),
    ("2", "all"),
    ("-1,2", "4,100"),
    ("15", f"{2**40}"),
    ("424242", "424242"),
]


@pytest.mark.parametrize(("skill_ids", "agent_ids"), FILTERS)
@pytest.mark.parametrize(
    ("timeframe", "interval"), [(60, None), (1440, None), (20, 10), (1440, 240)]
)
def test_filters(
    loaded: Loaded,
    skill_ids: str | None,
    agent_ids: str | None,
    timeframe: int,
    interval: int | None,
) -> None:
    params: dict[str, object] = {
        "timeframe": timeframe,
        "skillIds": skill_ids,
        "agentIds": agent_ids,
    }
    if interval is not None:
        params["interval"] = interval
    body = loaded.check({k: v for k, v in params.items() if v is not None})
    keys = [k for k in body if k != "metricsByIntervals"]
    expected_keys = (["skillsMetricsPerAgent"] if skill_ids else []) + (
        ["agentsMetrics"] if agent_ids else []
    )
    assert keys == expected_keys


def test_skill_totals_include_agentless_chats(loaded: Loaded) -> None:
    body = loaded.check({"timeframe": 1440, "skillIds": "all"})
    per_skill = body["skillsMetricsPerAgent"]["metricsPerSkill"]
    assert "-1" in per_skill  # events without a skill
    exceeded = False
    for entry in per_skill.values():
        agents_sum = sum(m["totalNonInteractiveChats"] for m in entry["metricsPerAgent"].values())
        assert entry["metricsTotals"]["totalNonInteractiveChats"] >= agents_sum
        exceeded |= entry["metricsTotals"]["totalNonInteractiveChats"] > agents_sum
    assert exceeded, "the data set should hold agentless chats"
    both = loaded.check({"timeframe": 1440, "skillIds": "all", "agentIds": "all"})
    assert both["skillsMetricsPerAgent"]["metricsTotals"] == both["agentsMetrics"]["metricsTotals"]


def test_interval_totals_sum_to_whole_span(loaded: Loaded) -> None:
    body = loaded.check({"timeframe": 1440, "interval": 60, "skillIds": "all"})
    whole = body["skillsMetricsPerAgent"]["metricsTotals"]
    for key in oracle.METRIC_KEYS:
        parts = [
            i["metricsData"]["skillsMetricsPerAgent"]["metricsTotals"][key]
            for i in body["metricsByIntervals"]
        ]
        assert sum(parts) == whole[key]


# -- the reference's examples, shapes exactly --------------------------------------------------


REF_ACCOUNT = "ref-1"


def m(a: int, b: int, c: int, d: int, e: int) -> dict[str, int]:
    return dict(zip(oracle.METRIC_KEYS, (a, b, c, d, e), strict=True))


@pytest.fixture(scope="module")
def ref_events(loaded: Loaded) -> list[Event]:
    t = NOW_MS - 2 * MIN
    events: list[Event] = [
        {
            "eventId": "r1",
            "type": "closed",
            "time": t,
            "skillId": 2,
            "agentId": 3,
            "interactive": True,
            "handlingTime": 12,
        },
        {
            "eventId": "r2",
            "type": "closed",
            "time": t,
            "skillId": 2,
            "agentId": 3,
            "interactive": False,
            "handlingTime": 5,
        },
        {
            "eventId": "r3",
            "type": "closed",
            "time": t - 10 * MIN,
            "skillId": 2,
            "agentId": 3,
            "interactive": False,
            "handlingTime": 8,
        },
        {"eventId": "r4", "type": "connected", "time": t, "skillId": 2, "agentId": 3},
        {"eventId": "r5", "type": "connected", "time": t, "skillId": 2, "agentId": 3},
        {"eventId": "r6", "type": "connected", "time": t - 10 * MIN, "skillId": 2, "agentId": 3},
    ]
    ingest(loaded.server, REF_ACCOUNT, events)
    return events


def test_reference_skill_2(loaded: Loaded, ref_events: list[Event]) -> None:
    response = loaded.get(REF_ACCOUNT, timeframe=5, skillIds=2)
    metrics = m(1, 1, 12, 5, 2)
    oracle.assert_same_body(
        response.json(),
        {
            "skillsMetricsPerAgent": {
                "metricsPerSkill": {
                    "2": {"metricsPerAgent": {"3": metrics}, "metricsTotals": metrics}
                },
                "metricsTotals": metrics,
            }
        },
    )


def test_reference_all_skills_agent_3(loaded: Loaded, ref_events: list[Event]) -> None:
    response = loaded.get(REF_ACCOUNT, timeframe=60, skillIds="all", agentIds=3)
    metrics = m(1, 2, 12, 13, 3)
    oracle.assert_same_body(
        response.json(),
        {
            "skillsMetricsPerAgent": {
                "metricsPerSkill": {
                    "2": {"metricsPerAgent": {"3": metrics}, "metricsTotals": metrics}
                },
                "metricsTotals": metrics,
            },
            "agentsMetrics": {"metricsPerAgent": {"3": metrics}, "metricsTotals": metrics},
        },
    )


def test_reference_account_level(loaded: Loaded, ref_events: list[Event]) -> None:
    response = loaded.get(REF_ACCOUNT, timeframe=60)
    oracle.assert_same_body(response.json(), {"metricsTotals": m(1, 2, 12, 13, 3)})


def test_reference_no_data_for_ids(loaded: Loaded, ref_events: list[Event]) -> None:
    response = loaded.get(REF_ACCOUNT, timeframe=60, skillIds=5, agentIds=9)
    assert response.status_code == 200
    oracle.assert_same_body(
        response.json(),
        {
            "skillsMetricsPerAgent": {"metricsPerSkill": {}, "metricsTotals": ZERO},
            "agentsMetrics": {"metricsPerAgent": {}, "metricsTotals": ZERO},
        },
    )
    assert response.text.count("{}") == 2


def _interval_body(data: list[dict[str, Any]], whole: dict[str, Any]) -> dict[str, Any]:
    e0 = (NOW_MS // B + 1) * B
    stamps = [e0, e0 - 600 * MIN, e0 - 1200 * MIN]
    return {
        "metricsByIntervals": [
            {"timestamp": ts, "metricsData": d} for ts, d in zip(stamps, data, strict=True)
        ],
        **whole,
    }


def test_reference_agent_2_by_interval(loaded: Loaded, ref_events: list[Event]) -> None:
    # the reference's answer for agentIds with timeframe=1200&interval=600 (here: agent 3)
    response = loaded.get(REF_ACCOUNT, timeframe=1200, interval=600, agentIds=3)
    data = {
        "agentsMetrics": {
            "metricsPerAgent": {"3": m(1, 2, 12, 13, 3)},
            "metricsTotals": m(1, 2, 12, 13, 3),
        }
    }
    empty = {"agentsMetrics": {"metricsPerAgent": {}, "metricsTotals": ZERO}}
    oracle.assert_same_body(response.json(), _interval_body([data, empty, empty], data))


def test_reference_skill_no_data_by_interval(loaded: Loaded, ref_events: list[Event]) -> None:
    response = loaded.get(REF_ACCOUNT, timeframe=1200, interval=600, skillIds=4)
    empty = {"skillsMetricsPerAgent": {"metricsPerSkill": {}, "metricsTotals": ZERO}}
    oracle.assert_same_body(response.json(), _interval_body([empty, empty, empty], empty))


def test_reference_account_by_interval(loaded: Loaded, ref_events: list[Event]) -> None:
    response = loaded.get(REF_ACCOUNT, timeframe=1200, interval=600)
    data = {"metricsTotals": m(1, 2, 12, 13, 3)}
    empty = {"metricsTotals": ZERO}
    oracle.assert_same_body(response.json(), _interval_body([data, empty, empty], data))


# -- an account with no data -------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"timeframe": 60},
        {"timeframe": 60, "skillIds": "all"},
        {"timeframe": 60, "agentIds": "all"},
        {"timeframe": 60, "skillIds": "1,2", "agentIds": "3"},
        {"timeframe": 1440, "interval": 480},
        {"timeframe": 1440, "interval": 480, "skillIds": "all", "agentIds": "all"},
    ],
)
def test_account_without_data(loaded: Loaded, params: dict[str, object]) -> None:
    body = loaded.check(params, account="never-seen-123")
    if "interval" not in params:
        return
    assert [i["timestamp"] for i in body["metricsByIntervals"]] == [
        iv.timestamp for iv in oracle.intervals(NOW_MS, 1440, 480)
    ]


def test_account_without_data_zero_shape(loaded: Loaded) -> None:
    response = loaded.get("empty-account", timeframe=30)
    assert response.status_code == 200
    assert response.json() == {"metricsTotals": ZERO}


# -- POST with a JSON body ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"timeframe": 60, "v": 1},
        {"timeframe": "60", "v": "1"},
        {"timeframe": 1440, "v": 1, "interval": 240, "skillIds": [1, 2, 15], "agentIds": "all"},
        {"timeframe": "1440", "v": "1", "interval": "240", "skillIds": "1, 2", "agentIds": [3, 4]},
        {"timeframe": 20, "v": 1, "interval": 10, "skillIds": -1},
        {"timeframe": 20, "v": 1, "agentIds": 3},
        {"timeframe": 14, "v": 1, "interval": 7, "skillIds": "ALL", "agentIds": [INT64_MAX, 4]},
        {"timeframe": 60, "v": 1, "skillIds": [2, 2, 2], "unknown": {"x": [1]}},
        {"timeframe": 60, "v": 1, "skillIds": None, "agentIds": ""},
    ],
)
def test_post_json_body(loaded: Loaded, body: dict[str, object]) -> None:
    response = loaded.post(body)
    assert response.status_code == 200, response.text
    oracle.assert_same_body(
        response.json(), oracle.expected_body(loaded.events, NOW_MS, body), body
    )


def test_post_agrees_with_get(loaded: Loaded) -> None:
    params = {"timeframe": 1200, "interval": 600, "skillIds": "2,15", "agentIds": "all", "v": 1}
    assert loaded.post(params).json() == loaded.get(**params).json()


def test_post_body_with_query_string(loaded: Loaded) -> None:
    response = loaded.post({"skillIds": [2]}, timeframe=60, v=1)
    assert response.status_code == 200
    expected = oracle.expected_body(loaded.events, NOW_MS, {"timeframe": 60, "skillIds": [2]})
    oracle.assert_same_body(response.json(), expected)


def test_post_empty_id_array_is_absent(loaded: Loaded) -> None:
    # an empty value is the same as an absent one
    response = loaded.post({"timeframe": 60, "v": 1, "skillIds": []})
    assert response.status_code == 200
    oracle.assert_same_body(
        response.json(), oracle.expected_body(loaded.events, NOW_MS, {"timeframe": 60})
    )


# -- validation: every rule, 400 with a JSON body naming the parameter ---


def assert_400(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["field"] == field, body
    assert isinstance(body["allowed"], str) and body["allowed"]
    assert isinstance(body.get("message"), str) and body["message"]
    assert body.get("error")


INVALID_GET: list[tuple[dict[str, object], str]] = [
    ({"v": 1}, "timeframe"),
    ({"v": 1, "timeframe": ""}, "timeframe"),
    ({"v": 1, "timeframe": 0}, "timeframe"),
    ({"v": 1, "timeframe": -5}, "timeframe"),
    ({"v": 1, "timeframe": 1441}, "timeframe"),
    ({"v": 1, "timeframe": "abc"}, "timeframe"),
    ({"v": 1, "timeframe": "1.5"}, "timeframe"),
    ({"v": 1, "timeframe": "9" * 5000}, "timeframe"),
    ({"timeframe": 60}, "v"),
    ({"timeframe": 60, "v": ""}, "v"),
    ({"timeframe": 60, "v": 2}, "v"),
    ({"timeframe": 60, "v": "x"}, "v"),
    ({"timeframe": 60, "v": 1, "interval": 61}, "interval"),
    ({"timeframe": 60, "v": 1, "interval": 31}, "interval"),
    ({"timeframe": 60, "v": 1, "interval": 4}, "interval"),
    ({"timeframe": 4, "v": 1, "interval": 4}, "interval"),
    ({"timeframe": 60, "v": 1, "interval": 0}, "interval"),
    ({"timeframe": 60, "v": 1, "interval": "x"}, "interval"),
    ({"timeframe": 60, "v": 1, "interval": "9" * 3000}, "interval"),
    ({"timeframe": 60, "v": 1, "skillIds": "a"}, "skillIds"),
    ({"timeframe": 60, "v": 1, "skillIds": "1,,2"}, "skillIds"),
    ({"timeframe": 60, "v": 1, "skillIds": "1.5"}, "skillIds"),
    ({"timeframe": 60, "v": 1, "skillIds": str(INT64_MAX + 1)}, "skillIds"),
    ({"timeframe": 60, "v": 1, "skillIds": str(INT64_MIN - 1)}, "skillIds"),
    ({"timeframe": 60, "v": 1, "skillIds": "all,2"}, "skillIds"),
    ({"timeframe": 60, "v": 1, "agentIds": "x"}, "agentIds"),
    ({"timeframe": 60, "v": 1, "agentIds": "3;4"}, "agentIds"),
    ({"timeframe": 60, "v": 1, "agentIds": str(2**64)}, "agentIds"),
    ({"timeframe": 60, "v": 1, "agentIds": "1," + "9" * 5000}, "agentIds"),
]


@pytest.mark.parametrize(("params", "field"), INVALID_GET)
def test_invalid_get(loaded: Loaded, params: dict[str, object], field: str) -> None:
    response = loaded.client.get(path(ACCOUNT), params={k: str(v) for k, v in params.items()})
    assert_400(response, field)


@pytest.mark.parametrize(("params", "field"), INVALID_GET[:20])
def test_invalid_post(loaded: Loaded, params: dict[str, object], field: str) -> None:
    assert_400(loaded.post(params), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timeframe": 60, "v": 1, "skillIds": [1, "x"]}, "skillIds"),
        ({"timeframe": 60, "v": 1, "skillIds": [1, 2**63]}, "skillIds"),
        ({"timeframe": 60, "v": 1, "skillIds": {"a": 1}}, "skillIds"),
        ({"timeframe": 60, "v": 1, "agentIds": [True]}, "agentIds"),
        ({"timeframe": 60, "v": 1, "agentIds": 1.5}, "agentIds"),
        ({"timeframe": True, "v": 1}, "timeframe"),
        ({"timeframe": [60], "v": 1}, "timeframe"),
        ({"timeframe": 60.5, "v": 1}, "timeframe"),
        ({"timeframe": 60, "v": 2}, "v"),
        ({"timeframe": 60, "v": 1, "interval": 7.5}, "interval"),
    ],
)
def test_invalid_post_json_values(loaded: Loaded, body: dict[str, object], field: str) -> None:
    assert_400(loaded.post(body), field)


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b'"timeframe"', b"nul", b"\xff\xfe"])
def test_post_body_not_a_json_object(loaded: Loaded, raw: bytes) -> None:
    response = loaded.client.post(
        path(ACCOUNT), content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["field"] and body["allowed"]


def test_all_problems_listed(loaded: Loaded) -> None:
    response = loaded.client.get(
        path(ACCOUNT), params={"timeframe": "0", "v": "3", "skillIds": "q"}
    )
    assert response.status_code == 400
    fields = sorted(p["field"] for p in response.json()["problems"])
    assert fields == ["skillIds", "timeframe", "v"]


def test_unknown_parameters_ignored(loaded: Loaded) -> None:
    plain = loaded.get(timeframe=60, skillIds="all").json()
    response = loaded.get(
        timeframe=60, skillIds="all", foo="bar", skillids="zzz", TimeFrame="0", _="123"
    )
    assert response.status_code == 200
    assert response.json() == plain


def test_empty_id_values_are_absent(loaded: Loaded) -> None:
    response = loaded.client.get(
        path(ACCOUNT), params={"timeframe": "60", "v": "1", "skillIds": "", "agentIds": " "}
    )
    assert response.status_code == 200
    oracle.assert_same_body(
        response.json(), oracle.expected_body(loaded.events, NOW_MS, {"timeframe": 60})
    )


def test_many_ids(loaded: Loaded) -> None:
    ids = ",".join(str(i) for i in [*range(1000, 2000), 2, 15, -1])
    loaded.check({"timeframe": 1440, "skillIds": ids, "agentIds": "all"})


# -- randomized queries against the oracle -----------------------------------------------------


def _random_ids(rng: random.Random, pool: list[int]) -> object:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.45:
        return rng.choice(["all", "ALL", "All", " all"])
    ids = rng.sample(pool, rng.randint(1, min(4, len(pool))))
    if rng.random() < 0.2:
        ids.append(ids[0])  # a duplicate
    if rng.random() < 0.25:
        return ids  # a JSON array (POST only)
    sep = rng.choice([",", ", ", " ,"])
    return sep.join(str(i) for i in ids)


def test_random_queries(loaded: Loaded) -> None:
    rng = random.Random(7)
    skill_pool = [s for s in SKILLS if s is not None] + [5, 6, 424242]
    agent_pool = [*AGENTS, 5, 6, -7]
    for n in range(150):
        timeframe = rng.choice([*TIMEFRAMES, rng.randint(1, 1440), rng.randint(1, 1440)])
        divisors = [d for d in range(5, timeframe + 1) if timeframe % d == 0]
        interval = rng.choice(divisors) if divisors and rng.random() < 0.5 else None
        params: dict[str, object] = {"timeframe": timeframe, "v": 1}
        if interval is not None:
            params["interval"] = interval
        for name, pool in (("skillIds", skill_pool), ("agentIds", agent_pool)):
            value = _random_ids(rng, pool)
            if value is not None:
                params[name] = value
        as_post = rng.random() < 0.3 or any(isinstance(v, list) for v in params.values())
        response = loaded.post(params) if as_post else loaded.get(**params)
        assert response.status_code == 200, (n, params, response.text)
        expected = oracle.expected_body(loaded.events, NOW_MS, params)
        oracle.assert_same_body(response.json(), expected, (n, params))


# -- the span follows the server's clock -------------------------------------------------------


def test_spans_follow_the_clock(tmp_path: Path, store_engine: str) -> None:
    server = Server(tmp_path, engine=store_engine).start()
    try:
        now = NOW_MS
        events = day_of_events(now, 99, 400, "clk")
        ingest(server, "clock", events)
        checks: list[dict[str, object]] = [
            {"timeframe": 5},
            {"timeframe": 7},
            {"timeframe": 60, "interval": 15},
            {"timeframe": 20, "interval": 10, "skillIds": "all", "agentIds": "all"},
            {"timeframe": 1440, "interval": 360, "agentIds": "all"},
        ]

        def compare(at: int, params_list: list[dict[str, object]]) -> None:
            server.set_now(at)
            for params in params_list:
                response = server.query("clock", **params)
                assert response.status_code == 200, response.text
                expected = oracle.expected_body(events, at, params)
                oracle.assert_same_body(response.json(), expected, (at, params))

        # earlier first (nothing can have been purged yet), then forward only
        compare(now - 3 * 60 * MIN, checks[:4])
        compare(now - 7 * MIN - 1, checks[:4])
        for at in [
            now,
            now + 1 * MIN - 1,
            now + 1 * MIN,
            now + 3 * MIN,
            now + 6 * MIN,
            now + 61 * MIN + 17,
        ]:
            compare(at, checks)
        # new events at the moved clock count at once
        later = now + 2 * 60 * MIN
        server.set_now(later)
        fresh = day_of_events(later, 5, 60, "late")
        fresh = [e for e in fresh if oracle.event_time(e) > later - 120 * MIN]
        ingest(server, "clock", fresh)
        events = events + fresh
        compare(later, checks)
        compare(later + 4 * MIN, checks)
        # the window moves: an event seen in the last 5 minutes leaves a 5-minute span
        t = later + 10 * MIN
        server.set_now(t)
        ingest(server, "clock", [{"eventId": "one", "type": "connected", "time": t, "agentId": 1}])
        events.append({"eventId": "one", "type": "connected", "time": t, "agentId": 1})
        assert (
            server.query("clock", timeframe=5).json()["metricsTotals"]["connectedEngagements"] >= 1
        )
        compare(t, checks)
        compare(t + 10 * MIN, checks)
    finally:
        server.stop()


# -- 429: too many concurrent requests for one account -----------------------------------------


def heavy_events(now: int, count: int) -> list[Event]:
    """Many distinct (bucket, skill, agent) rollup rows, so a full query takes a while."""
    rng = random.Random(3)
    return [
        {
            "eventId": f"h{n}",
            "type": "connected",
            "time": now - rng.randint(0, 1439 * MIN),
            "skillId": rng.randint(1, 400),
            "agentId": rng.randint(1, 4000),
        }
        for n in range(count)
    ]


def test_too_many_concurrent_requests(make_server: MakeServer) -> None:
    server = make_server(extra_args=["--max-concurrent", "1"])
    heavy = heavy_events(NOW_MS, 20_000)
    ingest(server, "busy", heavy, chunk=10_000)
    ingest(server, "calm", heavy[:50])
    params = {"timeframe": "1440", "interval": "5", "skillIds": "all", "agentIds": "all", "v": "1"}
    url = server.base_url + path("busy")
    barrier = threading.Barrier(30)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def fire() -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            response = client.get(url, params=params)
        with lock:
            results.append(response)

    threads = [threading.Thread(target=fire) for _ in range(30)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    # while the flood is on, another account is unaffected
    time.sleep(0.05)
    calm = httpx.get(server.base_url + path("calm"), params={"timeframe": 60, "v": 1}, timeout=60)
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 60
    assert calm.status_code == 200, calm.text
    statuses = sorted(r.status_code for r in results)
    assert set(statuses) <= {200, 429}, statuses
    assert 200 in statuses and 429 in statuses, statuses
    for response in results:
        if response.status_code == 429:
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"].startswith("application/json")
            body = response.json()
            assert body["error"] and body["message"]
    # the flood is over: the account answers again
    response = httpx.get(url, params=params, timeout=60)
    assert response.status_code == 200
