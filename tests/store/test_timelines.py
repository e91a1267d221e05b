"""Timeline tables (agent states): every event kept in (time, eventId) order, on both
databases and in memory; retention keeps the state in force at the cutoff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.clock import fixed_clock
from engactivity.core.events import AgentState, validate_event
from engactivity.core.timeframe import BUCKET_MS
from engactivity.methods import tables_of
from engactivity.methods.agentactivity.timeline import AGENT_STATES
from engactivity.store import MIN_RETENTION_MS, IngestResult, Store, open_store
from engactivity.store.tables import event_key
from engactivity.store.timelines import FREE, ORIGIN_SHIFT, TimelineRows, Timelines
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
    return [(row[0], row[1]) for row in dict(rows.items())[(agent,)]]


# -- memory ---------------------------------------------------------------------------------


def test_a_late_event_takes_its_place_and_a_repeat_changes_nothing() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("b", 200), state("c", 300)))
    rows.apply(rows_of(state("a", 100), state("a2", 200)))  # same time: by event id
    assert line(rows) == [(100, b"a"), (200, b"a2"), (200, b"b"), (300, b"c")]
    rows.apply(rows_of(state("b", 200)))  # the engine drops repeats; memory keeps one too
    assert line(rows) == [(100, b"a"), (200, b"a2"), (200, b"b"), (300, b"c")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 10**6)), max_size=5), max_size=8)
)
def test_touched_since_names_every_timeline_written_after_a_version(
    batches: list[list[tuple[int, int]]],
) -> None:
    rows = TimelineRows(AGENT_STATES)
    versions, written = [], []
    for n, batch in enumerate(batches):
        versions.append(rows.version)
        rows.apply(rows_of(*(state(f"{n}-{i}", t, agent) for i, (agent, t) in enumerate(batch))))
        written.append({agent for agent, _ in batch})
        # The same version asked again after each write (the last answer is kept).
        since_first = rows.touched_since(versions[min(n, 1)])
        keys = [key for key, _ in rows.items()]
        assert {keys[i][0] for i in since_first.tolist()} == set().union(*written[min(n, 1) :])
        assert not since_first.flags.writeable  # kept for the next ask: read-only
    keys = [key for key, _ in rows.items()]
    for n, version in enumerate(versions):
        touched = {keys[i][0] for i in rows.touched_since(version).tolist()}
        assert touched == set().union(*written[n:])
    assert not len(rows.touched_since(rows.version))


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
    assert rows.latest_change() is None
    rows.apply(rows_of(state("a", 1000)))
    first = rows.version
    rows.apply(rows_of(state("b", 5000)))
    assert rows.stamp(1000) == 0
    assert rows.stamp(1001) == rows.stamp(5000) == first
    assert rows.stamp(5001) == rows.version
    assert rows.latest_change() == 5000
    rows.apply(rows_of(state("late", 2000, agent=2)))  # a late event, another agent
    assert rows.stamp(1001) == first
    assert rows.stamp(2001) == rows.stamp(9000) == rows.version
    assert rows.latest_change() == 2000  # where the newest change reached back to
    rows.apply(rows_of(state("c", 7000), state("d", 6000, agent=3)))
    assert rows.latest_change() == 6000


def used(flat: Timelines) -> list[int]:
    """The rows of every timeline (not the free room after each)."""
    free = (flat.sortable & ((1 << ORIGIN_SHIFT) - 1)) == FREE
    return [i for i in range(len(flat.times)) if not free[i] and flat.sortable[i] < 2**62]


def test_flat_arrays_follow_the_lines_and_texts_are_kept_once() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("a", 10, agent=7, state="away", reasonId="7"), state("b", 5, agent=3)))
    rows.apply(rows_of(state("c", 20, agent=7, state="away", reasonId=7, activeChats=2)))
    flat = rows.timelines()
    assert flat.keys.tolist() == [[7], [3]]
    at = used(flat)
    assert [int(flat.starts[0]), int(flat.starts[0]) + 1, int(flat.starts[1])] == at
    assert flat.times[at].tolist() == [10, 20, 5]
    assert flat.values[at].tolist() == [[4, 0, 0, 0], [4, 0, 2, 0], [2, 1, 0, 0]]
    assert flat.texts == ["7", ""]
    # Sums along each timeline of the method's weights (away total is column 6).
    assert flat.sums[at].tolist()[:2] == [[0] * 9, [0] * 6 + [10, 0, 0]]
    assert flat.sums[at].tolist()[2] == [0] * 9
    assert flat.sortable[at].tolist() == [
        (i << 44) + t - flat.origin for i, t in ((0, 10), (0, 20), (1, 5))
    ]
    assert sorted(flat.sortable.tolist()) == flat.sortable.tolist()
    assert rows.timelines() is flat  # kept while no key comes or moves


def test_events_after_the_last_are_written_in_place_with_their_sums() -> None:
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("a", 100, agent=1), state("b", 100, agent=2, state="away")))
    flat = rows.timelines()
    for n in range(1, 6):  # within the room each key got: nothing moves
        rows.apply(rows_of(state(f"a{n}", 100 + n * 10, agent=1, activeChats=n % 2)))
        assert rows.timelines() is flat
    first = int(flat.starts[0])
    assert flat.times[first : first + 6].tolist() == [100, 110, 120, 130, 140, 150]
    online, chatting = (
        [s[0] for s in flat.sums[first : first + 6]],
        [s[1] for s in flat.sums[first : first + 6]],
    )
    assert online == [0, 10, 20, 30, 40, 50]
    assert chatting == [0, 0, 10, 10, 20, 20]
    for n in range(6, 40):  # past its room: the key is given more, rows kept
        rows.apply(rows_of(state(f"a{n}", 100 + n * 10, agent=1)))
    again = rows.timelines()
    assert again is not flat
    assert line(rows) == [(100 + n * 10, event_key(f"a{n}" if n else "a")) for n in range(40)]
    assert line(rows, 2) == [(100, b"b")]
    at = used(again)
    assert again.sums[at, 0].tolist()[:40] == [n * 10 for n in range(40)]
    assert sorted(again.sortable.tolist()) == again.sortable.tolist()


def test_a_key_out_of_room_grows_in_place_while_the_arrays_have_spare_room() -> None:
    """The keys after it move along in the same arrays (no new ones), until their spare
    room is used up: then every key is laid out afresh, in new arrays."""
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(*(state(f"k{agent}", 100, agent=agent) for agent in range(3))))
    arrays, grown, laid_out = rows.timelines().times, 0, False
    for n in range(1, 400):
        rows.apply(rows_of(state(f"a{n}", 100 + n, agent=0, activeChats=n % 2)))
        flat = rows.timelines()
        if flat.times is arrays:
            grown = n
        else:
            laid_out = True
            break
    assert grown > 20 and laid_out  # the first key's room (9 rows) ran out, and more
    assert line(rows, 0) == [(100 + n, event_key(f"a{n}" if n else "k0")) for n in range(n + 1)]
    assert [line(rows, agent) for agent in (1, 2)] == [[(100, b"k1")], [(100, b"k2")]]
    _check(
        rows,
        {(0, 100 + m, event_key(f"a{m}" if m else "k0")) for m in range(n + 1)}
        | {(agent, 100, event_key(f"k{agent}")) for agent in (1, 2)},
    )


def test_a_key_that_grows_beside_new_keys_with_no_spare_room_keeps_its_rows() -> None:
    """One write makes a key outgrow its room (moved in place) and brings new keys whose
    room the spare room cannot hold: every key is then laid out with the room it needs,
    the grown key's included (it once got the room of its old count, and its new rows
    overwrote the next key's)."""
    rows = TimelineRows(AGENT_STATES)
    rows.apply(rows_of(state("k0", 100, agent=0)))
    rows.timelines()  # key 0 gets room for 9 rows, the arrays 64 spare
    grown = [state(f"a{n}", 100 + n, agent=0, activeChats=n % 2) for n in range(1, 10)]
    newcomers = [state(f"k{agent}", 100, agent=agent) for agent in range(1, 9)]
    rows.apply(rows_of(*grown, *newcomers))
    _check(
        rows,
        {(0, 100 + n, event_key(f"a{n}" if n else "k0")) for n in range(10)}
        | {(agent, 100, event_key(f"k{agent}")) for agent in range(1, 9)},
    )


def test_rows_reserved_ahead_fill_their_room_without_a_new_lay_out() -> None:
    events = [state(f"e{n}", 100 + n, agent=n % 5, activeChats=n % 3) for n in range(300)]
    reserved = TimelineRows(AGENT_STATES)
    reserved.reserve([((agent,), 60) for agent in (4, 0, 2, 1, 3)])
    arrays = reserved.timelines().times
    for first in range(0, 300, 7):  # in chunks, as a load streams them
        reserved.apply(rows_of(*events[first : first + 7]))
        assert reserved.timelines().times is arrays  # written in place, never copied
    plain = TimelineRows(AGENT_STATES)
    plain.apply(rows_of(*events))
    assert dict(reserved.items()) == dict(plain.items())
    a, b = reserved.timelines(), plain.timelines()
    for agent in range(5):
        mine, theirs = [int(np.flatnonzero(f.keys[:, 0] == agent)[0]) for f in (a, b)]
        at, bt = int(a.starts[mine]), int(b.starts[theirs])
        assert a.sums[at : at + 60].tolist() == b.sums[bt : bt + 60].tolist()


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
    flat = rows.timelines()
    assert flat.times[used(flat)].tolist() == [at - 2, at, 1]
    assert flat.sums[used(flat), 0].tolist() == [0, 2, 0]


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
            for key, line_ in sorted(rows.items())
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


_batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(1, 6), st.integers(0, 3000), st.sampled_from("abcd"), st.integers(0, 3)
        ),
        min_size=1,
        max_size=30,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(_batches, st.integers(0, 2))
def test_the_layout_holds_every_row_once_in_order_with_true_sums(
    batches: list[list[tuple[int, int, str, int]]], drop_at: int
) -> None:
    """Batches of late, repeated and new-key events, read between them, then a purge:
    the arrays always hold each key's distinct rows in order, sorted for searching, with
    sums equal to summing the steps afresh."""
    rows, seen = TimelineRows(AGENT_STATES), set()
    for n, batch in enumerate(batches):
        events = [state(f"{e}{t}", t, agent, activeChats=c) for agent, t, e, c in batch]
        rows.apply(rows_of(*events))
        seen |= {(agent, t, event_key(f"{e}{t}")) for agent, t, e, _ in batch}
        if n % 2 or n == len(batches) - 1:
            _check(rows, seen)
    rows.drop_before(drop_at)
    cutoff = drop_at * BUCKET_MS
    kept = set()
    for agent in {a for a, _, _ in seen}:
        mine = sorted((t, e) for a, t, e in seen if a == agent)
        older = [r for r in mine if r[0] < cutoff]
        kept |= {(agent, t, e) for t, e in mine[max(0, len(older) - 1) :]}
    _check(rows, kept)


def _check(rows: TimelineRows, expected: set[tuple[int, int, bytes]]) -> None:
    flat = rows.timelines()
    assert sorted(flat.sortable.tolist()) == flat.sortable.tolist()
    got = {(key[0], row[0], row[1]) for key, line_ in rows.items() for row in line_}
    assert got == expected
    for index, (key, line_) in enumerate(rows.items()):
        assert [(r[0], r[1]) for r in line_] == sorted((r[0], r[1]) for r in line_)
        start = int(flat.starts[index])
        assert flat.keys[index].tolist() == list(key)
        times = np.array([r[0] for r in line_], np.int64)
        values = np.array([r[2:] for r in line_], np.int64)
        steps = AGENT_STATES.weights(values[:-1]) * np.diff(times)[:, None]  # type: ignore[misc]
        want = np.concatenate([np.zeros((1, 9), np.int64), np.cumsum(steps, axis=0)])
        assert flat.sums[start : start + len(line_)].tolist() == want.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 23), min_size=1, max_size=12), min_size=1, max_size=40))
def test_keys_that_outgrow_their_room_keep_every_row_in_order_with_true_sums(
    batches: list[list[int]],
) -> None:
    """New rows for a few of 24 keys at a time, so that rooms run out one or several at
    once, mostly moved in place, sometimes laid out afresh, now and then in the same
    write as new keys that the spare room cannot hold: read after every batch."""
    rows, seen = TimelineRows(AGENT_STATES), set()
    for n, agents in enumerate(batches):
        events = [
            state(f"e{n}.{k}", 100 + n, agent=a, activeChats=k % 3) for k, a in enumerate(agents)
        ]
        rows.apply(rows_of(*events))
        seen |= {(a, 100 + n, event_key(f"e{n}.{k}")) for k, a in enumerate(agents)}
        _check(rows, seen)
