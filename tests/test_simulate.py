"""The traffic simulator: deterministic, valid, consistent, shaped like a real contact centre.

Most tests look at one simulated day and check it from its events alone: each chat's
story, the agents' load, and the queue samples, recomputed independently here.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

import httpx
import orjson
import pytest

from engactivity.clock import fixed_clock
from engactivity.core.events import validate_batch
from engactivity.core.timeframe import BUCKET_MS, span_for
from engactivity.ingest import Ingestor, Limits
from engactivity.methods import tables_of
from engactivity.simulate import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    ZERO,
    SimConfig,
    Simulation,
    Staffing,
    TrafficStream,
    add,
    build_layout,
    daily_factor,
    engagement_totals,
    generate_events,
    start_demo,
)
from engactivity.simulate.config import (
    AWAY_REASONS,
    BREAK_SHARE,
    BREAKS,
    CHAT_SPAN_MS,
    END_OF_SHIFT,
    PATIENCE_S,
    ROUTING_S,
)
from engactivity.simulate.model import RELEASE_MS
from engactivity.simulate.staff import ALL, EVENING, NIGHT, SEAM_MS
from engactivity.sinks import StoreSink
from engactivity.store import open_store
from tests.conftest import NOW_MS, Server
from tests.store.dbutil import totals

Event = dict[str, object]

# Midnight UTC of the conftest day, so hours of the day are easy to read.
DAY_START = NOW_MS - NOW_MS % DAY_MS
CONFIG = SimConfig(account="sim", agents=60, skills=6, rate=8.0, seed=42, duplicate_share=0.05)
LAYOUT = build_layout(CONFIG)
STAFFING = Staffing(CONFIG, LAYOUT)
LONGEST_WAIT_MS = (PATIENCE_S[3] + ROUTING_S[3] + 1) * 1000
"""A visitor is connected or gone this long after it arrived, at the latest."""
ROUTING_MS = (ROUTING_S[3] + 1) * 1000
"""A visitor is routable this long after it arrived, at the latest."""


def at(event: Event) -> int:
    time_ms = event["time"]
    assert isinstance(time_ms, int)
    return time_ms


def number(event: Event, key: str) -> int:
    value = event[key]
    assert isinstance(value, int)
    return value


@pytest.fixture(scope="module")
def day() -> list[Event]:
    return list(generate_events(CONFIG, DAY_START, DAY_START + DAY_MS))


@pytest.fixture(scope="module")
def unique(day: list[Event]) -> list[Event]:
    """Each event once, in time order."""
    return list({str(e["eventId"]): e for e in day}.values())


@pytest.fixture(scope="module")
def chats(unique: list[Event]) -> dict[str, dict[str, Event]]:
    """Per chat (its queued event in the day): its events by type."""
    out: dict[str, dict[str, Event]] = defaultdict(dict)
    for event in unique:
        if event["type"] != "queueState":
            out[str(event["eventId"])[2:]][str(event["type"])] = event
    return {chat: events for chat, events in out.items() if "queued" in events}


@pytest.fixture(scope="module")
def samples(unique: list[Event]) -> list[Event]:
    return [e for e in unique if e["type"] == "queueState"]


# -- determinism ---------------------------------------------------------------------------


def test_same_seed_same_events(day: list[Event]) -> None:
    assert list(generate_events(CONFIG, DAY_START, DAY_START + DAY_MS)) == day
    other = SimConfig(**{**CONFIG.__dict__, "seed": 43})
    assert list(generate_events(other, DAY_START, DAY_START + DAY_MS)) != day


def test_windows_do_not_change_the_events() -> None:
    """Live mode (many small windows) and backfill (one window) give the same stream."""
    start, end = DAY_START + 9 * HOUR_MS, DAY_START + 11 * HOUR_MS
    whole = list(generate_events(CONFIG, start, end))
    stream = TrafficStream(CONFIG, start)
    pieces: list[Event] = []
    cursor = start
    while cursor < end:
        cursor = min(end, cursor + 7_300)
        pieces += stream.take_until(cursor)
    assert pieces == whole
    assert stream.take_until(cursor) == []


@pytest.mark.parametrize(
    "config",
    [
        CONFIG,
        SimConfig(**{**CONFIG.__dict__, "utc_offset_hours": -5.75, "queue_state_period_s": 15}),
    ],
    ids=["utc", "offset"],
)
def test_the_start_does_not_change_the_events(config: SimConfig) -> None:
    """Streams started at different instants (the queues simulated from different
    hand-overs) agree on every event from the latest start on."""
    end = DAY_START + 13 * HOUR_MS
    starts = [
        DAY_START - 40 * HOUR_MS,
        DAY_START + 3 * HOUR_MS,
        DAY_START + 9 * HOUR_MS + 13 * MINUTE_MS,
        DAY_START + 11 * HOUR_MS,
    ]
    staffing = Staffing(config, build_layout(config))
    assert len({staffing.seam_before(s - CHAT_SPAN_MS) for s in starts}) >= 3
    latest = max(starts)
    seen = [[e for e in generate_events(config, s, end) if at(e) >= latest] for s in starts]
    assert len(seen[0]) > 1000
    assert all(events == seen[0] for events in seen)


def test_a_second_run_sends_nothing_new(tmp_path: Path) -> None:
    """What a simulation reports as accepted is exactly what the store then answers,
    and running it again (from a later start) stores nothing new."""
    clock = fixed_clock(NOW_MS)
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url, clock, tables_of())
    try:
        sink = StoreSink(Ingestor(store, clock, Limits()), "sim")
        sim = Simulation(CONFIG, sink, clock, batch_size=500, backfill_ms=3 * HOUR_MS)
        sim.backfill()
        report = sim.report
        assert report.accepted + report.duplicates == report.deliveries
        assert report.duplicates > 0 and report.rejected == 0 and report.totals_exact
        assert totals(url, "sim") == report.totals
        unique = {
            str(e["eventId"]): e for e in generate_events(CONFIG, NOW_MS - 3 * HOUR_MS, NOW_MS)
        }
        assert engagement_totals(list(unique.values())) == report.totals
        assert add(ZERO, report.totals) == report.totals
        for backfill in (3 * HOUR_MS, 2 * HOUR_MS + 7 * MINUTE_MS):
            again = Simulation(CONFIG, sink, clock, batch_size=500, backfill_ms=backfill)
            again.backfill()
            assert again.report.accepted == 0 and again.report.totals == ZERO
    finally:
        store.close()


# -- the events ----------------------------------------------------------------------------


def test_every_event_is_valid(day: list[Event]) -> None:
    events, problems = validate_batch(day, DAY_START + DAY_MS)
    assert problems == []
    assert len(events) == len(day)
    assert all(isinstance(e["time"], int) for e in day)
    assert set(Counter(e["type"] for e in day)) == {
        "queued",
        "connected",
        "abandoned",
        "closed",
        "queueState",
        "agentState",
    }


def test_events_fall_in_the_window(day: list[Event]) -> None:
    times = [at(e) for e in day]
    assert min(times) >= DAY_START
    assert max(times) < DAY_START + DAY_MS


def test_daily_curve_varies(day: list[Event], chats: dict[str, dict[str, Event]]) -> None:
    assert daily_factor(DAY_START + 3 * HOUR_MS) < 0.3
    assert daily_factor(DAY_START + 10 * HOUR_MS + 30 * MINUTE_MS) > 1.7
    mean = statistics.fmean(daily_factor(DAY_START + m * MINUTE_MS + 30_000) for m in range(1440))
    assert mean == pytest.approx(1.0)
    per_hour = Counter(at(e) // HOUR_MS % 24 for e in day if e["type"] == "connected")
    night = per_hour[2] + per_hour[3] + per_hour[4]
    business = per_hour[10] + per_hour[11] + per_hour[14]
    assert business > 4 * night > 0
    # rate is chats per minute averaged over the day
    assert len(chats) == pytest.approx(CONFIG.rate * 1440, rel=0.1)


def test_duplicates_at_the_configured_share(day: list[Event]) -> None:
    counts = Counter(str(e["eventId"]) for e in day)
    extra = sum(n - 1 for n in counts.values())
    assert max(counts.values()) == 2
    assert extra / len(counts) == pytest.approx(CONFIG.duplicate_share, abs=0.01)
    first: dict[str, Event] = {}
    for event in day:
        key = str(event["eventId"])
        if key in first:
            assert event == first[key]  # a redelivery repeats the event exactly
        first[key] = event
    none = SimConfig(**{**CONFIG.__dict__, "duplicate_share": 0.0})
    ids = [e["eventId"] for e in generate_events(none, DAY_START, DAY_START + 6 * HOUR_MS)]
    assert len(ids) == len(set(ids))


def check_answered(queued: Event, connected: Event, closed: Event | None) -> None:
    """A chat that reached an agent: its wait, its agent, its end."""
    assert at(connected) > at(queued)
    waited = (at(connected) - at(queued)) / 1000
    assert abs(number(connected, "waitTime") - waited) <= 1
    skill, agent = number(connected, "skillId"), number(connected, "agentId")
    assert queued["skillId"] == skill
    assert skill in LAYOUT.skills_by_agent[agent]
    assert connected["agentGroupId"] == LAYOUT.group_of[agent]
    if closed is None:  # still going at the end of the day
        return
    assert (closed["skillId"], closed["agentId"]) == (skill, agent)
    ended = at(closed) - at(connected) - 1000 * number(closed, "handlingTime")
    assert 0 <= ended < 1000


def check_abandoned(queued: Event, abandoned: Event, closed: Event) -> None:
    """A visitor who gave up: no agent, a non-interactive closed without agent."""
    assert at(abandoned) > at(queued)
    waited = (at(abandoned) - at(queued)) / 1000
    assert abs(number(abandoned, "waitTime") - waited) <= 1
    assert abandoned.get("skillId") == queued.get("skillId") == closed.get("skillId")
    assert at(closed) >= at(abandoned)
    assert closed["interactive"] is False and closed["handlingTime"] == 0
    assert "agentId" not in closed


def test_each_chat_tells_a_consistent_story(chats: dict[str, dict[str, Event]]) -> None:
    end = DAY_START + DAY_MS
    outcomes: Counter[str] = Counter()
    for events in chats.values():
        queued = events["queued"]
        assert not ("connected" in events and "abandoned" in events)
        if "connected" in events:
            check_answered(queued, events["connected"], events.get("closed"))
            outcomes["connected"] += 1
        elif "abandoned" in events:
            check_abandoned(queued, events["abandoned"], events["closed"])
            outcomes["abandoned" if "skillId" in queued else "no skill"] += 1
        else:
            assert at(queued) >= end - LONGEST_WAIT_MS, "waiting at the end of the day"
            assert "closed" not in events
    assert outcomes["connected"] > 0.9 * len(chats)
    assert outcomes["abandoned"] > 0 and outcomes["no skill"] > 0


def test_handling_times_and_non_interactive_chats(chats: dict[str, dict[str, Event]]) -> None:
    closed = [e["closed"] for e in chats.values() if "connected" in e and "closed" in e]
    handling = [number(e, "handlingTime") for e in closed if e["interactive"]]
    # right-skewed, around 7 minutes
    assert 300 < statistics.median(handling) < 600
    assert statistics.fmean(handling) > statistics.median(handling)
    assert max(handling) > 3 * statistics.median(handling)
    quiet = [number(e, "handlingTime") for e in closed if not e["interactive"]]
    assert len(quiet) / len(closed) == pytest.approx(CONFIG.non_interactive_share, abs=0.02)
    assert statistics.median(quiet) < 120


def test_agents_take_at_most_their_chats_and_only_on_duty(unique: list[Event]) -> None:
    active: Counter[int] = Counter()
    busiest: Counter[int] = Counter()
    for event in unique:
        if event["type"] == "connected":
            agent = number(event, "agentId")
            active[agent] += 1
            busiest[agent] = max(busiest[agent], active[agent])
            assert agent in on_duty(at(event)) or served_after_hand_over(event)
        elif event["type"] == "closed" and "agentId" in event:
            active[number(event, "agentId")] -= 1  # (chats of the day before go below 0)
    assert all(busiest[a] <= LAYOUT.max_chats[a] for a in busiest)
    assert sum(busiest[a] == LAYOUT.max_chats[a] for a in busiest) > len(LAYOUT.max_chats) / 2


def on_duty(time_ms: int) -> frozenset[int]:
    """The agents on duty for new visitors (by the staffing plan, which is an input)."""
    return _on_duty_from(STAFFING.block_start(time_ms))


@cache
def _on_duty_from(block_start: int) -> frozenset[int]:
    return frozenset(STAFFING.on_duty(block_start))


def served_after_hand_over(connected: Event) -> bool:
    """Just after a hand-over, the evening roster serves the visitors already waiting."""
    hand_over = STAFFING.seam_before(at(connected))
    waited = 1000 * number(connected, "waitTime")
    agent = number(connected, "agentId")
    return at(connected) - waited < hand_over + 1000 and agent in LAYOUT.orders[EVENING]


# -- the queues ------------------------------------------------------------------------------


class Moment(NamedTuple):
    """A sample, and what the events say about its instant."""

    sample: Event
    waiting: dict[int, dict[str, int]]
    """Per skill: the visitors queued and not yet connected nor gone, and when they came."""
    active: Counter[int]
    """Per agent: the chats in progress."""
    states: dict[int, str]
    """Per agent: its state by its latest ``agentState``."""


def replay(unique: list[Event]) -> Iterator[Moment]:
    """Each sample with its moment. Only chats whose first event is in the day count,
    so the moments are exact once every chat of the day before is over."""
    started: set[str] = set()
    waiting: dict[int, dict[str, int]] = defaultdict(dict)
    active: Counter[int] = Counter()
    states: dict[int, str] = {}
    for event in unique:  # in time order, samples after the other events of their instant
        kind, chat = event["type"], str(event["eventId"])[2:]
        skill = event.get("skillId")
        if kind == "queueState":
            yield Moment(event, waiting, active, states)
        elif kind == "agentState":
            states[number(event, "agentId")] = str(event["state"])
        elif kind == "queued":
            started.add(chat)
            if isinstance(skill, int):
                waiting[skill][chat] = at(event)
        elif chat not in started:
            continue
        elif kind in ("connected", "abandoned") and isinstance(skill, int):
            del waiting[skill][chat]
            if kind == "connected":
                active[number(event, "agentId")] += 1
        elif kind == "closed" and "agentId" in event:
            active[number(event, "agentId")] -= 1


def free_slots(skill: int, time_ms: int, active: Counter[int], states: dict[int, str]) -> int:
    """The free slots of the agents on duty for new visitors and not on a break."""
    agents = [a for a in on_duty(time_ms) if skill in LAYOUT.skills_by_agent[a]]
    return sum(LAYOUT.max_chats[a] - active[a] for a in agents if states.get(a) == "online")


def test_queue_samples_agree_with_the_events(unique: list[Event], samples: list[Event]) -> None:
    period = CONFIG.queue_state_period_s * 1000
    instants = Counter(at(s) for s in samples)
    assert len(instants) == DAY_MS // period
    assert all(t % period == 0 and n == CONFIG.skills for t, n in instants.items())
    checked = 0
    for sample, waiting, active, states in replay(unique):
        time_ms, skill = at(sample), number(sample, "skillId")
        if time_ms >= DAY_START + LONGEST_WAIT_MS:
            assert sample["queueSize"] == len(waiting[skill]), sample
        if time_ms >= DAY_START + CHAT_SPAN_MS:
            free = free_slots(skill, time_ms, active, states)
            assert sample["availableSlots"] == free, sample
            checked += 1
    assert checked > 0.85 * len(samples)


def test_nobody_waits_while_a_slot_is_free(unique: list[Event]) -> None:
    """A visitor routable while an agent of its skill has a free slot is connected at
    once; only the visitors of before a hand-over wait for the evening roster."""
    waited = 0
    for sample, waiting, _, _ in replay(unique):
        time_ms, skill = at(sample), number(sample, "skillId")
        queued = waiting[skill].values()
        if time_ms < DAY_START + LONGEST_WAIT_MS or not queued:
            continue
        hand_over = STAFFING.seam_before(time_ms)
        if number(sample, "availableSlots") == 0:
            waited += min(queued) < time_ms - ROUTING_MS
        elif time_ms >= hand_over + LONGEST_WAIT_MS:
            assert min(queued) >= time_ms - ROUTING_MS, sample
        else:
            assert all(t >= time_ms - ROUTING_MS or t < hand_over for t in queued), sample
    assert waited > 100


def test_queues_build_up_at_peaks_and_drain_at_night(
    chats: dict[str, dict[str, Event]], samples: list[Event]
) -> None:
    def window(hours: tuple[float, float]) -> tuple[float, float, float]:
        """Mean total queue size, share of visitors giving up, median wait."""
        lo, hi = (DAY_START + round(h * HOUR_MS) for h in hours)
        sizes = [number(s, "queueSize") for s in samples if lo <= at(s) < hi]
        inside = [c for c in chats.values() if lo <= at(c["queued"]) < hi and "closed" in c]
        gone = sum("abandoned" in c for c in inside)
        waits = [number(c["connected"], "waitTime") for c in inside if "connected" in c]
        return CONFIG.skills * statistics.fmean(sizes), gone / len(inside), statistics.median(waits)

    night_queue, night_gone, night_wait = window((2, 5))
    peak_queue, peak_gone, peak_wait = window((10, 11.5))
    after_queue, after_gone, _ = window((12.5, 13.5))
    assert peak_queue > 5 * night_queue and peak_queue > 2
    assert peak_gone > 4 * night_gone and peak_gone > 0.05
    assert peak_wait > 2 * night_wait
    assert after_queue < peak_queue / 3 and after_gone < peak_gone / 3
    assert night_queue < 0.4 and night_gone < 0.02 and night_wait <= 5


# -- the agents' states ----------------------------------------------------------------


class Timeline(NamedTuple):
    times: list[int]
    events: list[Event]
    """An agent's ``agentState`` events of the day, in time order."""

    def at(self, time_ms: int) -> Event | None:
        """The event in force at ``time_ms`` (that instant's own included)."""
        i = bisect.bisect_right(self.times, time_ms)
        return self.events[i - 1] if i else None


@pytest.fixture(scope="module")
def timelines(unique: list[Event]) -> dict[int, Timeline]:
    out: dict[int, list[Event]] = defaultdict(list)
    for event in unique:
        if event["type"] == "agentState":
            out[number(event, "agentId")].append(event)
    return {a: Timeline([at(e) for e in events], events) for a, events in out.items()}


def told(event: Event) -> tuple[object, ...]:
    return event["state"], event.get("reasonId"), event["activeChats"]


def test_agent_states_are_well_formed(timelines: dict[int, Timeline]) -> None:
    assert set(timelines) <= set(LAYOUT.max_chats) and len(timelines) > CONFIG.agents / 2
    for agent, (times, events) in timelines.items():
        assert times == sorted(set(times))  # one per agent and instant
        for event in events:
            assert event["eventId"] == f"g-{CONFIG.seed}-{agent}-{at(event)}"
            assert event["maxChats"] == LAYOUT.max_chats[agent]
            assert 0 <= number(event, "activeChats") <= LAYOUT.max_chats[agent]
            reason = event.get("reasonId")
            assert (reason is not None) == (event["state"] == "away")
            assert reason is None or reason in AWAY_REASONS
            assert event["state"] != "loggedOut" or event["activeChats"] == 0
        assert all(told(a) != told(b) for a, b in itertools.pairwise(events))  # a change each


def test_active_chats_are_the_agents_open_chats(unique: list[Event]) -> None:
    """After every instant, each agent's latest ``agentState`` counts its chats connected
    and not yet closed: one comes whenever that number changes. (Chats of the day before
    are all over after ``CHAT_SPAN_MS``.)"""
    open_chats: Counter[int] = Counter()
    latest: dict[int, int] = {}
    started: set[str] = set()
    changed: set[int] = set()
    checked = 0
    for instant, events in itertools.groupby(unique, at):
        for event in events:
            kind, chat = event["type"], str(event["eventId"])[2:]
            agent = event.get("agentId")
            if not isinstance(agent, int):
                continue
            if kind == "connected":
                started.add(chat)
                open_chats[agent] += 1
            elif kind == "closed" and chat in started:
                open_chats[agent] -= 1
            elif kind == "agentState":
                latest[agent] = number(event, "activeChats")
            changed.add(agent)
        if instant >= DAY_START + CHAT_SPAN_MS:
            for agent in changed & set(latest):
                assert latest[agent] == open_chats[agent], (instant, agent)
                checked += 1
        changed.clear()
    assert checked > 10_000


def test_agents_take_new_chats_only_while_online(
    unique: list[Event], timelines: dict[int, Timeline]
) -> None:
    connected = [e for e in unique if e["type"] == "connected"]
    states = [timelines[number(e, "agentId")].at(at(e)) for e in connected]
    assert all(s is None or s["state"] == "online" for s in states)
    assert sum(s is not None for s in states) > 0.99 * len(connected)


def finishing(agent: int, time_ms: int) -> bool:
    """After a hand-over, the evening roster serves the visitors already waiting."""
    hand_over = STAFFING.seam_before(time_ms)
    return time_ms < hand_over + RELEASE_MS and agent in LAYOUT.orders[EVENING]


def test_agents_log_in_and_out_with_the_staffing_plan(timelines: dict[int, Timeline]) -> None:
    """An agent logs in when the plan puts it on duty; once off duty it is away (end of
    shift) until its last chat closes, then logs out."""
    logins = logouts = 0
    for agent, (_, events) in timelines.items():
        for before, event in itertools.pairwise([None, *events]):
            time_ms, state = at(event), event["state"]
            if state == "online":
                assert agent in on_duty(time_ms) or finishing(agent, time_ms), event
            if before is not None and before["state"] == "loggedOut":
                assert state == "online" and STAFFING.block_start(time_ms) == time_ms
                logins += 1
            if state == "loggedOut" or event.get("reasonId") == END_OF_SHIFT:
                assert agent not in on_duty(time_ms), event
                logouts += state == "loggedOut"
    assert logins > CONFIG.agents / 2 and logouts > CONFIG.agents / 2


def breaks(timelines: dict[int, Timeline]) -> Iterator[tuple[int, Event, Event]]:
    """Each break (away but for the end of a shift, or back soon) that began and ended in
    the day: the agent, its first event, and the first event after it."""
    for agent, (_, events) in timelines.items():
        begin: Event | None = None
        for before, event in itertools.pairwise(events):
            kind = event["state"], event.get("reasonId")
            if begin is not None and kind != (begin["state"], begin.get("reasonId")):
                yield agent, begin, event
                begin = None
            if begin is None and kind[0] in ("away", "backSoon") and kind[1] != END_OF_SHIFT:
                begin = event if kind != (before["state"], before.get("reasonId")) else None


def test_agents_on_duty_take_breaks(timelines: dict[int, Timeline]) -> None:
    lengths: dict[str | None, list[int]] = defaultdict(list)
    for agent, begin, end in breaks(timelines):
        reason = begin.get("reasonId")
        assert isinstance(reason, str | None)
        assert agent in on_duty(at(begin))
        length = at(end) - at(begin)
        shortest, longest = next((lo, hi) for r, _, lo, hi in BREAKS if r == reason)
        assert length <= longest * MINUTE_MS
        cut_short = STAFFING.block_start(at(end)) == at(end)  # off duty, or a hand-over
        assert cut_short or (end["state"] == "online" and length >= shortest * MINUTE_MS)
        lengths[reason].append(length)
    assert set(lengths) == {None, "1", "2", "3", "4"}
    on_duty_ms = sum(DAY_MS // 48 * len(on_duty(DAY_START + b * DAY_MS // 48)) for b in range(48))
    away_ms = sum(sum(values) for values in lengths.values())
    assert away_ms / on_duty_ms == pytest.approx(BREAK_SHARE, rel=0.4)


def test_without_breaks_the_other_events_are_those_of_before() -> None:
    """With breaks off, the chat and queue events of a seed are exactly those the
    simulator made before it sent ``agentState`` events (their digest, then)."""
    config = SimConfig(**{**CONFIG.__dict__, "breaks": False})
    events = list(generate_events(config, DAY_START + 9 * HOUR_MS, DAY_START + 11 * HOUR_MS))
    others = [e for e in events if e["type"] != "agentState"]
    digest = "a717740cc73dafe0a907f27202546993a7da7aaf2aca85ed7bc910593e40e7bd"
    assert hashlib.sha256(orjson.dumps(others)).hexdigest() == digest
    states = {(e["state"], e.get("reasonId")) for e in events if e["type"] == "agentState"}
    assert states <= {("online", None), ("loggedOut", None), ("away", END_OF_SHIFT)}
    assert ("online", None) in states


# -- who serves what, when ---------------------------------------------------------------


def test_agents_skills_groups_and_rosters() -> None:
    agents = set(LAYOUT.skills_by_agent)
    assert len(agents) == CONFIG.agents
    assert all(1 <= len(s) <= 5 for s in LAYOUT.skills_by_agent.values())
    assert all(LAYOUT.agents_by_skill[s] for s in LAYOUT.skill_ids)
    assert set(LAYOUT.max_chats.values()) == {2, 3}
    assert 1 < len(set(LAYOUT.group_of.values())) < 10
    both, evening, night = LAYOUT.orders
    assert sorted(both) == sorted(agents) and not set(evening) & set(night)
    for roster, least in zip(LAYOUT.orders, LAYOUT.least, strict=True):
        covered = {s for a in roster[:least] for s in LAYOUT.skills_by_agent[a]}
        assert covered == set(LAYOUT.skill_ids)


def test_staffing_follows_the_day_with_a_hand_over_at_night() -> None:
    hand_over = STAFFING.seam_before(DAY_START + 12 * HOUR_MS)
    assert hand_over == DAY_START + HOUR_MS  # 01:00 local
    assert STAFFING.mode(hand_over - 1) == EVENING
    assert STAFFING.mode(hand_over) == NIGHT
    assert STAFFING.mode(hand_over + SEAM_MS) == ALL
    assert set(on_duty(hand_over - 1)) <= set(LAYOUT.orders[EVENING])
    assert set(on_duty(hand_over)) <= set(LAYOUT.orders[NIGHT])
    # The roster taking new visitors after the hand-over took none before it for longer
    # than a chat can last.
    before = range(hand_over - CHAT_SPAN_MS, hand_over, 60_000)
    assert not {a for t in before for a in on_duty(t)} & set(on_duty(hand_over))
    counts = {h: len(on_duty(DAY_START + h * HOUR_MS)) for h in range(24)}
    assert counts[3] < counts[10] / 3 and counts[22] < counts[15] / 2
    shifted = Staffing(SimConfig(**{**CONFIG.__dict__, "utc_offset_hours": 5.5}), LAYOUT)
    assert shifted.seam_before(DAY_START + 12 * HOUR_MS) == DAY_START + HOUR_MS - 5.5 * HOUR_MS


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        SimConfig(agents=0)
    with pytest.raises(ValueError):
        SimConfig(duplicate_share=1.5)
    with pytest.raises(ValueError):
        SimConfig(non_interactive_share=-0.1)
    with pytest.raises(ValueError, match="divide a minute"):
        SimConfig(queue_state_period_s=7)
    with pytest.raises(ValueError):
        SimConfig(peak_staffing=0)
    assert SimConfig(queue_state_period_s=60).queue_state_period_s == 60


# -- the demo and a real server ----------------------------------------------------------


def test_demo_backfills_quickly(tmp_path: Path) -> None:
    clock = fixed_clock(NOW_MS)
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}", clock, tables_of())
    try:
        demo = start_demo(Ingestor(store, clock, Limits()))
        assert demo.backfilled.wait(20)
        demo.stop()
        report = demo.simulation.report
        assert report.accepted > 10_000 and report.totals_exact
        assert report.start_ms == NOW_MS - DAY_MS
    finally:
        store.close()


def queue_cells(events: list[Event], lo: int, hi: int) -> dict[int, dict[str, int]]:
    """Queue health's counters per skill, straight from the events of ``[lo, hi)``."""
    cells: dict[int, dict[str, int]] = defaultdict(Counter)
    sizes: dict[int, list[int]] = defaultdict(list)
    slots: dict[int, list[int]] = defaultdict(list)
    for event in events:
        if not lo <= at(event) < hi:
            continue
        skill = event.get("skillId")
        cell = cells[skill if isinstance(skill, int) else -1]
        kind = event["type"]
        if kind == "queued":
            cell["enteredQEng"] += 1
        elif kind == "connected":
            cell["connectedEng"] += 1
            cell["totalTimeToAnswer"] += number(event, "waitTime")
        elif kind == "abandoned":
            cell["abandonedEng"] += 1
            cell["totalTimeToAbandon"] += number(event, "waitTime")
        elif kind == "queueState":
            sizes[number(event, "skillId")].append(number(event, "queueSize"))
            slots[number(event, "skillId")].append(number(event, "availableSlots"))
    for skill, values in sizes.items():
        cells[skill].update(
            maxQueueSize=max(values),
            minQueueSize=min(values),
            queueSizeSum=sum(values),
            queueSizeCount=len(values),
            maxAvailableSlots=max(slots[skill]),
            minAvailableSlots=min(slots[skill]),
            availableSlotsSum=sum(slots[skill]),
            availableSlotsCount=len(slots[skill]),
        )
    return {skill: dict(cell) for skill, cell in cells.items() if cell}


def test_a_simulation_answers_consistently_through_a_server(tmp_path: Path) -> None:
    """Queue health, current queue state and the SLA histogram of a real server fed
    with simulated traffic (duplicates included) agree with the simulation's events."""
    sent = list(generate_events(CONFIG, NOW_MS - 4 * HOUR_MS, NOW_MS))
    events = list({str(e["eventId"]): e for e in sent}.values())
    srv = Server(tmp_path).start()
    try:
        for start in range(0, len(sent), 5000):
            answer = srv.send("sim", sent[start : start + 5000])
            assert answer.status_code == 200, answer.text

        def get(method: str, **params: object) -> dict[str, object]:
            url = f"{srv.base_url}/operations/api/account/sim/{method}"
            answer = httpx.get(url, params={"v": 1, **params}, timeout=30)
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        span = span_for(NOW_MS, 180)
        lo, hi = span.first * BUCKET_MS, (span.last + 1) * BUCKET_MS
        check_queue_health(get("queuehealth", timeframe=180, skillIds="all"), events, lo, hi)
        check_queue_state(get("queuestate"), events)
        for filters in ({}, {"skillIds": "1,2"}, {"groupIds": "1"}):
            answer = get("sla", timeframe=180, **filters)
            assert answer == sla(events, lo, hi, **filters), filters
    finally:
        srv.stop()


def check_queue_health(answer: dict[str, object], events: list[Event], lo: int, hi: int) -> None:
    expected = queue_cells(events, lo, hi)
    skills = answer["skillsMetrics"]
    assert isinstance(skills, dict)
    assert set(skills) == {str(s) for s in expected}
    assert len(expected) == CONFIG.skills + 1  # and -1: visitors without a skill
    for skill, cell in expected.items():
        assert {k: skills[str(skill)][k] for k in cell} == cell, skill
    totals = answer["metricsTotals"]
    assert isinstance(totals, dict)
    for key in ("enteredQEng", "connectedEng", "abandonedEng", "totalTimeToAnswer"):
        assert totals[key] == sum(c.get(key, 0) for c in expected.values())
    assert totals["maxQueueSize"] == sum(c.get("maxQueueSize", 0) for c in expected.values())
    current = latest_samples(events)
    assert totals["currentQueueSize"] == sum(q for q, _ in current.values())
    assert totals["currentAvailableSlots"] == sum(s for _, s in current.values())


def latest_samples(events: list[Event]) -> dict[int, tuple[int, int]]:
    """Per skill: queue size and available slots of its newest sample."""
    out: dict[int, tuple[int, int, str, int, int]] = {}
    for e in events:
        if e["type"] == "queueState":
            key = (at(e), str(e["eventId"]), number(e, "queueSize"), number(e, "availableSlots"))
            skill = number(e, "skillId")
            if skill not in out or key > out[skill][1:3]:
                out[skill] = (skill, *key)
    return {skill: (v[3], v[4]) for skill, v in out.items()}


def check_queue_state(answer: dict[str, object], events: list[Event]) -> None:
    current = latest_samples(events)
    assert answer["skills"] == {
        str(skill): {"currentAvailableSlots": slots, "currentQueueSize": size}
        for skill, (size, slots) in sorted(current.items())
    }


def sla(events: list[Event], lo: int, hi: int, **filters: str) -> dict[str, object]:
    """The SLA histogram with the default edges, straight from the events."""
    edges = (0, 15, 30, 45, 60, 90, 120)
    skills = {int(s) for s in filters.get("skillIds", "").split(",") if s}
    groups = {int(g) for g in filters.get("groupIds", "").split(",") if g}
    chats = [0] * len(edges)
    for e in events:
        if e["type"] != "connected" or not lo <= at(e) < hi:
            continue
        if (skills and e["skillId"] not in skills) or (groups and e["agentGroupId"] not in groups):
            continue
        chats[max(i for i, edge in enumerate(edges) if number(e, "waitTime") >= edge)] += 1
    total = sum(chats)
    assert total > 100 and sum(chats[1:]) > 0  # some waited
    ranges: dict[str, object] = {}
    for i, edge in enumerate(edges):
        ranges[str(edge)] = {
            "accumulated": sum(chats[: i + 1]) / total,
            "percentageFromTotal": chats[i] / total,
            "chats": chats[i],
        }
    return {"slaDataRange": ranges}
