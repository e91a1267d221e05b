"""The queue methods over real HTTP (queuehealth, queuestate, sla), on both stores and,
on PostgreSQL, two processes; every answer checked against tests/oracle_queue.py.

Events of every type are sent in batches through the API, with duplicate deliveries
(some carrying other values: the first delivery wins), late ones, samples around the
five-minute edge of "current", and engagement events beside them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import oracle_queue
from tests.conftest import ENGINES, MIN, NOW_MS, Server

ACCOUNT = "queues"
SKILLS: list[int | None] = [None, -1, 1, 2, 15, 2**62]
GROUPS: list[int | None] = [None, 7, 8, -1]
Event = dict[str, Any]


def make_events(rng: random.Random, count: int) -> list[Event]:
    events: list[Event] = []
    for n in range(count):
        kind = rng.choice(["queued", "connected", "abandoned", "queueState", "closed"])
        event: Event = {
            "eventId": f"q-{n}",
            "type": kind,
            "time": NOW_MS - rng.randrange(-4 * MIN, 1450 * MIN),
        }
        skill = rng.choice(SKILLS)
        if kind == "queueState":
            event["skillId"] = 1 if skill is None else skill
            event["queueSize"] = rng.randrange(30)
            event["availableSlots"] = rng.randrange(6)
            if rng.random() < 0.5:
                event["time"] = NOW_MS - rng.randrange(-4 * MIN, 8 * MIN)
        elif skill is not None or rng.random() < 0.5:
            event["skillId"] = skill
        if kind == "connected":
            event["agentId"] = rng.randrange(1, 9)
            event["waitTime"] = rng.choice([None, 0, 3, 5, 29, 30, 61, 200, 90_000])
            event["agentGroupId"] = rng.choice(GROUPS)
        elif kind == "abandoned":
            event["waitTime"] = rng.choice([None, 0, 12, 45, 300])
        elif kind == "closed":
            event["interactive"] = rng.random() < 0.5
        events.append(event)
    return events


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Loaded:
    def __init__(self, server: Server, events: list[Event]) -> None:
        self.server = server
        self.events = events
        """Every delivery, in order (the oracle keeps the first of each eventId)."""

    def get(self, method: str, params: dict[str, object]) -> Any:
        response = httpx.get(
            f"{self.server.base_url}/operations/api/account/{ACCOUNT}/{method}",
            params={k: str(v) for k, v in {"v": 1, **params}.items() if v is not None},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, store_engine: str) -> Iterator[Loaded]:
    server = Server(tmp_path_factory.mktemp("queue"), engine=store_engine).start()
    rng = random.Random(13)
    events = make_events(rng, 1500)
    deliveries = list(events)
    # Duplicates, some with other values: the first delivery wins.
    for event in rng.sample(events, 150):
        again = dict(event)
        if again["type"] == "queueState":
            again["queueSize"] = 999
        deliveries.append(again)
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 200):
        sent = server.send(ACCOUNT, deliveries[start : start + 200])
        assert sent.status_code == 200, sent.text
    yield Loaded(server, deliveries)
    server.stop()


@pytest.mark.parametrize("timeframe", [1, 7, 60, 61, 1440])
@pytest.mark.parametrize("skills", [None, "all", "1,2", "-1,99", str(2**62)])
def test_queuehealth(loaded: Loaded, timeframe: int, skills: str | None) -> None:
    params = {"timeframe": timeframe, "skillIds": skills}
    expected = oracle_queue.queuehealth(loaded.events, NOW_MS, params)
    oracle_queue.same(loaded.get("queuehealth", params), expected)


@pytest.mark.parametrize(("timeframe", "interval"), [(60, 15), (1440, 60), (1200, 600), (20, 10)])
@pytest.mark.parametrize("skills", [None, "all", "2,15"])
def test_queuehealth_by_interval(
    loaded: Loaded, timeframe: int, interval: int, skills: str | None
) -> None:
    params = {"timeframe": timeframe, "interval": interval, "skillIds": skills}
    expected = oracle_queue.queuehealth(loaded.events, NOW_MS, params)
    oracle_queue.same(loaded.get("queuehealth", params), expected)


@pytest.mark.parametrize("skills", [None, "all", "1,2,3", "99", "-1"])
def test_queuestate(loaded: Loaded, skills: str | None) -> None:
    params = {"skillIds": skills}
    oracle_queue.same(
        loaded.get("queuestate", params), oracle_queue.queuestate(loaded.events, NOW_MS, params)
    )


@pytest.mark.parametrize(
    "params",
    [
        {"timeframe": 1440},
        {"timeframe": 60, "histogram": "0,30,60"},
        {"timeframe": 1440, "skillIds": "1,2", "groupIds": "7,-1", "histogram": "5,86400"},
        {"timeframe": 1440, "groupIds": "all", "interval": "bogus"},
        {"timeframe": 7, "skillIds": str(2**62)},
    ],
)
def test_sla(loaded: Loaded, params: dict[str, object]) -> None:
    oracle_queue.same(loaded.get("sla", params), oracle_queue.sla(loaded.events, NOW_MS, params))


def test_post_bodies_agree_with_get(loaded: Loaded) -> None:
    for method, params, body in [
        (
            "queuehealth",
            {"timeframe": 60, "skillIds": "1,2"},
            {"timeframe": "60", "skillIds": [1, 2]},
        ),
        ("queuestate", {"skillIds": "all"}, {"skillIds": "all"}),
        ("sla", {"timeframe": 1440, "histogram": "0,60"}, {"timeframe": 1440, "histogram": [60]}),
    ]:
        posted = httpx.post(
            f"{loaded.server.base_url}/operations/api/account/{ACCOUNT}/{method}",
            json={"v": 1, **body},
            timeout=30,
        )
        assert posted.status_code == 200, posted.text
        assert posted.json() == loaded.get(method, params)


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("queuehealth", {"timeframe": 0}, "timeframe"),
        ("queuehealth", {"timeframe": 60, "interval": 7}, "interval"),
        ("queuehealth", {"timeframe": 60, "skillIds": "x"}, "skillIds"),
        ("queuestate", {"skillIds": "1,,2"}, "skillIds"),
        ("sla", {"timeframe": 60, "histogram": "7"}, "histogram"),
        ("sla", {"timeframe": 60, "groupIds": "g"}, "groupIds"),
        ("sla", {}, "timeframe"),
    ],
)
def test_invalid_parameters_name_the_field(
    loaded: Loaded, method: str, params: dict[str, object], field: str
) -> None:
    response = httpx.get(
        f"{loaded.server.base_url}/operations/api/account/{ACCOUNT}/{method}",
        params={"v": 1, **params},
        timeout=30,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request" and body["field"] == field and body["allowed"]


def test_an_account_without_data(loaded: Loaded) -> None:
    url = f"{loaded.server.base_url}/operations/api/account/nobody"
    health = httpx.get(f"{url}/queuehealth", params={"timeframe": 60, "v": 1}).json()
    assert health == oracle_queue.queuehealth([], NOW_MS, {"timeframe": 60})
    state = httpx.get(f"{url}/queuestate", params={"skillIds": "4", "v": 1}).json()
    assert state == {
        "skills": {"4": {"currentAvailableSlots": -1, "currentQueueSize": -1}},
        "totals": {"currentAvailableSlots": -1, "currentQueueSize": -1},
    }
    sla = httpx.get(f"{url}/sla", params={"timeframe": 60, "v": 1}).json()
    assert sla == oracle_queue.sla([], NOW_MS, {"timeframe": 60})


def test_current_values_follow_the_clock(tmp_path: Path, store_engine: str) -> None:
    # A sample is current for five minutes; the answer moves with the clock alone.
    server = Server(tmp_path, engine=store_engine).start()
    try:
        sample = {
            "eventId": "s",
            "type": "queueState",
            "time": NOW_MS - 4 * MIN,
            "skillId": 3,
            "queueSize": 6,
            "availableSlots": 2,
        }
        assert server.send("clock", [sample]).status_code == 200
        url = f"{server.base_url}/operations/api/account/clock"
        state = {"v": 1}
        health = {"v": 1, "timeframe": 60, "skillIds": "all"}

        def current() -> tuple[int, int]:
            return (
                httpx.get(f"{url}/queuestate", params=state).json()["totals"]["currentQueueSize"],
                httpx.get(f"{url}/queuehealth", params=health).json()["metricsTotals"][
                    "currentQueueSize"
                ],
            )

        assert current() == current() == (6, 6)  # the second from the answer cache
        server.set_now(NOW_MS + MIN - 1)
        assert current() == (6, 6)
        server.set_now(NOW_MS + MIN)  # exactly five minutes old: no longer current
        assert current() == (-1, -1)
    finally:
        server.stop()


def test_metrics_count_each_method(loaded: Loaded) -> None:
    for method, params in [
        ("queuehealth", {"timeframe": 5}),
        ("queuestate", {}),
        ("sla", {"timeframe": 5}),
    ]:
        loaded.get(method, params)
    text = httpx.get(f"{loaded.server.base_url}/metrics", timeout=30).text
    for method in ("queuehealth", "queuestate", "sla"):
        endpoint = f'endpoint="/operations/api/account/{{accountId}}/{method}"'
        assert any(
            line.startswith("engactivity_http_requests_total{") and endpoint in line
            for line in text.splitlines()
        ), method
