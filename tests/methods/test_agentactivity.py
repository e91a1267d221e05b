"""Agent Activity in process: the method (fold, read, render, its cache of past
intervals) against tests/oracle_agents.py on random timelines, and the pure rules of
its ranges and seconds."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Hashable, Sized
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.events import validate_event
from engactivity.methods.agentactivity import AGENTACTIVITY, live, parse
from engactivity.methods.agentactivity.live import RangeEntries
from engactivity.methods.agentactivity.measure import (
    Int64s,
    Measured,
    Range,
    Reasons,
    ends,
    measure,
    measured_with_ends,
    ranges,
)
from engactivity.methods.agentactivity.render import seconds
from engactivity.methods.agentactivity.timeline import AGENT_STATES
from engactivity.methods.method import Piece
from engactivity.store.memory import AccountState
from engactivity.store.tables import fold_all
from engactivity.store.timelines import TimelineRows, Timelines
from tests.conftest import MIN, NOW_MS
from tests.oracle_agents import agentactivity, same

Event = dict[str, Any]
_MEASURE = importlib.import_module("engactivity.methods.agentactivity.measure")
"""The module (the package's ``measure`` is its function)."""


class Parts:
    """The fragments an answer keeps between requests (as the answer cache does)."""

    def __init__(self) -> None:
        self.kept: dict[Hashable, tuple[int, Sized]] = {}
        self.hits = 0
        """Rendered intervals reused."""
        self.window_hits = 0
        """Kept measures (the middle pieces of ranges) reused."""
        self.entries_found = 0
        """Kept agent entries found (of a range that ends at now)."""

    def get(self, part: Hashable, stamp: int, kind: type[Piece]) -> Piece | None:
        found = self.kept.get(part)
        if found is None or found[0] != stamp or not isinstance(found[1], kind):
            return None
        if kind is bytes:
            self.hits += 1
        elif kind is Measured:
            self.window_hits += 1
        elif kind is RangeEntries:
            self.entries_found += 1
        return found[1]

    def put(self, part: Hashable, stamp: int, piece: Sized) -> None:
        self.kept[part] = (stamp, piece)


def apply(state: AccountState, events: list[Event]) -> None:
    valid = [validate_event(event, 0, NOW_MS + 60 * MIN) for event in events]
    assert not any(isinstance(event, list) for event in valid), valid
    with state.lock:
        state.apply([rows.items() for rows in fold_all([AGENT_STATES], valid)])  # type: ignore[arg-type]


def answer(state: AccountState, params: dict[str, object], now: int, parts: Parts) -> Any:
    query = parse(params)
    with state.lock:
        got = AGENTACTIVITY.read(query, now, state, parts)
    return orjson.loads(AGENTACTIVITY.render(query, now, got, parts))


_states = st.sampled_from(["online", "online", "backSoon", "away", "away", "loggedOut"])


@st.composite
def agent_events(draw: st.DrawFn, count: int) -> list[Event]:
    events = []
    for n in range(count):
        state = draw(_states)
        event: Event = {
            "eventId": draw(st.sampled_from(["a", "B", "é", "_"])) + str(n),
            "type": "agentState",
            "time": NOW_MS - draw(st.integers(0, 30 * 60 * MIN)),
            "agentId": draw(st.sampled_from([1, 2, 3, -5, 2**63 - 1])),
            "state": state,
            "activeChats": draw(st.none() | st.integers(0, 4)),
            "maxChats": draw(st.none() | st.integers(1, 3)),
        }
        if state == "away":
            event["reasonId"] = draw(st.none() | st.sampled_from(["9", "10", "x", 7]))
        events.append(event)
    return events


queries = st.fixed_dictionaries(
    {
        "v": st.just("1"),
        "timeframe": st.sampled_from([1, 7, 20, 60, 240, 1440]),
        "agentIds": st.sampled_from(["all", "1,2", "3,-5,99", str(2**63 - 1)]),
    },
    optional={"interval": st.sampled_from([5, 10, 60])},
).filter(lambda q: "interval" not in q or q["timeframe"] % q["interval"] == 0)


@settings(max_examples=150, deadline=None)
@given(
    agent_events(40),
    agent_events(8),
    queries,
    st.lists(st.integers(0, 20 * MIN), min_size=2, max_size=4),
)
def test_answers_equal_the_oracle_as_time_passes_and_late_events_come(
    first: list[Event], late: list[Event], params: dict[str, object], steps: list[int]
) -> None:
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, first)
    now = NOW_MS
    for step in steps:  # later and later: the past intervals' parts are reused
        now += step
        same(answer(state, params, now, parts), agentactivity(first, now, params))
    for event in late:
        event["eventId"] = "late-" + str(event["eventId"])
    apply(state, late)  # before the parts' ends: none of those may be reused wrongly
    same(answer(state, params, now, parts), agentactivity(first + late, now, params))


def test_past_intervals_are_reused_until_an_event_before_their_end() -> None:
    state, parts = AccountState([AGENT_STATES]), Parts()
    on = {"type": "agentState", "agentId": 1, "state": "online"}
    events = [{**on, "eventId": "a", "time": NOW_MS - 200 * MIN}]
    apply(state, events)
    params: dict[str, object] = {"v": 1, "timeframe": 120, "interval": 10, "agentIds": "all"}
    answer(state, params, NOW_MS, parts)  # at 13:29: 13 intervals, 13:20-13:29 to 11:29-11:30
    answer(state, params, NOW_MS + 1, parts)
    assert parts.hits == 11  # all but the newest (it ends at now) and the oldest (it moved)
    # The window's, the newest interval's and the oldest's (they move with now) carried on.
    assert (parts.entries_found, parts.window_hits) == (3, 0)
    events.append({**on, "eventId": "b", "time": NOW_MS, "state": "away"})
    apply(state, events[-1:])
    answer(state, params, NOW_MS + 2, parts)
    assert parts.hits == 22  # an event at now changes no past interval
    assert parts.entries_found == 6
    events.append({**on, "eventId": "c", "time": NOW_MS - 30 * MIN, "state": "backSoon"})
    apply(state, events[-1:])
    got = answer(state, params, NOW_MS + 3, parts)
    assert parts.hits == 30  # at 12:59: the intervals ending at 13:00 and later are made anew
    assert parts.entries_found == 9  # carried on, the agent measured again
    same(got, agentactivity(events, NOW_MS + 3, params))


def test_past_intervals_late_events_make_again_keep_their_entries_and_are_patched() -> None:
    state, parts = AccountState([AGENT_STATES]), Parts()
    events = [
        {"type": "agentState", "eventId": f"a{agent}", "time": NOW_MS - 200 * MIN}
        | {"agentId": agent, "state": "online"}
        for agent in (1, 2, 3)
    ]
    apply(state, events)
    params: dict[str, object] = {"v": 1, "timeframe": 120, "interval": 10, "agentIds": "all"}

    def late(event_id: str, agent: int, minutes: int, kind: str) -> None:
        event = {"type": "agentState", "eventId": event_id, "time": NOW_MS - minutes * MIN}
        events.append(event | {"agentId": agent, "state": kind})
        apply(state, events[-1:])

    def kept_past() -> int:
        return sum(isinstance(name, tuple) and name[0] == "entries at" for name in parts.kept)

    def checked(now: int) -> None:
        got = answer(state, params, now, parts)
        assert got == answer(state, params, now, Parts())
        same(got, agentactivity(events, now, params))

    now = NOW_MS
    checked(now)  # every past interval made for the first time: none keeps entries
    assert kept_past() == 0
    late("b", 1, 35, "away")  # the agent's state changes in every interval from there on
    now += 1
    _, *intervals = ranges(now, 120, 10)
    reached = [r for r in intervals[1:-1] if r.hi > NOW_MS - 35 * MIN]
    assert len(reached) == 3
    checked(now)  # made again: measured whole, and their entries kept
    assert kept_past() == len(reached)
    found = parts.entries_found
    late("c", 2, 33, "backSoon")
    checked(now)
    # The window's, the newest interval's and each reached one's, patched (the oldest
    # ends before 12:56: its text is kept).
    assert parts.entries_found == found + 2 + len(reached)
    late("e", 3, 0, "online")  # at now: no past interval changes
    found, hits = parts.entries_found, parts.hits
    checked(now + 1)
    assert (parts.entries_found, parts.hits) == (found + 3, hits + len(intervals) - 2)


@given(
    st.integers(NOW_MS - 10**9, NOW_MS + 10**9),
    st.sampled_from([(t, i) for t in (5, 20, 60, 1200, 1440) for i in (5, 10, 60, 600, 1440)]),
)
def test_intervals_partition_the_window_newest_first(now: int, sizes: tuple[int, int]) -> None:
    timeframe, interval = sizes
    if interval > timeframe or timeframe % interval:
        return
    window, *parts = ranges(now, timeframe, interval)
    assert (window.lo, window.hi) == (now - timeframe * MIN, now)
    assert parts[0].hi == now and parts[-1].lo == window.lo
    for newer, older in itertools.pairwise(parts):
        assert older.hi == newer.lo and older.timestamp is not None
        assert newer.timestamp is not None and newer.timestamp > older.timestamp
    assert all(r.lo <= r.hi for r in parts)


@given(st.lists(st.tuples(*[st.integers(0, 10**9)] * 3), min_size=1, max_size=20))
def test_seconds_add_up_and_never_go_negative(rows: list[tuple[int, int, int]]) -> None:
    ms = np.array([(t, min(c, t), min(f, t)) for t, c, f in rows], np.int64)
    got = seconds(ms)
    assert (got[:, 0] == ms[:, 0] // 1000).all()
    assert (got[:, 1] + got[:, 2] == got[:, 0]).all()
    assert (got >= 0).all()


@settings(max_examples=150, deadline=None)
@given(
    agent_events(30),
    st.lists(agent_events(3), min_size=1, max_size=4),
    queries,
    st.sampled_from([0, 1, 10 * MIN]),
)
def test_entries_patched_after_writes_equal_an_answer_made_afresh(
    first: list[Event], writes: list[list[Event]], params: dict[str, object], later: int
) -> None:
    # The clock stands (or moves once): the ranges that end at now are patched per agent.
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, first)
    answer(state, params, NOW_MS, parts)
    now, events = NOW_MS + later, list(first)
    for n, batch in enumerate(writes):
        for event in batch:  # new events, at any time, of old agents or new ones
            event["eventId"] = f"w{n}-{event['eventId']}"
        apply(state, batch)
        events += batch
        got = answer(state, params, now, parts)
        assert got == answer(state, params, now, Parts())
        same(got, agentactivity(events, now, params))
    version = state.timeline(AGENT_STATES).version
    kept = [piece for _, piece in parts.kept.values() if isinstance(piece, RangeEntries)]
    assert any(entries.version == version for entries in kept)  # the last answer kept its own
    if not later:  # every answer after a write patched the window's entries
        assert parts.entries_found >= len(writes)


def test_entries_kept_of_other_timelines_are_not_patched() -> None:
    # A reloaded account has other timelines: entries kept of the old ones are not used.
    on = {"type": "agentState", "agentId": 1, "state": "online"}
    reloaded, state, parts = AccountState([AGENT_STATES]), AccountState([AGENT_STATES]), Parts()
    apply(reloaded, [{**on, "eventId": "a", "time": NOW_MS - 5 * MIN}])  # older versions
    apply(state, [{**on, "eventId": "b", "time": NOW_MS - 30 * MIN}])
    params: dict[str, object] = {"v": 1, "timeframe": 60, "agentIds": "all"}
    first = answer(state, params, NOW_MS, parts)
    got = answer(reloaded, params, NOW_MS, parts)
    assert parts.entries_found == 1
    assert got != first and got == answer(reloaded, params, NOW_MS, Parts())


@settings(max_examples=150, deadline=None)
@given(
    agent_events(30),
    st.lists(st.tuples(st.integers(0, 3_000), st.none() | agent_events(2)), min_size=2, max_size=6),
    queries,
)
def test_entries_reused_as_the_clock_moves_equal_an_answer_made_afresh(
    first: list[Event], steps: list[tuple[int, list[Event] | None]], params: dict[str, object]
) -> None:
    # A running clock: every answer is of another moment, a few ms or seconds on, with
    # writes between some; the entries whose inputs stayed the same are reused.
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, first)
    answer(state, params, NOW_MS, parts)
    for n, (_, batch) in enumerate(steps):
        for event in batch or []:
            event["eventId"] = f"s{n}-{event['eventId']}"
    walk_the_clock(state, params, parts, list(first), NOW_MS, steps)


def walk_the_clock(
    state: AccountState,
    params: dict[str, object],
    parts: Parts,
    events: list[Event],
    now: int,
    steps: list[tuple[int, list[Event] | None]],
) -> None:
    """Answers as the clock moves on by each step (its batch, if any, sent first): each
    equal to one made afresh and to the oracle."""
    for step, batch in steps:
        if batch is not None:
            apply(state, batch)
            events += batch
        now += step
        got = answer(state, params, now, parts)
        assert got == answer(state, params, now, Parts())
        same(got, agentactivity(events, now, params))


@st.composite
def dense_events(draw: st.DrawFn, count: int, tag: str) -> list[Event]:
    """Events a few seconds apart around now and a minute before (the window's two ends
    for a timeframe of 1): a clock moving by seconds moves the ends past steps."""
    events = draw(agent_events(count))
    for n, event in enumerate(events):
        event["eventId"] = f"{tag}{n}-{event['eventId']}"
        event["time"] = NOW_MS - draw(st.sampled_from([0, MIN])) + draw(st.integers(-20, 20)) * 250
    return events


@settings(max_examples=200, deadline=None)
@given(
    dense_events(30, "d"),
    st.lists(
        st.tuples(st.integers(0, 4_000), st.none() | st.integers(1, 4)), min_size=2, max_size=8
    ),
    st.sampled_from(
        [
            {"v": 1, "timeframe": 1, "agentIds": "all"},
            {"v": 1, "timeframe": 5, "interval": 5, "agentIds": "all"},
            {"v": 1, "timeframe": 1, "agentIds": "1,2,-5"},
        ]
    ),
    st.data(),
)
def test_measures_carried_on_past_steps_and_reasons_equal_the_oracle(
    first: list[Event],
    steps: list[tuple[int, int | None]],
    params: dict[str, object],
    data: st.DataObject,
) -> None:
    # A clock moving by up to seconds over steps a quarter of a second apart, at both
    # ends of the window, away with reasons among them, and writes between some answers.
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, first)
    answer(state, params, NOW_MS - 10_000, parts)
    batches = [
        (step, None if n is None else data.draw(dense_events(n, f"w{k}.")))
        for k, (step, n) in enumerate(steps)
    ]
    walk_the_clock(state, params, parts, list(first), NOW_MS - 10_000, batches)
    assert parts.entries_found


@settings(max_examples=60, deadline=None)
@given(agent_events(30), st.lists(agent_events(2), min_size=3, max_size=6), queries)
def test_patches_joined_in_when_too_many_or_the_clock_moves_equal_the_oracle(
    first: list[Event], writes: list[list[Event]], params: dict[str, object]
) -> None:
    # Writes at a standing clock keep their agents apart as patches (joined in after
    # two here, as after 64 in life), then the clock moves and they are joined in.
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, first)
    events = list(first)
    answer(state, params, NOW_MS, parts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live, "_MOST_PATCHES", 2)
        for n, batch in enumerate(writes):
            for event in batch:
                event["eventId"] = f"p{n}-{event['eventId']}"
            apply(state, batch)
            events += batch
            assert answer(state, params, NOW_MS, parts) == answer(state, params, NOW_MS, Parts())
        later = NOW_MS + 1500
        got = answer(state, params, later, parts)
    assert got == answer(state, params, later, Parts())
    same(got, agentactivity(events, later, params))


def test_an_agents_entry_is_reused_when_its_seconds_did_not_change() -> None:
    on = {"type": "agentState", "agentId": 1, "state": "online"}
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, [{**on, "eventId": "a", "time": NOW_MS - 90 * MIN}])  # online all window
    apply(state, [{**on, "eventId": "b", "agentId": 2, "time": NOW_MS - 30 * MIN - 500}])
    params: dict[str, object] = {"v": 1, "timeframe": 60, "agentIds": "all"}

    def entries() -> RangeEntries:
        (kept,) = [p for _, p in parts.kept.values() if isinstance(p, RangeEntries)]
        return kept

    answer(state, params, NOW_MS, parts)
    before = entries().texts
    got = answer(state, params, NOW_MS + 600, parts)  # agent 2's second ticks over
    after = entries().texts
    assert after[1] is before[1]  # the same seconds: the text kept
    assert after[2] != before[2]
    assert got == answer(state, params, NOW_MS + 600, Parts())


def test_kept_measures_are_carried_on_after_rows_move_in_the_arrays() -> None:
    # One agent's writes outgrow its room: the rows after it move along the arrays (as
    # a live account's do). What is kept holds no row's place, so the next answers
    # are still carried on, never measured whole, and equal the oracle.
    first = [
        {"type": "agentState", "eventId": f"f{a}", "agentId": a, "state": "online",
         "time": NOW_MS - 90 * MIN}
        for a in (1, 2, 3)
    ]  # fmt: skip
    state, parts = AccountState([AGENT_STATES]), Parts()
    apply(state, first)
    params: dict[str, object] = {"v": 1, "timeframe": 60, "interval": 10, "agentIds": "all"}
    answer(state, params, NOW_MS, parts)
    moves, whole = [0], [0]
    grow, fresh = TimelineRows._grow, live.fresh

    def counted_grow(rows: TimelineRows, needs: dict[int, int]) -> bool:
        moves[0] += 1
        return grow(rows, needs)

    def counted_fresh(*args: Any) -> RangeEntries:
        whole[0] += 1
        return fresh(*args)

    writes: list[Event] = [
        {"type": "agentState", "eventId": f"w{n}", "agentId": 1, "state": "online",
         "time": NOW_MS + n * 1000}
        for n in range(40)
    ]  # fmt: skip
    for event in writes[::2]:
        event.update(state="away", reasonId="9")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TimelineRows, "_grow", counted_grow)
        patch.setattr(live, "fresh", counted_fresh)
        for n, event in enumerate(writes):
            apply(state, [event])
            now = NOW_MS + n * 1000 + 700
            got = answer(state, params, now, parts)
            same(got, agentactivity(first + writes[: n + 1], now, params))
    assert moves[0] >= 2
    assert whole[0] == 0


ranges_near_now = st.lists(
    st.tuples(st.integers(-40 * MIN, 0), st.integers(0, 40 * MIN)), min_size=1, max_size=4
)
"""Ranges (start, length from it) about now, overlapping or not."""


def timelines_asked(
    events: list[Event], spans: list[tuple[int, int]], data: st.DataObject
) -> tuple[Timelines, Int64s, list[Range]]:
    """The timelines of ``events``, some of them (by agent id) and ``spans`` as ranges."""
    state = AccountState([AGENT_STATES])
    apply(state, events)
    timelines = state.timeline(AGENT_STATES).timelines()
    picked = data.draw(st.sets(st.integers(0, len(timelines.keys) - 1)))
    lines = np.array(sorted(picked), np.int64)
    lines = lines[np.argsort(timelines.keys[lines, 0], kind="stable")]
    return timelines, lines, [Range(None, NOW_MS + lo, NOW_MS + lo + n) for lo, n in spans]


def assert_same_reasons(one: Reasons, other: Reasons) -> None:
    for name in ("agents", "codes", "ms"):
        assert np.array_equal(getattr(one, name), getattr(other, name)), name
    assert one.ids.tolist() == other.ids.tolist()


@settings(max_examples=100, deadline=None)
@given(agent_events(30), ranges_near_now, st.data())
def test_measures_and_ends_found_together_equal_each_found_alone(
    events: list[Event], spans: list[tuple[int, int]], data: st.DataObject
) -> None:
    timelines, lines, rs = timelines_asked(events, spans, data)
    together = measured_with_ends(timelines, lines, rs)
    for (measured, at), alone, alone_at in zip(
        together, measure(timelines, lines, rs), ends(timelines, lines, rs), strict=True
    ):
        assert np.array_equal(measured.agents, alone.agents)
        assert np.array_equal(measured.ms, alone.ms)
        assert_same_reasons(measured.reasons, alone.reasons)
        for name in ("lines", "weights", "nexts", "codes"):
            assert np.array_equal(getattr(at, name), getattr(alone_at, name)), name


@settings(max_examples=100, deadline=None)
@given(agent_events(40), ranges_near_now, st.data())
def test_away_by_reason_of_a_few_agents_equals_that_of_many(
    events: list[Event], spans: list[tuple[int, int]], data: st.DataObject
) -> None:
    # A few agents' steps are looked at in place, many agents' copied out per range: the
    # two ways must find the same rows (the oracle tests' five agents take the first).
    timelines, lines, rs = timelines_asked(events, spans, data)
    found = {}
    for few in (0, 10**6):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_MEASURE, "_FEW", few)
            found[few] = measure(timelines, lines, rs)
    for one, other in zip(found[0], found[10**6], strict=True):
        assert_same_reasons(one.reasons, other.reasons)
