"""Engagement activity from events to answers (SEMANTICS.md sections 1 to 5), in process.

Events are folded into the method's rollup table, read from memory and rendered by the
method's own functions (``engactivity.methods.engactivity``), and every answer is
compared with tests/oracle.py.
"""

from __future__ import annotations

from collections.abc import Hashable, Sized
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.events import Event, validate_event
from engactivity.core.params import ALL, Selection
from engactivity.core.timeframe import BUCKET_MS
from engactivity.methods.engactivity import ENGACTIVITY, ROLLUP, EngActivityQuery
from engactivity.methods.engactivity.render import METRIC_KEYS
from engactivity.methods.method import Piece
from engactivity.store.memory import AccountState
from engactivity.store.tables import Deltas
from tests import oracle
from tests.conftest import MIN, NOW_MS

ZERO = dict.fromkeys(oracle.METRIC_KEYS, 0)
B = BUCKET_MS


class DictFragments:
    """The fragment cache, as a plain dict (stamps checked like the real one)."""

    def __init__(self) -> None:
        self.parts: dict[Hashable, tuple[int, Sized]] = {}
        self.hits = 0

    def get(self, part: Hashable, stamp: int, kind: type[Piece]) -> Piece | None:
        found = self.parts.get(part)
        if found is None or found[0] != stamp or not isinstance(found[1], kind):
            return None
        self.hits += 1
        return found[1]

    def put(self, part: Hashable, stamp: int, piece: Sized) -> None:
        self.parts[part] = (stamp, piece)


def q(
    timeframe: int = 60,
    interval: int | None = None,
    skills: Selection = None,
    agents: Selection = None,
) -> EngActivityQuery:
    return EngActivityQuery(timeframe, interval, skills, agents)


def oracle_params(query: EngActivityQuery) -> dict[str, object]:
    def ids(selection: Selection) -> object:
        if selection is None or selection == "all":
            return selection
        return ",".join(str(i) for i in sorted(selection)) or None

    return {
        "timeframe": query.timeframe,
        "interval": query.interval,
        "skillIds": ids(query.skills),
        "agentIds": ids(query.agents),
    }


def load(state: AccountState, events: list[dict[str, Any]]) -> None:
    """Fold raw events into the account's rollups, as the store does."""
    decoded: list[Event] = []
    for raw in events:
        event = validate_event(raw, 0, NOW_MS + 10 * MIN)
        assert not isinstance(event, list), event
        decoded.append(event)
    rows: Deltas = {}
    ROLLUP.fold(decoded, rows)
    with state.lock:
        state.apply([rows.items()])


def answer(
    state: AccountState,
    query: EngActivityQuery,
    now: int = NOW_MS,
    fragments: DictFragments | None = None,
) -> Any:
    fragments = fragments or DictFragments()
    span = ENGACTIVITY.plan(query, now)
    with state.lock:
        reading = ENGACTIVITY.read(query, span, state, fragments)
    return orjson.loads(ENGACTIVITY.render(query, span, reading, fragments))


def shape(query: EngActivityQuery, now: int, events: list[dict[str, Any]]) -> Any:
    state = AccountState((ROLLUP,))
    load(state, events)
    return answer(state, query, now)


def ev(
    n: int,
    kind: str = "closed",
    minutes_ago: float = 1,
    skill: int | None = 2,
    agent: int | None = 3,
    interactive: bool = True,
    handling: int = 10,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": f"e{n}",
        "type": kind,
        "time": NOW_MS - int(minutes_ago * MIN),
        "skillId": skill,
        "agentId": agent,
    }
    if kind == "closed":
        event["interactive"] = interactive
        event["handlingTime"] = handling
    return event


def check(events: list[dict[str, Any]], query: EngActivityQuery, now: int = NOW_MS) -> Any:
    body = shape(query, now, events)
    expected = oracle.expected_body(events, now, oracle_params(query))
    oracle.assert_same_body(body, expected, query)
    return body


# -- unit --------------------------------------------------------------------------------------


def test_metrics_key_order() -> None:
    assert (
        list(METRIC_KEYS)
        == list(oracle.METRIC_KEYS)
        == [
            "totalInteractiveChats",
            "totalNonInteractiveChats",
            "totalHandlingTime",
            "nonInteractiveTotalHandlingTime",
            "connectedEngagements",
        ]
    )


def test_zero_shape_no_filter() -> None:
    assert shape(q(), NOW_MS, []) == {"metricsTotals": ZERO}


def test_zero_shape_skills() -> None:
    body = shape(q(skills=frozenset({4, 15})), NOW_MS, [])
    assert body == {"skillsMetricsPerAgent": {"metricsPerSkill": {}, "metricsTotals": ZERO}}


def test_zero_shape_agents() -> None:
    body = shape(q(agents="all"), NOW_MS, [])
    assert body == {"agentsMetrics": {"metricsPerAgent": {}, "metricsTotals": ZERO}}


def test_zero_shape_both() -> None:
    body = shape(q(skills="all", agents=frozenset({3})), NOW_MS, [])
    assert body == {
        "skillsMetricsPerAgent": {"metricsPerSkill": {}, "metricsTotals": ZERO},
        "agentsMetrics": {"metricsPerAgent": {}, "metricsTotals": ZERO},
    }
    assert list(body) == ["skillsMetricsPerAgent", "agentsMetrics"]


@pytest.mark.parametrize(
    ("skills", "agents"), [(None, None), ("all", None), (None, "all"), ("all", "all")]
)
def test_zero_shape_with_intervals(skills: Selection, agents: Selection) -> None:
    now = 1412680800000 - 3 * MIN
    query = q(1200, 600, skills, agents)
    body = shape(query, now, [])
    assert next(iter(body)) == "metricsByIntervals"
    assert [i["timestamp"] for i in body["metricsByIntervals"]] == [
        1412680800000,
        1412644800000,
        1412608800000,
    ]
    whole = shape(q(1200, None, skills, agents), now, [])
    for item in body["metricsByIntervals"]:
        assert list(item) == ["timestamp", "metricsData"]
        assert item["metricsData"] == whole
    assert {k: v for k, v in body.items() if k != "metricsByIntervals"} == whole
    assert list(body)[1:] == list(whole)


def test_reference_example_skill_2_agent_3() -> None:
    events = [
        ev(1, "closed", 2, interactive=True, handling=12),
        ev(2, "closed", 3, interactive=False, handling=5),
        ev(3, "connected", 4),
        ev(4, "connected", 4.5),
    ]
    body = check(events, q(skills=frozenset({2})))
    m = {
        "totalInteractiveChats": 1,
        "totalNonInteractiveChats": 1,
        "totalHandlingTime": 12,
        "nonInteractiveTotalHandlingTime": 5,
        "connectedEngagements": 2,
    }
    assert body == {
        "skillsMetricsPerAgent": {
            "metricsPerSkill": {"2": {"metricsPerAgent": {"3": m}, "metricsTotals": m}},
            "metricsTotals": m,
        }
    }


def test_skill_total_counts_chats_without_agent() -> None:
    events = [
        ev(1, "closed", 1, skill=2, agent=None, interactive=False, handling=7),
        ev(2, "closed", 1, skill=2, agent=3, interactive=True, handling=30),
        ev(3, "closed", 1, skill=None, agent=None, interactive=False, handling=2),
    ]
    body = check(events, q(skills="all"))
    skills = body["skillsMetricsPerAgent"]["metricsPerSkill"]
    assert set(skills) == {"2", "-1"}
    assert skills["2"]["metricsTotals"]["totalNonInteractiveChats"] == 1
    assert skills["2"]["metricsTotals"]["totalInteractiveChats"] == 1
    assert set(skills["2"]["metricsPerAgent"]) == {"3"}
    assert skills["-1"]["metricsPerAgent"] == {}
    assert body["skillsMetricsPerAgent"]["metricsTotals"]["totalNonInteractiveChats"] == 2
    # with agentIds, agentless chats drop out of every section
    body = check(events, q(skills="all", agents="all"))
    assert set(body["skillsMetricsPerAgent"]["metricsPerSkill"]) == {"2"}
    assert body["skillsMetricsPerAgent"]["metricsTotals"] == body["agentsMetrics"]["metricsTotals"]
    assert body["agentsMetrics"]["metricsTotals"]["totalNonInteractiveChats"] == 0


def test_ids_are_string_keys_including_extremes() -> None:
    events = [
        ev(1, "connected", 1, skill=-(2**63), agent=2**63 - 1),
        ev(2, "connected", 1, skill=2**63 - 1, agent=-(2**63)),
        ev(3, "connected", 1, skill=0, agent=0),
    ]
    body = check(events, q(skills="all", agents="all"))
    assert set(body["skillsMetricsPerAgent"]["metricsPerSkill"]) == {
        str(-(2**63)),
        str(2**63 - 1),
        "0",
    }
    assert set(body["agentsMetrics"]["metricsPerAgent"]) == {str(2**63 - 1), str(-(2**63)), "0"}


def test_ids_appear_only_in_intervals_with_data() -> None:
    events = [ev(1, "connected", 1, skill=5, agent=6), ev(2, "connected", 40, skill=7, agent=8)]
    body = check(events, q(60, 30, skills="all", agents="all"))
    first, second = body["metricsByIntervals"][:2]
    assert set(first["metricsData"]["agentsMetrics"]["metricsPerAgent"]) == {"6"}
    assert set(second["metricsData"]["agentsMetrics"]["metricsPerAgent"]) == {"8"}
    assert set(body["agentsMetrics"]["metricsPerAgent"]) == {"6", "8"}


# -- property: the method agrees with the oracle on random events ------------------------

SKILLS = [-1, 0, 1, 2, 3, 2**63 - 1, -(2**63)]
AGENTS = [0, 1, 2, 3, 4, 2**63 - 1]


@st.composite
def random_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 40))
    events = []
    for n in range(count):
        kind = draw(st.sampled_from(["connected", "closed"]))
        agent = draw(st.sampled_from([*AGENTS, None]))
        if kind == "connected" and agent is None:
            agent = 1
        event: dict[str, Any] = {
            "eventId": f"r{n}",
            "type": kind,
            "time": NOW_MS - draw(st.integers(-5 * MIN, 1450 * MIN)),
            "skillId": draw(st.sampled_from([*SKILLS, None])),
            "agentId": agent,
        }
        if kind == "closed":
            event["interactive"] = draw(st.booleans())
            event["handlingTime"] = draw(st.integers(0, 10_000))
        events.append(event)
    return events


def _selection(pool: list[int]) -> st.SearchStrategy[Selection]:
    choices: st.SearchStrategy[Selection] = st.sampled_from([None, ALL])
    return choices | st.frozensets(st.sampled_from(pool), min_size=1)


@st.composite
def random_queries(draw: st.DrawFn) -> EngActivityQuery:
    timeframe = draw(st.sampled_from([1, 5, 7, 14, 20, 60, 61, 360, 1200, 1440]))
    intervals = [d for d in range(5, timeframe + 1) if timeframe % d == 0]
    interval = draw(st.sampled_from([None, *intervals]))
    return q(timeframe, interval, draw(_selection([*SKILLS, 99])), draw(_selection([*AGENTS, 99])))


@settings(max_examples=300, deadline=None)
@given(
    events=random_events(),
    query=random_queries(),
    now=st.integers(NOW_MS - 10 * MIN, NOW_MS + 10 * MIN),
)
def test_shape_matches_oracle(
    events: list[dict[str, Any]], query: EngActivityQuery, now: int
) -> None:
    body = check(events, query, now)
    if query.interval is not None:
        # the whole span equals the sum of the intervals
        whole = {k: v for k, v in body.items() if k != "metricsByIntervals"}
        totals = [_totals(item["metricsData"]) for item in body["metricsByIntervals"]]
        summed = {key: sum(t[key] for t in totals) for key in oracle.METRIC_KEYS}
        assert _totals(whole) == summed


def _totals(section: dict[str, Any]) -> dict[str, int]:
    if "metricsTotals" in section:
        result: dict[str, int] = section["metricsTotals"]
        return result
    key = "skillsMetricsPerAgent" if "skillsMetricsPerAgent" in section else "agentsMetrics"
    result = section[key]["metricsTotals"]
    return result


@settings(max_examples=150, deadline=None)
@given(
    before=random_events(),
    after=random_events(),
    query=random_queries(),
)
def test_answers_from_cached_fragments_equal_fresh_ones(
    before: list[dict[str, Any]], after: list[dict[str, Any]], query: EngActivityQuery
) -> None:
    # After new data, only the intervals whose buckets changed are rendered again; the
    # answer must equal one computed from nothing.
    state = AccountState((ROLLUP,))
    fragments = DictFragments()
    load(state, before)
    answer(state, query, NOW_MS, fragments)
    load(state, [{**event, "eventId": "late-" + event["eventId"]} for event in after])
    assert answer(state, query, NOW_MS, fragments) == answer(state, query, NOW_MS)
    if query.interval is not None and (query.skills or query.agents) and not after:
        assert fragments.hits > 0


def test_kept_skill_sections_are_not_used_for_another_table() -> None:
    # A reloaded account's table numbers its pairs afresh: pair 0 is skill 1's in the
    # first table and skill 2's in the second, with the same sums. The sections kept
    # from the first table must not be patched into the second's answer.
    query = EngActivityQuery(60, None, ALL, None)
    fragments = DictFragments()
    first = AccountState((ROLLUP,))
    load(first, [ev(1, skill=1)])
    answer(first, query, NOW_MS, fragments)
    second = AccountState((ROLLUP,))
    load(second, [ev(1, skill=2)])
    assert answer(second, query, NOW_MS, fragments) == answer(second, query, NOW_MS)
