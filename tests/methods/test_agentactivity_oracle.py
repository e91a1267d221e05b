"""The Agent Activity oracle (tests/oracle_agents.py) on cases computed by hand from
AGENTS.md: the tests of the service are only as good as it is."""

from __future__ import annotations

from typing import Any

import pytest

from tests.oracle_agents import (
    MIN_MS,
    RETENTION_MS,
    agentactivity,
    interval_ranges,
    same,
    stored,
)

DAY = 1795478400000
"""2026-11-24 00:00 UTC, the day of tests/conftest.py's NOW_MS."""
S = 1000


def at(hh: int, mm: int, ss: int = 0) -> int:
    return DAY + (hh * 60 + mm) * MIN_MS + ss * S


def state(event_id: str, time: int | str, agent: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "type": "agentState",
        "time": time,
        "agentId": agent,
        "state": kind,
        **fields,
    }


def value(total: int, chatting: int = 0, max_concurrency: int = 0) -> dict[str, int]:
    return {
        "total": total,
        "chatting": chatting,
        "notChatting": total - chatting,
        "chattingInMaxConcurrency": max_concurrency,
    }


ZERO = value(0)


def entry(
    online: dict[str, int] = ZERO,
    back: dict[str, int] = ZERO,
    away: dict[str, int] = ZERO,
    reasons: list[tuple[str, dict[str, int]]] | None = None,
) -> list[dict[str, Any]]:
    logged_in = {k: online[k] + back[k] + away[k] for k in online}
    return [
        {"id": 2, "name": "Online", "value": online},
        {"id": 3, "name": "Back in 5", "value": back},
        {
            "reasons": [{"id": r, "value": v} for r, v in reasons or []],
            "id": 4,
            "name": "Away",
            "value": away,
        },
        {"id": -1, "name": "Logged in", "value": logged_in},
    ]


def per_agent(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body["agentsMetrics"]["metricsPerAgent"])


# -- intervals --------------------------------------------------------------------------------


def test_reference_example_of_intervals() -> None:
    # now 08:07, T=20, I=10: 08:00-08:07 (08:10), 07:50-08:00 (08:00), 07:47-07:50 (07:50).
    assert interval_ranges(at(8, 7), 20, 10) == [
        (at(8, 10), at(8, 0), at(8, 7)),
        (at(8, 0), at(7, 50), at(8, 0)),
        (at(7, 50), at(7, 47), at(7, 50)),
    ]


def test_reference_example_across_midnight() -> None:
    # T=1200, I=600 at 11:17: timestamps 11:20, 01:20, 15:20 of the previous day.
    assert interval_ranges(at(11, 17), 1200, 600) == [
        (at(11, 20), at(1, 20), at(11, 17)),
        (at(1, 20), at(15, 20) - 1440 * MIN_MS, at(1, 20)),
        (at(15, 20) - 1440 * MIN_MS, at(15, 17) - 1440 * MIN_MS, at(15, 20) - 1440 * MIN_MS),
    ]


def test_interval_ends_round_up_to_buckets() -> None:
    # I=7 is not a multiple of 5: E1 = ceilB(08:03) = 08:05, E2 = ceilB(07:56) = 08:00.
    assert interval_ranges(at(8, 7), 14, 7) == [
        (at(8, 10), at(8, 5), at(8, 7)),
        (at(8, 5), at(8, 0), at(8, 5)),
        (at(8, 0), at(7, 53), at(8, 0)),
    ]


def test_now_on_a_bucket_edge_gives_an_empty_newest_interval() -> None:
    # E0 is the end of the bucket holding now (08:10-08:15), so interval 0 is [08:10, 08:10).
    assert interval_ranges(at(8, 10), 5, 5) == [
        (at(8, 15), at(8, 10), at(8, 10)),
        (at(8, 10), at(8, 5), at(8, 10)),
    ]
    body = agentactivity(
        [state("a", at(7, 0), 1, "online")],
        at(8, 10),
        {"timeframe": 5, "interval": 5, "agentIds": "all"},
    )
    first, second = body["metricsByIntervals"]
    assert first["metricsData"]["agentsMetrics"] == {"metricsPerAgent": {}, "metricsTotals": []}
    assert per_agent(second["metricsData"]) == {"1": entry(online=value(300))}


def test_no_data_has_the_empty_shapes() -> None:
    empty: dict[str, Any] = {"metricsPerAgent": {}, "metricsTotals": []}
    params = {"timeframe": 20, "agentIds": "all"}
    assert agentactivity([], at(8, 7), params) == {"agentsMetrics": empty}
    body = agentactivity([], at(8, 7), {**params, "interval": 10})
    assert body == {
        "metricsByIntervals": [
            {"timestamp": at(8, 10), "metricsData": {"agentsMetrics": empty}},
            {"timestamp": at(8, 0), "metricsData": {"agentsMetrics": empty}},
            {"timestamp": at(7, 50), "metricsData": {"agentsMetrics": empty}},
        ],
        "agentsMetrics": empty,
    }
    assert list(body) == ["metricsByIntervals", "agentsMetrics"]


# -- measures ---------------------------------------------------------------------------------


def test_a_shift_measured_to_the_millisecond() -> None:
    t0 = at(8, 0)
    events = [
        state("e1", t0, 7, "online"),
        state("e2", t0 + 10_500, 7, "online", activeChats=2, maxChats=2),
        state("e3", t0 + 20 * S, 7, "away", reasonId="r1", activeChats=1),
        state("e4", t0 + 30 * S, 7, "backSoon"),
        state("e5", t0 + 40_250, 7, "loggedOut"),
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "7"})
    # online 20 s (9.5 s chatting at the limit), away r1 10 s chatting, back 10.25 s
    assert per_agent(body) == {
        "7": entry(
            online=value(20, chatting=9, max_concurrency=9),
            back=value(10),
            away=value(10, chatting=10),
            reasons=[("r1", value(10, chatting=10))],
        )
    }


def test_seconds_are_floored_per_entry_and_logged_in_adds_them_up() -> None:
    t0 = at(8, 0)
    events = [
        state("a", t0, 1, "online", activeChats=1),
        state("b", t0 + 900, 1, "online"),
        state("c", t0 + 1800, 1, "backSoon"),
        state("d", t0 + 3600, 1, "loggedOut"),
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "all"})
    # online 1800 ms (900 chatting): total 1, chatting 0, notChatting 1 (not floor(0.9));
    # back 1800 ms: 1; logged in = 1 + 1 = 2 seconds, not floor(3.6) = 3.
    assert per_agent(body) == {"1": entry(online=value(1), back=value(1))}
    assert per_agent(body)["1"][3]["value"]["total"] == 2


def test_before_the_first_event_the_agent_is_logged_out() -> None:
    events = [state("x", at(8, 5), 3, "online", activeChats=4)]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "3"})
    assert per_agent(body) == {"3": entry(online=value(120, chatting=120))}


def test_the_window_is_exact_not_bucketed() -> None:
    events = [state("x", at(7, 0), 3, "away")]  # away, no reason, for hours
    body = agentactivity(events, at(8, 7, 30) + 1, {"timeframe": 1, "agentIds": "3"})
    assert per_agent(body) == {"3": entry(away=value(60))}
    events.append(state("y", at(8, 7) - 1, 3, "loggedOut"))
    assert per_agent(agentactivity(events, at(8, 8) - 1, {"timeframe": 1, "agentIds": "3"})) == {}
    # 1 ms logged in: listed, with zeros.
    assert per_agent(agentactivity(events, at(8, 8) - 2, {"timeframe": 1, "agentIds": "3"})) == {
        "3": entry()
    }


def test_events_after_now_do_not_count() -> None:
    events = [state("x", at(8, 0), 3, "online"), state("y", at(8, 9), 3, "backSoon")]
    body = agentactivity(events, at(8, 7), {"timeframe": 10, "interval": 5, "agentIds": "all"})
    assert per_agent(body) == {"3": entry(online=value(420))}
    newest = body["metricsByIntervals"][0]
    assert newest["timestamp"] == at(8, 10)
    assert per_agent(newest["metricsData"]) == {"3": entry(online=value(120))}


def test_max_concurrency_needs_a_limit() -> None:
    t0 = at(8, 0)
    events = [
        state("a", t0, 1, "online", activeChats=5),  # no limit: unlimited
        state("b", t0 + 10 * S, 1, "online", activeChats=5, maxChats=None),
        state("c", t0 + 20 * S, 1, "online", activeChats=5, maxChats=3),  # above the limit
        state("d", t0 + 30 * S, 1, "online", activeChats=2, maxChats=3),
        state("e", t0 + 40 * S, 1, "online", activeChats=0, maxChats=1),
        state("f", t0 + 50 * S, 1, "loggedOut", activeChats=9, maxChats=1),
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "all"})
    assert per_agent(body) == {"1": entry(online=value(50, chatting=40, max_concurrency=10))}


def test_away_reasons_are_strings_ordered_as_strings() -> None:
    t0 = at(8, 0)
    events = [
        state("a", t0, 1, "away", reasonId=9),
        state("b", t0 + 10 * S, 1, "away", reasonId="10"),
        state("c", t0 + 30 * S, 1, "away"),  # no reason: in Away only
        state("d", t0 + 45 * S, 1, "away", reasonId=2642559712, activeChats=1),
        state("e", t0 + 50 * S, 1, "loggedOut"),
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "all"})
    reasons = [("10", value(20)), ("2642559712", value(5, chatting=5)), ("9", value(10))]
    assert per_agent(body) == {"1": entry(away=value(50, chatting=5), reasons=reasons)}


def test_ties_in_time_are_ordered_by_event_id_code_points() -> None:
    t0 = at(8, 0)
    # "B" < "a" < "z" < "é" by code point (a locale collation would say otherwise).
    events = [
        state("a", t0, 1, "away"),
        state("B", t0, 1, "online"),
        state("é", t0 + 60 * S, 2, "online"),
        state("z", t0 + 60 * S, 2, "backSoon"),
    ]
    body = agentactivity(events, at(8, 2), {"timeframe": 5, "agentIds": "all"})
    assert per_agent(body) == {"1": entry(away=value(120)), "2": entry(online=value(60))}


def test_late_events_take_their_place_and_repeats_count_once() -> None:
    t0 = at(8, 0)
    events = [
        state("a", t0, 1, "online"),
        state("c", t0 + 60 * S, 1, "loggedOut"),
        state("b", t0 + 30 * S, 1, "backSoon"),  # arrives late, in between
        state("a", t0, 1, "away"),  # a repeated delivery: the first one counts
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "all"})
    assert per_agent(body) == {"1": entry(online=value(30), back=value(30))}


def test_iso_times() -> None:
    events = [
        state("a", "2026-11-24T08:00:00.250Z", 1, "online"),
        state("b", "2026-11-24T10:00:10+02:00", 1, "loggedOut"),
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": "all"})
    assert per_agent(body) == {"1": entry(online=value(9))}


@pytest.mark.parametrize(
    ("agents", "listed"),
    [("all", ["1", "2"]), ("2", ["2"]), ("2,2,99", ["2"]), ("99", []), ([1, 2], ["1", "2"])],
)
def test_who_is_listed(agents: object, listed: list[str]) -> None:
    events = [
        state("a", at(8, 0), 1, "online"),
        state("b", at(8, 0), 2, "backSoon"),
        state("c", at(8, 0), 3, "loggedOut"),  # never logged in: not listed
        state("d", at(7, 0), 4, "online"),
        state("e", at(7, 1), 4, "loggedOut"),  # logged in before the window only
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "agentIds": agents})
    assert list(per_agent(body)) == listed


def test_whole_window_and_intervals_are_measured_separately() -> None:
    # online 07:59:59.500 - 08:00:00.500: 500 ms in each of two intervals, 1 s in the window.
    events = [
        state("a", at(7, 59, 59) + 500, 1, "online"),
        state("b", at(8, 0) + 500, 1, "loggedOut"),
    ]
    body = agentactivity(events, at(8, 7), {"timeframe": 20, "interval": 10, "agentIds": "all"})
    assert per_agent(body) == {"1": entry(online=value(1))}
    newest, middle, oldest = (per_agent(i["metricsData"]) for i in body["metricsByIntervals"])
    assert newest == middle == {"1": entry()} and oldest == {}


# -- retention and comparing -------------------------------------------------------------------


def test_stored_drops_expired_events_and_keeps_first_deliveries() -> None:
    now = at(13, 29)
    old = state("old", now - RETENTION_MS - 1, 1, "online")
    edge = state("edge", now - RETENTION_MS, 1, "away")
    again = state("edge", now, 1, "backSoon")
    assert stored([(now, [old, edge]), (now, [again])]) == [edge]
    # Sent while it was young enough, an event stays (a purge would carry its state).
    assert stored([(now - MIN_MS, [old]), (now, [old])]) == [old]


def test_same_allows_any_agent_order_but_nothing_else() -> None:
    expected = {"agentsMetrics": {"metricsPerAgent": {"2": [1], "10": [2]}, "metricsTotals": []}}
    same(
        {"agentsMetrics": {"metricsPerAgent": {"10": [2], "2": [1]}, "metricsTotals": []}}, expected
    )
    with pytest.raises(AssertionError):
        same(
            {"agentsMetrics": {"metricsTotals": [], "metricsPerAgent": {"2": [1], "10": [2]}}},
            expected,
        )
    with pytest.raises(AssertionError):
        same(
            {"agentsMetrics": {"metricsPerAgent": {"2": [True], "10": [2]}, "metricsTotals": []}},
            expected,
        )
