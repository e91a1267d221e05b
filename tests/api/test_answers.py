"""Where answers are made: a question that is not light by its shape is answered on the
event loop once its last computation proved cheap, off it when it was costly; either
way the answer is exact and shows every acknowledged event."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from engactivity.api.answers import Answers
from engactivity.api.costs import Costs
from engactivity.ingest import Ingestor, Limits
from engactivity.methods import METHODS, tables_of
from engactivity.store import Store, open_store
from tests.conftest import ENGINES, MIN, NOW_MS

ENGACTIVITY = next(m for m in METHODS if m.name == "engactivity")
INLINE_BELOW_S = 0.25
"""The test's bound for answering on the loop: far above what this small answer costs on
a slow, busy machine (the default, 2 ms, is not: a CI run once saw ten answers over it),
so that only the costly read below is over it."""
PARAMS = {"skillIds": "1,2,3", "agentIds": "all", "timeframe": "60", "interval": "15", "v": "1"}


@pytest.fixture(scope="module", params=ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    """The HTTP test runs on both engines (PostgreSQL with two worker processes)."""
    engine: str = request.param
    return engine


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'answers.db'}", lambda: NOW_MS, tables_of())
    try:
        yield opened
    finally:
        opened.close()


class Recorded:
    """The real method, noting the thread of each read; ``costly`` makes the next read
    spend CPU time past the bound first."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.costly = False
        self.method = dataclasses.replace(ENGACTIVITY, read=self._read)

    def _read(self, *args: Any) -> Any:
        self.threads.append(threading.current_thread())
        if self.costly:
            self.costly = False
            spent = time.thread_time() + 2 * INLINE_BELOW_S
            while time.thread_time() < spent:
                pass
        return ENGACTIVITY.read(*args)


def connected(n: int) -> dict[str, object]:
    """The ``n``th write: a ``connected`` of agent ``100 + n``, a minute ago."""
    return {
        "eventId": f"e{n}",
        "type": "connected",
        "time": NOW_MS - MIN,
        "skillId": 1 + n % 3,
        "agentId": 100 + n,
    }


def write(store: Store, n: int) -> None:
    """One acknowledged ``connected`` of agent ``n`` (memory has it once this returns)."""
    body = orjson.dumps([connected(n)])
    Ingestor(store, lambda: NOW_MS, Limits()).accept("acme", body).stored.result()


def ask(answers: Answers, method: Any) -> dict[str, Any]:
    query = method.parse(PARAMS)

    async def answer() -> bytes:
        return await answers.get(method, "acme", query, NOW_MS)

    body: dict[str, Any] = orjson.loads(asyncio.run(answer()))
    return body


class Asker:
    """Writes, then asks the recorded method; checks each answer against one made afresh."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.recorded = Recorded()
        self.answers = Answers(store, 8 * 2**20, Costs(inline_below_s=INLINE_BELOW_S))
        self.written = 0

    def on_loop(self) -> bool:
        """Write one event, ask: whether the answer was made on the loop's thread."""
        write(self.store, self.written)
        self.written += 1
        body = ask(self.answers, self.recorded.method)
        # Exact and current: the same as an answer made afresh, with every agent written.
        assert body == ask(Answers(self.store, 8 * 2**20), ENGACTIVITY)
        agents = {str(100 + i) for i in range(self.written)}
        assert set(body["agentsMetrics"]["metricsPerAgent"]) == agents
        # asyncio.run's loop runs on this thread
        return self.recorded.threads[-1] is threading.current_thread()


def test_cheap_last_time_runs_on_the_loop_costly_goes_back_to_a_thread(store: Store) -> None:
    asker = Asker(store)
    assert not ENGACTIVITY.light(ENGACTIVITY.parse(PARAMS))
    assert not asker.on_loop()  # never measured: by its shape, off the loop
    # Cheap after a write (a first computation on a thread may warm things up first).
    assert any(asker.on_loop() for _ in range(10))
    asker.recorded.costly = True
    asker.on_loop()  # wherever it runs, this one is costly
    assert not asker.on_loop()  # so the next goes to a thread
    assert any(asker.on_loop() for _ in range(10))  # and back once cheap again


def test_questions_asked_after_each_write_show_it_and_match_an_uncached_server(
    make_server: Any,
) -> None:
    """Over HTTP: questions that are not light, asked again after every write (so made
    on the loop once cheap), show each acknowledged event in the next answer and equal
    the answers of a server without caches or kept parts."""
    kept = make_server()
    plain = make_server(extra_args=["--answer-cache-mb", "0"])
    questions: list[dict[str, object]] = [
        {"skillIds": "1,2,3", "agentIds": "all", "timeframe": 60, "interval": 15},
        {"skillIds": "all", "agentIds": "all", "timeframe": 1440, "interval": 60},
        {"agentIds": ",".join(str(100 + i) for i in range(0, 12, 2)), "timeframe": 240},
    ]
    for n in range(12):
        event = connected(n)
        for server in (kept, plain):
            assert server.send("acme", [event]).status_code == 200
        for params in questions:
            body = kept.query("acme", **params).json()
            assert body == plain.query("acme", **params).json()
            asked = str(params["agentIds"])
            if asked == "all" or str(100 + n) in asked.split(","):
                assert str(100 + n) in body["agentsMetrics"]["metricsPerAgent"]


def send(store: Store, events: list[dict[str, object]]) -> None:
    """Acknowledged ``events`` of account acme (memory has them once this returns)."""
    body = orjson.dumps(events)
    Ingestor(store, lambda: NOW_MS, Limits()).accept("acme", body).stored.result()


def test_a_write_leaves_the_answers_of_methods_that_do_not_read_its_tables(store: Store) -> None:
    """Answers are cached by the versions of their method's tables: a chat's events leave
    current queue state alone, a queue sample leaves agent activity alone; a write to
    a table the method reads is seen at once."""
    reads: list[str] = []

    def counted(name: str) -> Any:
        method = next(m for m in METHODS if m.name == name)

        def read(*args: Any) -> Any:
            reads.append(name)
            return method.read(*args)

        return dataclasses.replace(method, read=read)

    queuestate, agents = counted("queuestate"), counted("agentactivity")
    answers = Answers(store, 8 * 2**20)

    def asked(method: Any, params: dict[str, str]) -> dict[str, Any]:
        async def answer() -> bytes:
            return await answers.get(method, "acme", method.parse(params), NOW_MS)

        body: dict[str, Any] = orjson.loads(asyncio.run(answer()))
        return body

    state = {"v": "1", "skillIds": "all"}
    activity = {"v": "1", "agentIds": "all", "timeframe": "60"}
    sample = {"type": "queueState", "skillId": 1, "availableSlots": 2}
    online = {"eventId": "on", "type": "agentState", "time": NOW_MS - MIN, "agentId": 100}
    send(store, [{**sample, "eventId": "s1", "time": NOW_MS - MIN, "queueSize": 3}])
    send(store, [{**online, "state": "online"}])
    first, first_agents = asked(queuestate, state), asked(agents, activity)
    assert reads == ["queuestate", "agentactivity"]
    write(store, 1)  # a connected: neither method reads its tables
    assert (asked(queuestate, state), asked(agents, activity)) == (first, first_agents)
    assert reads == ["queuestate", "agentactivity"]  # both served from the cache
    send(store, [{**sample, "eventId": "s2", "time": NOW_MS - MIN // 2, "queueSize": 5}])
    assert asked(queuestate, state)["skills"]["1"]["currentQueueSize"] == 5
    assert asked(agents, activity) == first_agents
    assert reads == ["queuestate", "agentactivity", "queuestate"]
    send(store, [{**online, "eventId": "off", "state": "away", "time": NOW_MS - MIN // 2}])
    assert asked(agents, activity) != first_agents
    assert reads[-1] == "agentactivity"
