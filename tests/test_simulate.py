"""The traffic simulator: deterministic, valid, shaped like a real contact centre."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

import pytest

from engactivity.clock import fixed_clock
from engactivity.core.events import validate_batch
from engactivity.ingest import Ingestor, Limits
from engactivity.methods import tables_of
from engactivity.simulate import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    ZERO,
    SimConfig,
    Simulation,
    TrafficStream,
    add,
    build_layout,
    daily_factor,
    engagement_totals,
    generate_events,
    start_demo,
)
from engactivity.sinks import StoreSink
from engactivity.store import open_store
from tests.conftest import NOW_MS
from tests.store.dbutil import totals

# Midnight UTC of the conftest day, so hours of the day are easy to read.
DAY_START = NOW_MS - NOW_MS % DAY_MS
CONFIG = SimConfig(account="sim", agents=30, skills=6, rate=8.0, seed=42, duplicate_share=0.05)


@pytest.fixture(scope="module")
def day() -> list[dict[str, object]]:
    return list(generate_events(CONFIG, DAY_START, DAY_START + DAY_MS))


def test_same_seed_same_events(day: list[dict[str, object]]) -> None:
    assert list(generate_events(CONFIG, DAY_START, DAY_START + DAY_MS)) == day
    other = SimConfig(**{**CONFIG.__dict__, "seed": 43})
    assert list(generate_events(other, DAY_START, DAY_START + DAY_MS)) != day


def test_windows_do_not_change_the_events() -> None:
    """Live mode (many small windows) and backfill (one window) give the same stream."""
    start, end = DAY_START + 9 * HOUR_MS, DAY_START + 11 * HOUR_MS
    whole = list(generate_events(CONFIG, start, end))
    stream = TrafficStream(CONFIG, start)
    pieces: list[dict[str, object]] = []
    cursor = start
    while cursor < end:
        cursor = min(end, cursor + 7_300)
        pieces += stream.take_until(cursor)
    assert pieces == whole
    assert stream.take_until(cursor) == []


def test_every_event_is_valid(day: list[dict[str, object]]) -> None:
    events, problems = validate_batch(day, DAY_START + DAY_MS)
    assert problems == []
    assert len(events) == len(day)
    assert all(isinstance(e["time"], int) for e in day)


def test_events_fall_in_the_window(day: list[dict[str, object]]) -> None:
    times = [int(str(e["time"])) for e in day]
    assert min(times) >= DAY_START
    assert max(times) < DAY_START + DAY_MS


def test_daily_curve_varies(day: list[dict[str, object]]) -> None:
    assert daily_factor(DAY_START + 3 * HOUR_MS) < 0.3
    assert daily_factor(DAY_START + 10 * HOUR_MS + 30 * MINUTE_MS) > 1.7
    mean = statistics.fmean(daily_factor(DAY_START + m * MINUTE_MS + 30_000) for m in range(1440))
    assert mean == pytest.approx(1.0)
    per_hour = Counter(
        int(e["time"]) // HOUR_MS % 24  # type: ignore[call-overload]
        for e in day
        if e["type"] == "connected"
    )
    night = per_hour[2] + per_hour[3] + per_hour[4]
    business = per_hour[10] + per_hour[11] + per_hour[14]
    assert business > 4 * night > 0
    # rate is chats per minute averaged over the day
    chats = {str(e["eventId"])[2:] for e in day}
    assert len(chats) == pytest.approx(CONFIG.rate * 1440, rel=0.1)


def test_duplicates_at_the_configured_share(day: list[dict[str, object]]) -> None:
    counts = Counter(str(e["eventId"]) for e in day)
    extra = sum(n - 1 for n in counts.values())
    assert max(counts.values()) == 2
    assert extra / len(counts) == pytest.approx(CONFIG.duplicate_share, abs=0.01)
    first: dict[str, dict[str, object]] = {}
    for event in day:
        key = str(event["eventId"])
        if key in first:
            assert event == first[key]  # a redelivery repeats the event exactly
        first[key] = event
    none = SimConfig(**{**CONFIG.__dict__, "duplicate_share": 0.0})
    ids = [e["eventId"] for e in generate_events(none, DAY_START, DAY_START + 6 * HOUR_MS)]
    assert len(ids) == len(set(ids))


def test_chat_lifecycle(day: list[dict[str, object]]) -> None:
    layout = build_layout(CONFIG)
    assert all(1 <= len(s) <= 4 for s in layout.skills_by_agent.values())
    assert all(layout.agents_by_skill[s] for s in layout.skill_ids)
    unique = {str(e["eventId"]): e for e in day}
    connected = {k[2:]: e for k, e in unique.items() if k.startswith("c-")}
    closed = {k[2:]: e for k, e in unique.items() if k.startswith("x-")}
    abandoned = [e for e in closed.values() if "agentId" not in e]
    assert abandoned
    for event in abandoned:
        assert event["interactive"] is False
        assert event["handlingTime"] == 0
    assert any("skillId" not in e for e in abandoned)
    assert not any(chat in connected for chat, e in closed.items() if "agentId" not in e)
    handling: list[int] = []
    paired = 0
    for chat, end in closed.items():
        start = connected.get(chat)
        if start is None:
            continue
        paired += 1
        assert (end["skillId"], end["agentId"]) == (start["skillId"], start["agentId"])
        assert end["agentId"] in layout.agents_by_skill[int(end["skillId"])]  # type: ignore[call-overload]
        assert end["time"] > start["time"]  # type: ignore[operator]
        if end["interactive"]:
            assert isinstance(end["handlingTime"], int)
            handling.append(end["handlingTime"])
    assert paired > 0.8 * len(closed)
    non_interactive = [e for e in closed.values() if e["interactive"] is False and "agentId" in e]
    assert non_interactive
    # right-skewed, around 7 minutes
    assert 300 < statistics.median(handling) < 600
    assert statistics.fmean(handling) > statistics.median(handling)
    assert max(handling) > 3 * statistics.median(handling)


def test_simulation_totals_match_the_store(tmp_path: Path) -> None:
    """What a simulation reports as accepted is exactly what the store then answers."""
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
        # Running it again stores nothing new.
        again = Simulation(CONFIG, sink, clock, batch_size=500, backfill_ms=3 * HOUR_MS)
        again.backfill()
        assert again.report.accepted == 0 and again.report.totals == ZERO
    finally:
        store.close()


def test_demo_backfills_quickly(tmp_path: Path) -> None:
    clock = fixed_clock(NOW_MS)
    store = open_store(f"sqlite:///{tmp_path / 'd.db'}", clock, tables_of())
    try:
        demo = start_demo(Ingestor(store, clock, Limits()))
        assert demo.backfilled.wait(10)
        demo.stop()
        report = demo.simulation.report
        assert report.accepted > 10_000 and report.totals_exact
        assert report.start_ms == NOW_MS - DAY_MS
    finally:
        store.close()


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        SimConfig(agents=0)
    with pytest.raises(ValueError):
        SimConfig(duplicate_share=1.5)
    with pytest.raises(ValueError):
        SimConfig(abandon_share=0.6, non_interactive_share=0.6)
