"""Timeline tables (agent states): every event kept in (time, eventId) order, on both
databases and in memory; retention keeps the state in force at the cutoff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engactivity.clock import fixed_clock
from engactivity.core.events import AgentState, validate_event
from engactivity.core.timeframe import BUCKET_MS
from engactivity.methods import tables_of
from engactivity.methods.agentactivity.timeline import AGENT_STATES
from engactivity.store import MIN_RETENTION_MS, IngestResult, Store, open_store
from engactivity.store.memory import TimelineRows
from engactivity.store.tables import event_key
from tests.conftest import ENGINES, MIN, NOW_MS, new_pg_database
from tests.store.dbutil import query

DAY = 24 * 60 * MIN


def state(event_id: str, time_ms: int, agent: int = 1, **fields: object) -> AgentState:
    """An agentState event (wire names in ``fields``), as the validator makes it."""
    raw = {"eventId": event_id, "type": "agentState", "time": time_ms, "agentId": agent}
    event = validate_event({**raw, "state": "online", **fields}, 0, NOW_MS + 30 * DAY)
    assert isinstance(event, AgentState), event
    return event


def rows_of(*events: AgentState) -> list[tuple[tuple[object, ...], list[object]]]:
    into: dict[tuple[object, ...], list[object]] = {}
    AGENT_STATES.fold(list(events), into)
    return list(into.items())


def line(rows: TimelineRows, agent: int = 1) -> list[tuple[int, bytes]]:
    return [(row[0], row[1]) for row in rows.lines[(agent,)]]


# -- memory ---------------------------------------------------------------------------------


def test_a_late_event_takes_its_place_and_a_repeat_changes_nothing() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("b", 200), state("c", 300)))
    rows.apply(rows_of(state("a", 100), state("a2", 200)))  # same time: by event id
    assert line(rows) == [(100, b"a"), (200, b"a2"), (200, b"b"), (300, b"c")]
    rows.apply(rows_of(state("b", 200)))  # the engine drops repeats; memory keeps one too
    assert line(rows) == [(100, b"a"), (200, b"a2"), (200, b"b"), (300, b"c")]


def test_event_ids_order_by_code_point() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("\uff41", 5), state("\U0001f600", 5), state("z", 5)))
    assert [key for _, key in line(rows)] == [
        event_key("z"),
        event_key("\uff41"),
        event_key("\U0001f600"),
    ]


def test_a_stamp_changes_only_with_a_change_before_its_moment() -> None:
    rows = TimelineRows(AGENT_STATES)
    assert rows.stamp(10**15) == 0
    rows.apply(rows_of(state("a", 1000)))
    first = rows.version
    rows.apply(rows_of(state("b", 5000)))
    assert rows.stamp(1000) == 0
    assert rows.stamp(1001) == rows.stamp(5000) == first
    assert rows.stamp(5001) == rows.version
    rows.apply(rows_of(state("late", 2000, agent=2)))  # a late event, another agent
    assert rows.stamp(1001) == first
    assert rows.stamp(2001) == rows.stamp(9000) == rows.version


def test_flat_arrays_follow_the_lines_and_texts_are_kept_once() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("a", 10, agent=7, state="away", reasonId="7"), state("b", 5, agent=3)))
    rows.apply(rows_of(state("c", 20, agent=7, state="away", reasonId=7, activeChats=2)))
    flat = rows.timelines()
    assert flat.keys.tolist() == [[7], [3]]
    assert flat.starts.tolist() == [0, 2, 3]
    assert flat.times.tolist() == [10, 20, 5]
    assert flat.values.tolist() == [[4, 0, 0, 0], [4, 0, 2, 0], [2, 1, 0, 0]]
    assert flat.texts == ["7", ""]
    # Sums along each timeline of the method's weights (away total is column 6).
    assert flat.sums.tolist()[:2] == [[0] * 9, [0] * 6 + [10, 0, 0]]
    assert flat.sums.tolist()[2] == [0] * 9
    assert flat.sortable.tolist() == [
        (i << 44) + t - flat.origin for i, t in ((0, 10), (0, 20), (1, 5))
    ]
    assert rows.timelines() is flat  # made again only after a change


def test_a_part_of_the_timelines_for_some_keys_from_a_moment_on() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(*(state(f"a{t}", t, agent=1) for t in (10, 20, 30, 40))))
    rows.apply(rows_of(state("b", 5, agent=2), state("c", 25, agent=3, state="away")))
    part = rows.timelines([(3,), (9,), (1,)], since=25)  # the whole is not made yet
    whole = rows.timelines()
    assert part.keys.tolist() == [[3], [1]]  # as asked, without the unknown key
    assert part.starts.tolist() == [0, 1, 4]
    # Agent 3 from its row at 25; agent 1 from its row in force at 25, the one at 20.
    assert part.times.tolist() == [25, 20, 30, 40]
    first = int(whole.starts[0])  # agent 1 came first: its rows at 10, 20, 30, 40
    assert part.sums.tolist()[1:] == whole.sums.tolist()[first + 1 : first + 4]
    assert (part.sortable >> 44).tolist() == [0, 1, 1, 1]  # indexes of this part
    assert rows.timelines() is whole  # the whole is kept; parts are not
    assert rows.timelines([(3,)], since=25) is whole  # while it is at hand, it serves


def test_memory_keeps_the_state_in_force_at_the_cutoff() -> None:
    rows = TimelineRows(AGENT_STATES)
    cutoff = 100
    at = cutoff * BUCKET_MS
    rows.apply(rows_of(state("a", at - 3), state("b", at - 2), state("c", at), state("d", 1, 2)))
    version = rows.version
    rows.drop_before(cutoff)
    assert line(rows) == [(at - 2, b"b"), (at, b"c")]
    assert line(rows, 2) == [(1, b"d")]
    assert rows.version == version  # no answer about a time after the cutoff changed
    assert rows.timelines().times.tolist() == [at - 2, at, 1]


# -- the databases -----------------------------------------------------------------------


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    url = f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite" else new_pg_database()
    opened = open_store(url, fixed_clock(NOW_MS), tables_of())
    yield opened, url
    opened.close()


def stored(url: str, account: str) -> list[tuple[object, ...]]:
    found = query(
        url,
        "SELECT agent_id, time, event_key, state, reason_id, active_chats, max_chats "
        "FROM agent_state WHERE account_id = ? ORDER BY agent_id, time, event_key",
        (account,),
    )
    return [(*row[:2], bytes(row[2]), *row[3:]) for row in found]


def memory(store: Store, account: str) -> list[tuple[object, ...]]:
    store.version(account)
    with store.snapshot(account) as got:
        rows = got.timeline(AGENT_STATES)
        return [
            (key[0], row[0], row[1], row[2], rows.texts[row[3]], row[4], row[5])
            for key, line_ in sorted(rows.lines.items())
            for row in line_
        ]


def test_retention_keeps_each_agents_state_in_force(store: tuple[Store, str]) -> None:
    opened, url = store
    events = [
        state("a1", NOW_MS - 23 * 60 * MIN, 1, state="online", maxChats=2),
        state("a2", NOW_MS - 20 * 60 * MIN, 1, state="away", reasonId=42, activeChats=1),
        state("a3", NOW_MS - 60 * MIN, 1, state="online"),
        state("b1", NOW_MS - 22 * 60 * MIN, 2, state="backSoon"),
    ]
    assert opened.submit("acct", events, NOW_MS).result(timeout=30) == IngestResult(4, 0, 0)
    assert opened.submit("acct", events[:1], NOW_MS).result(timeout=30) == IngestResult(0, 1, 0)
    everything = stored(url, "acct")
    assert memory(opened, "acct") == everything
    assert everything[1] == (1, NOW_MS - 20 * 60 * MIN, b"a2", 4, "42", 1, 0)

    later = NOW_MS + 22 * 60 * MIN  # a1 and a2 are both older than the retention now
    opened.purge(later)
    assert stored(url, "acct") == [everything[i] for i in (1, 2, 3)]
    assert memory(opened, "acct") == stored(url, "acct")
    # An agentState older than the retention is acknowledged as expired, not stored.
    old = state("old", later - MIN_RETENTION_MS - 1, 3)
    assert opened.submit("acct", [old], later).result(timeout=30) == IngestResult(0, 0, 1)


def test_a_reopened_store_loads_the_timelines(store: tuple[Store, str]) -> None:
    opened, url = store
    events = [state(f"e{i}", NOW_MS - i * MIN, i % 3, activeChats=i) for i in range(50)]
    opened.submit("acct", events[::-1], NOW_MS).result(timeout=30)
    opened.close()
    again = open_store(url, fixed_clock(NOW_MS), tables_of())
    try:
        assert memory(again, "acct") == stored(url, "acct")
        assert len(stored(url, "acct")) == 50
    finally:
        again.close()
