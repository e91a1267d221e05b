"""The queue methods from events to answers (QUEUE.md), in process, against
tests/oracle_queue.py on random events and queries."""

from __future__ import annotations

from collections.abc import Hashable, Sized
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.events import Event, validate_event
from engactivity.core.problems import InvalidRequest
from engactivity.methods import METHODS, tables_of
from engactivity.methods.method import AnyMethod, Fragments, Piece
from engactivity.methods.queuehealth import QUEUEHEALTH
from engactivity.methods.queuestate import QUEUESTATE
from engactivity.methods.sla import SLA
from engactivity.store.memory import AccountState
from engactivity.store.tables import fold_all
from tests import oracle_queue
from tests.conftest import MIN, NOW_MS
from tests.methods.test_engactivity_render import DictFragments

TABLES = tables_of(METHODS)


class NoFragments:
    def get(self, part: Hashable, stamp: int, kind: type[Piece]) -> Piece | None:
        return None

    def put(self, part: Hashable, stamp: int, piece: Sized) -> None:
        pass


def load(events: list[dict[str, Any]], state: AccountState | None = None) -> AccountState:
    decoded: list[Event] = []
    for raw in events:
        event = validate_event(raw, 0, NOW_MS + 10 * MIN)
        assert not isinstance(event, list), (raw, event)
        decoded.append(event)
    state = state or AccountState(TABLES)
    with state.lock:
        state.apply([rows.items() for rows in fold_all(TABLES, decoded)])
    return state


def answer(
    method: AnyMethod,
    state: AccountState,
    params: dict[str, object],
    now: int,
    fragments: Fragments | None = None,
) -> Any:
    fragments = fragments or NoFragments()
    query = method.parse({"v": 1, **params})
    plan = method.plan(query, now)
    with state.lock:
        reading = method.read(query, plan, state, fragments)
    return orjson.loads(method.render(query, plan, reading, fragments))


SKILLS = [-1, 1, 2, 3, 2**63 - 1]
GROUPS = [None, 7, 8, -(2**63)]


@st.composite
def queue_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["queued", "connected", "abandoned", "queueState", "closed"]))
        event: dict[str, Any] = {
            "eventId": draw(st.sampled_from(["", "é", "a", "b", "Z"])) + f"{n}",
            "type": kind,
            "time": NOW_MS - draw(st.integers(-5 * MIN, 1450 * MIN)),
        }
        skill = draw(st.sampled_from([*SKILLS, None]))
        if kind == "queueState":
            event["skillId"] = skill if skill is not None else 1
            event["queueSize"] = draw(st.integers(0, 50))
            event["availableSlots"] = draw(st.integers(0, 9))
            if draw(st.booleans()):  # samples close to now, so some are current
                event["time"] = NOW_MS - draw(st.integers(-5 * MIN, 7 * MIN))
        else:
            event["skillId"] = skill
        if kind == "connected":
            event["agentId"] = 3
            event["waitTime"] = draw(
                st.sampled_from([None, 0, 4, 5, 14, 15, 90, 86_399, 86_400, 99_999])
            )
            event["agentGroupId"] = draw(st.sampled_from(GROUPS))
        elif kind == "abandoned":
            event["waitTime"] = draw(st.sampled_from([None, 0, 7, 31, 600]))
        elif kind == "closed":
            event["interactive"] = draw(st.booleans())
        events.append(event)
    return events


def _ids(pool: list[int]) -> st.SearchStrategy[object]:
    lists = st.lists(st.sampled_from(pool), min_size=1, max_size=3)
    return st.one_of(st.none(), st.just("all"), lists.map(lambda ids: ",".join(map(str, ids))))


@st.composite
def health_params(draw: st.DrawFn) -> dict[str, object]:
    timeframe = draw(st.sampled_from([1, 5, 7, 60, 120, 1440]))
    divisors = [d for d in range(5, timeframe + 1) if timeframe % d == 0]
    params: dict[str, object] = {"timeframe": timeframe, "skillIds": draw(_ids([*SKILLS, 99]))}
    if divisors and draw(st.booleans()):
        params["interval"] = draw(st.sampled_from(divisors))
    return params


@st.composite
def sla_params(draw: st.DrawFn) -> dict[str, object]:
    edges = draw(st.lists(st.sampled_from([0, 5, 10, 15, 30, 90, 86_400]), max_size=5))
    return {
        "timeframe": draw(st.sampled_from([1, 60, 1440])),
        "skillIds": draw(_ids([*SKILLS, 99])),
        "groupIds": draw(_ids([-1, 7, 8, -(2**63)])),
        "histogram": ",".join(map(str, edges)) if edges else None,
        "interval": draw(st.sampled_from([None, 7, "nonsense"])),  # ignored by sla
    }


@settings(max_examples=250, deadline=None)
@given(events=queue_events(), params=health_params(), now=st.integers(NOW_MS - 3 * MIN, NOW_MS))
def test_queuehealth_matches_the_oracle(
    events: list[dict[str, Any]], params: dict[str, object], now: int
) -> None:
    expected = oracle_queue.queuehealth(events, now, params)
    oracle_queue.same(answer(QUEUEHEALTH, load(events), params, now), expected)


@settings(max_examples=200, deadline=None)
@given(events=queue_events(), skills=_ids([*SKILLS, 99]), now=st.integers(NOW_MS - 6 * MIN, NOW_MS))
def test_queuestate_matches_the_oracle(
    events: list[dict[str, Any]], skills: object, now: int
) -> None:
    params = {"skillIds": skills}
    expected = oracle_queue.queuestate(events, now, params)
    oracle_queue.same(answer(QUEUESTATE, load(events), params, now), expected)


@settings(max_examples=200, deadline=None)
@given(events=queue_events(), params=sla_params())
def test_sla_matches_the_oracle(events: list[dict[str, Any]], params: dict[str, object]) -> None:
    expected = oracle_queue.sla(events, NOW_MS, params)
    oracle_queue.same(answer(SLA, load(events), params, NOW_MS), expected)


@settings(max_examples=150, deadline=None)
@given(
    before=queue_events(),
    after=queue_events(),
    health=health_params(),
    sla=sla_params(),
    now=st.integers(NOW_MS - 3 * MIN, NOW_MS),
)
def test_answers_from_kept_parts_equal_fresh_ones(
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    health: dict[str, object],
    sla: dict[str, object],
    now: int,
) -> None:
    # After new data, kept blocks and intervals whose buckets did not change are used
    # again; the answers must equal ones computed from nothing.
    state = load(before)
    kept = DictFragments()
    for method, params in ((QUEUEHEALTH, health), (SLA, sla)):
        answer(method, state, params, now, kept)
    load([{**event, "eventId": "late-" + event["eventId"]} for event in after], state)
    for method, params in ((QUEUEHEALTH, health), (SLA, sla)):
        assert answer(method, state, params, now, kept) == answer(method, state, params, now)


def test_the_reference_totals_example() -> None:
    # QUEUE.md 2.2: the totals' maxQueueSize is the sum of the skills' (78 + 14 = 92).
    samples = [(199, 78), (199, 68), (200, 14), (200, 10)]
    events = [
        {
            "eventId": f"s{n}",
            "type": "queueState",
            "time": NOW_MS - MIN,
            "skillId": skill,
            "queueSize": size,
            "availableSlots": 1,
        }
        for n, (skill, size) in enumerate(samples)
    ]
    body = answer(QUEUEHEALTH, load(events), {"timeframe": 60, "skillIds": "199,200"}, NOW_MS)
    assert body["metricsTotals"]["maxQueueSize"] == 92
    assert body["metricsTotals"]["minQueueSize"] == 78
    # The newest sample of each skill, by (time, eventId): s1 (68) and s3 (10).
    assert body["metricsTotals"]["currentQueueSize"] == 68 + 10


@pytest.mark.parametrize(
    ("connected", "abandoned", "rate"),
    [(171, 29, 0.15), (7, 1, 0.13), (1, 1, 0.5), (0, 0, 0), (0, 3, 1)],
)
def test_abandonment_rate_rounds_half_up_exactly(
    connected: int, abandoned: int, rate: float
) -> None:
    events = [
        {"eventId": f"c{n}", "type": "connected", "time": NOW_MS - MIN, "agentId": 1}
        for n in range(connected)
    ] + [{"eventId": f"a{n}", "type": "abandoned", "time": NOW_MS - MIN} for n in range(abandoned)]
    body = answer(QUEUEHEALTH, load(events), {"timeframe": 60}, NOW_MS)
    assert body["metricsTotals"]["abandonmentRate"] == rate


@pytest.mark.parametrize(
    ("value", "edges"),
    [
        (None, (0, 15, 30, 45, 60, 90, 120)),
        ("", (0, 15, 30, 45, 60, 90, 120)),
        ("30, 10,10", (0, 10, 30)),
        ([60, 0], (0, 60)),
        ("86400", (0, 86400)),
    ],
)
def test_histogram_edges(value: object, edges: tuple[int, ...]) -> None:
    assert SLA.parse({"v": 1, "timeframe": 60, "histogram": value}).edges == edges


@pytest.mark.parametrize(
    "value",
    ["7", "-5", "86405", "a", "1.5", ["30"], ",".join(["5"] * 61), True, {"x": 1}],
)
def test_bad_histograms_are_refused_naming_it(value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        SLA.parse({"v": 1, "timeframe": 60, "histogram": value})
    assert [p.field for p in caught.value.problems] == ["histogram"]


def test_queuestate_needs_only_v() -> None:
    with pytest.raises(InvalidRequest) as caught:
        QUEUESTATE.parse({"timeframe": "x", "skillIds": "all"})
    assert [p.field for p in caught.value.problems] == ["v"]


@settings(max_examples=100, deadline=None)
@given(
    rounds=st.lists(queue_events(), min_size=1, max_size=4),
    health=health_params(),
    now=st.integers(NOW_MS - 3 * MIN, NOW_MS),
)
def test_queuehealth_after_each_write_equals_a_fresh_answer_and_the_oracle(
    rounds: list[list[dict[str, Any]]], health: dict[str, object], now: int
) -> None:
    # Each answer re-renders only the skills whose cells or current values a write
    # changed (methods/keptentries.py); the rest must be what a fresh answer renders.
    state, kept, seen = load([]), DictFragments(), []
    answer(QUEUEHEALTH, state, health, now, kept)
    for n, events in enumerate(rounds):
        events = [{**event, "eventId": f"w{n}-" + event["eventId"]} for event in events]
        load(events, state)
        seen += events
        incremental = answer(QUEUEHEALTH, state, health, now, kept)
        assert incremental == answer(QUEUEHEALTH, state, health, now)
        oracle_queue.same(incremental, oracle_queue.queuehealth(seen, now, health))
