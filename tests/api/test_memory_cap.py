"""A server whose memory cap (``--memory-mb 1``) is far below its data, over real HTTP,
on both stores: accounts are evicted and loaded again all through the run, and every
method's answers still match the oracles (tests/oracle*.py) exactly.

Each account's events are taken from the method's own suite (its event makers and
oracle), sent in two halves with repeated deliveries, and asked about after each half,
the accounts in a shuffled order, so most answers come from an account loaded from the
store just before. One account is also written to while it is loaded and evicted over
and over, to catch a group counted twice or missed by a load under way.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import oracle, oracle_agents, oracle_queue
from tests.api import test_agentactivity as agents
from tests.api import test_queue as queues
from tests.api.test_engactivity import day_of_events
from tests.api.test_metrics import scrape, value
from tests.conftest import ENGINES, NOW_MS, Server

Event = dict[str, Any]
Check = Callable[[Server, str, list[Event]], None]
"""Asks a method about an account and compares with its oracle (given every delivery)."""


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory, store_engine: str) -> Iterator[Server]:
    # One process even on PostgreSQL: its /metrics then counts every load.
    folder = tmp_path_factory.mktemp("memcap")
    server = Server(folder, extra_args=["--memory-mb", "1"], engine=store_engine, workers=1)
    yield server.start()
    server.stop()


def get(server: Server, account: str, method: str, params: dict[str, object]) -> Any:
    response = httpx.get(
        f"{server.base_url}/operations/api/account/{account}/{method}",
        params={k: str(v) for k, v in {"v": 1, **params}.items() if v is not None},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def check_engactivity(server: Server, account: str, sent: list[Event]) -> None:
    for params in ({"timeframe": 1440}, {"timeframe": 60, "interval": 15, "skillIds": "1,2"}):
        got = get(server, account, "engactivity", params)
        oracle.assert_same_body(got, oracle.expected_body(sent, NOW_MS, params), params)


def check_agentactivity(server: Server, account: str, sent: list[Event]) -> None:
    kept = oracle_agents.stored([(NOW_MS, sent)])
    for params in (
        {"timeframe": 1440, "agentIds": "all"},
        {"timeframe": 60, "interval": 20, "agentIds": "1,17,-7"},
    ):
        got = get(server, account, "agentactivity", params)
        oracle_agents.same(got, oracle_agents.agentactivity(kept, NOW_MS, params))


def check_queues(server: Server, account: str, sent: list[Event]) -> None:
    params: dict[str, object] = {"timeframe": 1440, "skills": "all"}
    oracle_queue.same(
        get(server, account, "queuehealth", params),
        oracle_queue.queuehealth(sent, NOW_MS, params),
    )
    oracle_queue.same(
        get(server, account, "queuestate", {}), oracle_queue.queuestate(sent, NOW_MS, {})
    )
    oracle_queue.same(
        get(server, account, "sla", {"timeframe": 60}),
        oracle_queue.sla(sent, NOW_MS, {"timeframe": 60}),
    )


def accounts() -> dict[str, tuple[list[Event], Check]]:
    """Per account: every delivery to send (repeats included), and its method's check.
    Together some 3 MB of rollups: three times the cap."""
    made: dict[str, tuple[list[Event], Check]] = {}
    for i in range(4):
        events = day_of_events(NOW_MS, 100 + i, 100, f"e{i}")
        made[f"eng-{i}"] = ([*events, *events[:20]], check_engactivity)
    for i in range(3):
        rng = random.Random(200 + i)
        made[f"agents-{i}"] = (
            agents.deliveries(rng, agents.make_events(rng, 150)),
            check_agentactivity,
        )
    for i in range(3):
        rng = random.Random(300 + i)
        events = queues.make_events(rng, 200)
        made[f"queue-{i}"] = ([*events, *rng.sample(events, 20)], check_queues)
    return made


def send(server: Server, account: str, events: list[Event], size: int = 100) -> None:
    for start in range(0, len(events), size):
        response = server.send(account, events[start : start + size])
        assert response.status_code == 200, response.text


def test_every_method_stays_exact_through_evictions(capped: Server) -> None:
    made = accounts()
    order = list(made)
    rng = random.Random(7)
    for half in (0, 1):
        for account, (sent, _) in made.items():
            cut = len(sent) // 2
            send(capped, account, sent[:cut] if half == 0 else sent[cut:])
        for _ in range(2):
            rng.shuffle(order)
            for account in order:
                sent, check = made[account]
                check(capped, account, sent[: len(sent) // 2] if half == 0 else sent)
    samples = scrape(capped)
    loads = value(samples, "engactivity_memory_account_loads_total")
    evictions = value(samples, "engactivity_memory_account_evictions_total")
    assert evictions > 0
    assert loads > evictions
    assert value(samples, "engactivity_memory_accounts_resident") < len(made)
    assert value(samples, "engactivity_memory_limit_bytes") == 1024 * 1024
    assert 0 < value(samples, "engactivity_memory_in_use_bytes") <= 1024 * 1024


def test_an_account_written_while_it_is_loaded_and_evicted(capped: Server) -> None:
    """A load under way must count each group once: the account is loaded again and
    again (a filler account evicts it) while batches of it are committed; after each
    part, its copy, most likely loaded while batches came in, is checked."""
    events = day_of_events(NOW_MS, 400, 1200, "race")
    filler = day_of_events(NOW_MS, 401, 300, "filler")
    send(capped, "filler", filler)
    before = value(scrape(capped), "engactivity_memory_account_loads_total")
    parts = 4
    for part in range(parts):
        chunk = events[part * len(events) // parts : (part + 1) * len(events) // parts]
        done = threading.Event()
        failures: list[BaseException] = []

        def reader(done: threading.Event = done, failures: list[BaseException] = failures) -> None:
            try:
                while not done.is_set():  # the filler first: "race" is asked about last
                    get(capped, "filler", "engactivity", {"timeframe": 1440})
                    get(capped, "race", "engactivity", {"timeframe": 1440})
            except BaseException as exc:  # reported below
                failures.append(exc)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            send(capped, "race", chunk, size=20)
        finally:
            done.set()
            thread.join()
        assert not failures
        check_engactivity(capped, "race", events[: (part + 1) * len(events) // parts])
    check_engactivity(capped, "filler", filler)
    assert value(scrape(capped), "engactivity_memory_account_loads_total") > before + parts


def test_an_account_without_data_is_answered_and_costs_little(capped: Server) -> None:
    oracle.assert_same_body(
        get(capped, "nobody", "engactivity", {"timeframe": 60}),
        oracle.expected_body([], NOW_MS, {"timeframe": 60}),
    )
    assert value(scrape(capped), "engactivity_memory_in_use_bytes") <= 1024 * 1024


def test_memory_mb_is_checked(tmp_path: Path) -> None:
    server = Server(tmp_path, extra_args=["--memory-mb", "-1"])
    with pytest.raises(RuntimeError, match="--memory-mb"):
        server.start()
