"""The in-memory rollups answer exactly what the SQL over the rollup table answers."""

from __future__ import annotations

from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engactivity.clock import fixed_clock
from engactivity.events import Event
from engactivity.metrics import closed, connected
from engactivity.query import ALL, EngActivityQuery, Selection
from engactivity.response import render, shape
from engactivity.store.sqlite import SQLiteStore
from engactivity.timeframe import span_for
from tests.conftest import MIN, NOW_MS

SKILLS = [-1, 1, 2, 3, 2**63 - 1]
AGENTS = [None, 0, 7, 8, -(2**63)]

events = st.lists(
    st.builds(
        lambda minutes_ago, skill, agent, kind, handling: Event(
            "",
            NOW_MS - minutes_ago * MIN + 59_999,
            skill,
            agent if kind != "connected" or agent is not None else 7,
            connected() if kind == "connected" else closed(kind == "interactive", handling),
        ),
        st.integers(0, 1445),
        st.sampled_from(SKILLS),
        st.sampled_from(AGENTS),
        st.sampled_from(["connected", "interactive", "non-interactive"]),
        st.integers(0, 10_000),
    ),
    max_size=60,
)


def selection(values: list[int]) -> st.SearchStrategy[Selection]:
    return st.one_of(st.none(), st.just(ALL), st.frozensets(st.sampled_from(values), min_size=1))


@st.composite
def queries(draw: st.DrawFn) -> EngActivityQuery:
    timeframe = draw(st.sampled_from([1, 5, 7, 60, 120, 1440]))
    divisors = [i for i in range(5, timeframe + 1) if timeframe % i == 0]
    interval = draw(st.one_of(st.none(), st.sampled_from(divisors))) if divisors else None
    return EngActivityQuery(
        timeframe,
        interval,
        draw(selection(SKILLS)),
        draw(selection([a for a in AGENTS if a is not None])),
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(events, min_size=1, max_size=3), asked=st.lists(queries(), max_size=6))
def test_memory_equals_sql(
    tmp_path: Path, batches: list[list[Event]], asked: list[EngActivityQuery]
) -> None:
    store = SQLiteStore(tmp_path / f"m{abs(hash(str(batches)))}.db", fixed_clock(NOW_MS))
    try:
        serial = 0
        for batch in batches:
            numbered = []
            for event in batch:
                serial += 1
                numbered.append(event._replace(event_id=f"e{serial}"))
            store.submit("acct", numbered, NOW_MS).result()
        for query in asked:
            span = span_for(NOW_MS, query.timeframe, query.interval)
            reading = store.read("acct", span, query.skills, query.agents)
            from_memory = orjson.loads(render(query, span, reading.whole, reading.intervals))
            rows = store.query("acct", span, query.skills, query.agents)
            assert from_memory == shape(query, span, rows)
    finally:
        store.close()


def test_reopen_loads_the_same_answers(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, fixed_clock(NOW_MS))
    batch = [
        Event(f"e{i}", NOW_MS - i * MIN, i % 3, None if i % 4 == 0 else i % 5, closed(True, i))
        for i in range(300)
    ]
    store.submit("acct", batch, NOW_MS).result()
    query = EngActivityQuery(1440, 60, ALL, None)
    span = span_for(NOW_MS, 1440, 60)
    first = store.read("acct", span, ALL, None)
    before = render(query, span, first.whole, first.intervals)
    store.close()
    again = SQLiteStore(path, fixed_clock(NOW_MS))
    try:
        reading = again.read("acct", span, ALL, None)
        assert render(query, span, reading.whole, reading.intervals) == before
    finally:
        again.close()


def test_version_changes_with_data_and_purge(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "v.db", fixed_clock(NOW_MS))
    try:
        assert store.version("acct") == 0
        store.submit("acct", [Event("a", NOW_MS, 1, 2, connected())], NOW_MS).result()
        after_write = store.version("acct")
        assert after_write > 0
        store.submit("acct", [Event("a", NOW_MS, 1, 2, connected())], NOW_MS).result()
        assert store.version("acct") == after_write  # a duplicate changes nothing
        store.purge(NOW_MS + 3 * 24 * 60 * MIN)
        assert store.version("acct") > after_write
    finally:
        store.close()
