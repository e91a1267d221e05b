"""Unit tests of engactivity.core.events: every field rule of EVENTS.md, and batch decoding."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.events import (
    UNPARSABLE,
    Event,
    decode_batch,
    decode_plain_batch,
    parse_time,
    validate_batch,
    validate_event,
)
from engactivity.core.problems import Problem
from tests.conftest import MIN, NOW_MS
from tests.factories import counters

TYPES = ["queued", "connected", "closed", "abandoned", "queueState", "agentState"]
STATES = ["online", "backSoon", "away", "loggedOut"]
QUEUE_SIDE: list[dict[str, object]] = [
    {"eventId": "q", "type": "queued", "time": NOW_MS - MIN, "skillId": 2},
    {
        "eventId": "w",
        "type": "connected",
        "time": NOW_MS,
        "agentId": 1,
        "waitTime": 9,
        "agentGroupId": 4,
    },
    {"eventId": "a", "type": "abandoned", "time": NOW_MS - MIN, "waitTime": 30},
    {
        "eventId": "s",
        "type": "queueState",
        "time": NOW_MS,
        "skillId": 2,
        "queueSize": 4,
        "availableSlots": 1,
    },
]
WIRE_FIELDS = [
    "eventId",
    "type",
    "time",
    "skillId",
    "agentId",
    "interactive",
    "handlingTime",
    "waitTime",
    "agentGroupId",
    "queueSize",
    "availableSlots",
    "state",
    "reasonId",
    "activeChats",
    "maxChats",
]


def wire(event: Event) -> dict[str, object]:
    """The event's fields as a producer would send them (those that are set)."""
    return {k: v for k, v in msgspec.to_builtins(event).items() if v is not None}


INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
NOW_ISO = "2026-11-24T13:29:00Z"


def connected(**over: object) -> dict[str, object]:
    event: dict[str, object] = {
        "eventId": "c-1",
        "type": "connected",
        "time": NOW_MS - MIN,
        "skillId": 2,
        "agentId": 3,
    }
    event.update(over)
    return event


def closed(**over: object) -> dict[str, object]:
    event: dict[str, object] = {
        "eventId": "x-1",
        "type": "closed",
        "time": NOW_MS - MIN,
        "skillId": 2,
        "agentId": 3,
        "interactive": True,
        "handlingTime": 312,
    }
    event.update(over)
    return event


def without(event: dict[str, object], key: str) -> dict[str, object]:
    return {k: v for k, v in event.items() if k != key}


def ok(raw: object, now: int = NOW_MS) -> Event:
    result = validate_event(raw, 0, now)
    assert isinstance(result, Event), result
    return result


def bad(raw: object, now: int = NOW_MS, index: int = 0) -> list[Problem]:
    result = validate_event(raw, index, now)
    assert isinstance(result, list), result
    assert result, "an invalid event must yield at least one problem"
    for problem in result:
        assert problem.index == index
        assert problem.message
        assert problem.allowed
    return result


def bad_fields(raw: object, now: int = NOW_MS) -> set[str]:
    return {p.field for p in bad(raw, now)}


# -- the reference examples -------------------------------------------------------------


def test_reference_examples_are_valid() -> None:
    first = ok(
        {
            "eventId": "c-81723-1",
            "type": "connected",
            "time": 1732470005123,
            "skillId": 2,
            "agentId": 3,
        },
        now=1732470005123,
    )
    assert wire(first) == {
        "type": "connected",
        "eventId": "c-81723-1",
        "time": 1732470005123,
        "skillId": 2,
        "agentId": 3,
    }
    assert counters([first]) == (0, 0, 0, 0, 1)
    second = ok(
        {
            "eventId": "x-81723",
            "type": "closed",
            "time": "2026-11-24T13:22:05.123Z",
            "skillId": 2,
            "agentId": 3,
            "interactive": True,
            "handlingTime": 312,
        }
    )
    assert wire(second) == {
        "type": "closed",
        "eventId": "x-81723",
        "time": NOW_MS - 6 * MIN - 54_877,
        "skillId": 2,
        "agentId": 3,
        "interactive": True,
        "handlingTime": 312,
    }
    assert counters([second]) == (1, 0, 312, 0, 0)


def test_counters_of_each_kind() -> None:
    assert counters([ok(connected())]) == (0, 0, 0, 0, 1)
    assert counters([ok(closed(interactive=True, handlingTime=7))]) == (1, 0, 7, 0, 0)
    assert counters([ok(closed(interactive=False, handlingTime=9))]) == (0, 1, 0, 9, 0)


# -- eventId --------------------------------------------------------------------------------


@pytest.mark.parametrize("event_id", ["a", "x" * 128, "é" * 128, "😀" * 128, " ", "id with spaces"])
def test_event_id_valid(event_id: str) -> None:
    assert ok(connected(eventId=event_id)).event_id == event_id


@pytest.mark.parametrize("event_id", ["", "x" * 129, "é" * 129, None, 5, True, ["a"], {"a": 1}])
def test_event_id_invalid(event_id: object) -> None:
    assert bad_fields(connected(eventId=event_id)) == {"eventId"}
    assert bad_fields(closed(eventId=event_id)) == {"eventId"}


def test_event_id_missing() -> None:
    assert bad_fields(without(connected(), "eventId")) == {"eventId"}


# -- type -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Connected", "CLOSED", "open", "", None, 1, True, ["closed"]])
def test_type_invalid(kind: object) -> None:
    assert "type" in bad_fields(connected(type=kind))


def test_type_missing() -> None:
    assert "type" in bad_fields(without(connected(), "type"))


# -- time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW_MS, NOW_MS),
        (0, 0),
        (NOW_MS - 5 * 24 * 60 * MIN, NOW_MS - 5 * 24 * 60 * MIN),
        (NOW_ISO, NOW_MS),
        ("2026-11-24T13:29:00.000Z", NOW_MS),
        ("2026-11-24T13:28:59.999Z", NOW_MS - 1),
        ("2026-11-24T13:29:00+00:00", NOW_MS),
        ("2026-11-24T14:29:00+01:00", NOW_MS),
        ("2026-11-24T08:29:00-05:00", NOW_MS),
        ("2026-11-24T19:00:00+05:31", NOW_MS),
        ("2026-11-24T13:22:05.123Z", NOW_MS - 6 * MIN - 54_877),
    ],
)
def test_time_valid(value: object, expected: int) -> None:
    assert parse_time(value) == expected
    assert ok(connected(time=value)).time == expected
    assert ok(closed(time=value)).time == expected


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-24T13:29:00",  # no offset
        "2026-11-24T13:29:00.123",  # no offset
        "2026-11-24 13:29:00",  # no offset
        "2026-11-24",  # a date, no time
        "13:29:00Z",
        "yesterday",
        "",
        "1795526940000",  # digits in a string are not an integer
        "2026-13-45T13:29:00Z",
        "2026-11-24T25:00:00Z",
        float(NOW_MS),
        NOW_MS + 0.5,
        True,
        False,
        None,
        [NOW_MS],
        {"ms": NOW_MS},
    ],
)
def test_time_invalid(value: object) -> None:
    assert parse_time(value) is None
    assert bad_fields(connected(time=value)) == {"time"}


def test_time_missing() -> None:
    assert bad_fields(without(connected(), "time")) == {"time"}
    assert bad_fields(without(closed(), "time")) == {"time"}


def test_time_up_to_five_minutes_ahead_is_valid() -> None:
    assert ok(connected(time=NOW_MS + 5 * MIN)).time == NOW_MS + 5 * MIN
    assert ok(closed(time="2026-11-24T13:34:00Z")).time == NOW_MS + 5 * MIN
    assert ok(connected(time=NOW_MS + 1)).time == NOW_MS + 1


@pytest.mark.parametrize(
    "value", [NOW_MS + 5 * MIN + 1, NOW_MS + 6 * MIN, "2026-11-24T13:34:00.001Z", 2**64 - 1]
)
def test_time_more_than_five_minutes_ahead_is_invalid(value: object) -> None:
    problems = bad(connected(time=value))
    assert [p.field for p in problems] == ["time"]
    assert "5 minutes" in problems[0].message


def test_future_limit_follows_the_given_clock() -> None:
    later = NOW_MS + 60 * MIN
    assert bad_fields(connected(time=later)) == {"time"}
    assert ok(connected(time=later), now=later - 5 * MIN).time == later


# -- skillId --------------------------------------------------------------------------------


def test_skill_absent_or_null_is_minus_one() -> None:
    # The event keeps "no skill"; the methods count it under skill -1.
    assert ok(without(connected(), "skillId")).skill_id is None
    assert ok(connected(skillId=None)).skill_id is None
    assert ok(without(closed(), "skillId")).skill_id is None
    assert ok(closed(skillId=None)).skill_id is None


@pytest.mark.parametrize("skill", [0, -1, 1, 2, INT64_MAX, INT64_MIN])
def test_skill_valid(skill: int) -> None:
    assert ok(connected(skillId=skill)).skill_id == skill


@pytest.mark.parametrize(
    "skill", [INT64_MAX + 1, INT64_MIN - 1, 2**64, True, False, "2", 2.0, 2.5, [2], {"id": 2}]
)
def test_skill_invalid(skill: object) -> None:
    assert bad_fields(connected(skillId=skill)) == {"skillId"}
    assert bad_fields(closed(skillId=skill)) == {"skillId"}


# -- agentId --------------------------------------------------------------------------------


def test_agent_required_for_connected() -> None:
    assert bad_fields(without(connected(), "agentId")) == {"agentId"}
    assert bad_fields(connected(agentId=None)) == {"agentId"}


def test_agent_optional_for_closed() -> None:
    assert ok(without(closed(), "agentId")).agent_id is None
    assert ok(closed(agentId=None)).agent_id is None


@pytest.mark.parametrize("agent", [0, -1, 3, INT64_MAX, INT64_MIN])
def test_agent_valid(agent: int) -> None:
    assert ok(connected(agentId=agent)).agent_id == agent
    assert ok(closed(agentId=agent)).agent_id == agent


@pytest.mark.parametrize(
    "agent", [INT64_MAX + 1, INT64_MIN - 1, True, False, "3", 3.0, [3], {"id": 3}]
)
def test_agent_invalid(agent: object) -> None:
    assert bad_fields(connected(agentId=agent)) == {"agentId"}
    assert bad_fields(closed(agentId=agent)) == {"agentId"}


# -- interactive ----------------------------------------------------------------------------


def test_interactive_required_for_closed() -> None:
    assert bad_fields(without(closed(), "interactive")) == {"interactive"}
    assert bad_fields(closed(interactive=None)) == {"interactive"}


@pytest.mark.parametrize("value", [1, 0, "true", "false", [True], {"v": True}])
def test_interactive_must_be_boolean(value: object) -> None:
    assert bad_fields(closed(interactive=value)) == {"interactive"}


@pytest.mark.parametrize("value", [True, False, 1, "yes"])
def test_interactive_forbidden_for_connected(value: object) -> None:
    assert bad_fields(connected(interactive=value)) == {"interactive"}


# -- handlingTime ---------------------------------------------------------------------------


def test_handling_time_defaults_to_zero() -> None:
    assert counters([ok(without(closed(), "handlingTime"))]) == (1, 0, 0, 0, 0)
    assert counters([ok(closed(handlingTime=None, interactive=False))]) == (0, 1, 0, 0, 0)


@pytest.mark.parametrize("seconds", [0, 1, 312, 86_400, 2**31 - 1])
def test_handling_time_valid(seconds: int) -> None:
    assert counters([ok(closed(handlingTime=seconds))]) == (1, 0, seconds, 0, 0)
    assert counters([ok(closed(handlingTime=seconds, interactive=False))]) == (0, 1, 0, seconds, 0)


@pytest.mark.parametrize(
    "seconds", [-1, INT64_MIN, INT64_MAX + 1, 1.5, 10.0, True, False, "10", [10], {"s": 1}]
)
def test_handling_time_invalid(seconds: object) -> None:
    assert bad_fields(closed(handlingTime=seconds)) == {"handlingTime"}


@pytest.mark.parametrize("seconds", [0, 5, -1, "5"])
def test_handling_time_forbidden_for_connected(seconds: object) -> None:
    assert bad_fields(connected(handlingTime=seconds)) == {"handlingTime"}


# -- the event as a whole -------------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    extra = {"conversationId": "abc", "nested": {"x": [1, 2]}, "skill": "s", "agent_id": None}
    assert ok(connected(**extra)) == ok(connected())
    assert ok(closed(**extra)) == ok(closed())


@pytest.mark.parametrize("raw", [None, 1, "event", [], [connected()], True, 1.5])
def test_event_must_be_an_object(raw: object) -> None:
    problems = bad(raw, index=7)
    assert [p.field for p in problems] == ["event"]


def test_every_bad_field_is_reported() -> None:
    raw = {
        "eventId": "",
        "type": "closed",
        "time": "2026-11-24T13:29:00",
        "skillId": "a",
        "agentId": 1.5,
        "interactive": "yes",
        "handlingTime": -3,
    }
    assert bad_fields(raw) == {
        "eventId",
        "time",
        "skillId",
        "agentId",
        "interactive",
        "handlingTime",
    }
    assert bad_fields({}) == {"eventId", "type", "time"}
    assert bad_fields({"type": "connected"}) == {"eventId", "time", "agentId"}
    assert bad_fields({"type": "closed"}) == {"eventId", "time", "interactive"}


def test_problems_serialise_with_index_field_and_allowed() -> None:
    (problem,) = validate_event(connected(eventId=""), 4, NOW_MS)  # type: ignore[misc]
    assert problem.as_json() == {
        "index": 4,
        "field": "eventId",
        "message": problem.message,
        "allowed": problem.allowed,
    }


# -- batches --------------------------------------------------------------------------------


def test_validate_batch_reports_every_bad_event_by_index() -> None:
    items: list[object] = [
        connected(eventId="a"),
        connected(eventId="b", agentId=None),
        closed(eventId="c"),
        closed(eventId="d", interactive=None, handlingTime=-1),
        "not an event",
    ]
    events, problems = validate_batch(items, NOW_MS)
    assert [e.event_id for e in events] == ["a", "c"]
    assert {(p.index, p.field) for p in problems} == {
        (1, "agentId"),
        (3, "interactive"),
        (3, "handlingTime"),
        (4, "event"),
    }


def test_validate_empty_batch() -> None:
    assert validate_batch([], NOW_MS) == ([], [])


def test_decode_json_array() -> None:
    body = orjson.dumps([connected(), closed()])
    assert decode_batch(body, ndjson=False) == ([connected(), closed()], [])
    assert decode_batch(b"[]", ndjson=False) == ([], [])
    assert decode_batch(b" \n[ ]\n", ndjson=False) == ([], [])


@pytest.mark.parametrize("body", [b"", b"not json", b"[1,", b"{", b"\xff\xfe", b"[{}]\n[{}]"])
def test_decode_json_invalid(body: bytes) -> None:
    items, problems = decode_batch(body, ndjson=False)
    assert items == []
    assert [p.field for p in problems] == ["body"]
    assert problems[0].index is None


@pytest.mark.parametrize("body", [b"42", b'"event"', b"null", b"true", b"1.5"])
def test_decode_json_non_array(body: bytes) -> None:
    items, problems = decode_batch(body, ndjson=False)
    assert items == []
    assert [p.field for p in problems] == ["body"]


def test_decode_ndjson_skips_blank_lines() -> None:
    lines = [orjson.dumps(connected(eventId="a")), b"", b"   ", orjson.dumps(closed()), b"\t"]
    body = b"\n" + b"\n".join(lines) + b"\n\n"
    assert decode_batch(body, ndjson=True) == ([connected(eventId="a"), closed()], [])


def test_decode_ndjson_crlf() -> None:
    body = orjson.dumps(connected()) + b"\r\n\r\n" + orjson.dumps(closed()) + b"\r\n"
    assert decode_batch(body, ndjson=True) == ([connected(), closed()], [])


def test_decode_ndjson_empty() -> None:
    assert decode_batch(b"", ndjson=True) == ([], [])
    assert decode_batch(b"\n \n\r\n", ndjson=True) == ([], [])


def test_decode_ndjson_bad_lines_are_reported_by_event_index() -> None:
    body = b"\n".join(
        [
            orjson.dumps(connected(eventId="a")),
            b"{not json",
            b"",
            orjson.dumps(closed(eventId="b")),
            b"[1,",
            orjson.dumps(connected(eventId="c", agentId=None)),
        ]
    )
    items, problems = decode_batch(body, ndjson=True)
    assert len(items) == 5
    assert items[1] is UNPARSABLE and items[3] is UNPARSABLE
    assert [(p.index, p.field) for p in problems] == [(1, "event"), (3, "event")]
    events, more = validate_batch(items, NOW_MS)
    assert [e.event_id for e in events] == ["a", "b"]
    assert [(p.index, p.field) for p in more] == [(4, "agentId")]


def test_decode_ndjson_line_that_is_not_an_object() -> None:
    items, problems = decode_batch(b"[1]\n2\n", ndjson=True)
    assert problems == []
    _, more = validate_batch(items, NOW_MS)
    assert [(p.index, p.field) for p in more] == [(0, "event"), (1, "event")]


# -- properties -----------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["connected", "closed", NOW_ISO, "2026-11-24T13:20:00+02:00"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = WIRE_FIELDS
event_like = st.dictionaries(st.sampled_from([*FIELDS, "other"]), json_values, max_size=8)


def check_outcome(result: object) -> None:
    if isinstance(result, Event):
        assert isinstance(result.event_id, str) and 1 <= len(result.event_id) <= 128
        assert isinstance(result.time, int) and result.time <= NOW_MS + 5 * MIN
        assert result.skill_id is None or INT64_MIN <= result.skill_id <= INT64_MAX
        assert result.agent_id is None or INT64_MIN <= result.agent_id <= INT64_MAX
        made = counters([result])
        assert all(isinstance(c, int) and c >= 0 for c in made)
        assert sum(made[i] for i in (0, 1, 4)) == 1
    else:
        assert isinstance(result, list) and result
        assert all(isinstance(p, Problem) and p.index == 3 for p in result)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_validates_or_yields_problems(raw: Any) -> None:
    check_outcome(validate_event(raw, 3, NOW_MS))


@settings(max_examples=400, deadline=None)
@given(event_like)
def test_any_event_like_object_validates_or_yields_problems(raw: dict[str, Any]) -> None:
    check_outcome(validate_event(raw, 3, NOW_MS))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_decoding_any_bytes_never_raises(body: bytes, ndjson: bool) -> None:
    items, problems = decode_batch(body, ndjson)
    validate_batch(items, NOW_MS)
    assert all(isinstance(p, Problem) for p in problems)


@settings(max_examples=200, deadline=None)
@given(
    event_id=st.text(min_size=1, max_size=128),
    offset=st.integers(min_value=-(10**10), max_value=5 * MIN),
    skill=st.none() | st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    agent=st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    interactive=st.booleans(),
    seconds=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_valid_events_roundtrip(
    event_id: str, offset: int, skill: int | None, agent: int, interactive: bool, seconds: int
) -> None:
    raw = closed(
        eventId=event_id,
        time=NOW_MS + offset,
        skillId=skill,
        agentId=agent,
        interactive=interactive,
        handlingTime=seconds,
    )
    event = ok(orjson.loads(orjson.dumps(raw)))
    assert event.event_id == event_id
    assert event.time == NOW_MS + offset
    assert event.skill_id == skill
    assert event.agent_id == agent
    expected = (1, 0, seconds, 0, 0) if interactive else (0, 1, 0, seconds, 0)
    assert counters([event]) == expected


# -- the fast path agrees with the full validator -----------------------------------

_field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, -(2**63), 2**63]),
    st.text(max_size=3),
    st.sampled_from([*TYPES, "x" * 128, "x" * 129, ""]),
    st.floats(allow_nan=False),
)


@settings(max_examples=600, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from([*WIRE_FIELDS, "x"]),
        _field_values,
    ),
    event_id=st.one_of(st.none(), st.text(min_size=0, max_size=130)),
    kind=st.sampled_from([None, *TYPES, "other"]),
    offset=st.integers(min_value=-(10**9), max_value=10 * 60_000),
)
def test_fast_path_matches_full_validation(
    fields: dict[str, object], event_id: str | None, kind: str | None, offset: int
) -> None:
    from engactivity.core import events as module

    raw: dict[str, object] = {"time": NOW_MS + offset, **fields}
    if event_id is not None:
        raw["eventId"] = event_id
    if kind is not None:
        raw["type"] = kind
    fast = module._convert(raw, NOW_MS)
    full = module._validate_fully(raw, 0, NOW_MS)
    if fast is not None:
        assert fast == full


def test_plain_events_take_the_fast_path() -> None:
    from engactivity.core import events as module

    plain = [
        {"eventId": "c", "type": "connected", "time": NOW_MS, "skillId": 2, "agentId": 3},
        {"eventId": "x", "type": "closed", "time": NOW_MS, "agentId": 3, "interactive": True},
        {"eventId": "y", "type": "closed", "time": NOW_MS, "interactive": False, "handlingTime": 9},
    ]
    for raw in plain:
        assert module._convert(raw, NOW_MS) == module._validate_fully(raw, 0, NOW_MS)


# -- the plain-batch path agrees with decode_batch + validate_batch -------------------


def full_path(body: bytes) -> list[Event] | None:
    """The events of ``body`` by the full path; None when it has any problem."""
    items, problems = decode_batch(body, False)
    events, more = validate_batch(items, NOW_MS)
    return None if problems or more else events


def assert_plain_agrees(body: bytes) -> list[Event] | None:
    plain = decode_plain_batch(body, NOW_MS)
    if plain is not None:
        assert plain == full_path(body)
    return plain


_event_fields = st.fixed_dictionaries(
    {},
    optional={
        "eventId": st.one_of(st.text(max_size=130), _field_values),
        "type": st.one_of(st.sampled_from([*TYPES, "other"]), _field_values),
        "time": st.one_of(
            st.integers(min_value=NOW_MS - 10**9, max_value=NOW_MS + 10 * 60_000),
            st.just(NOW_ISO),
            _field_values,
        ),
        "skillId": _field_values,
        "agentId": _field_values,
        "interactive": _field_values,
        "handlingTime": _field_values,
        "waitTime": _field_values,
        "agentGroupId": _field_values,
        "queueSize": _field_values,
        "availableSlots": _field_values,
        "state": st.one_of(st.sampled_from([*STATES, "Away", ""]), _field_values),
        "reasonId": st.one_of(st.sampled_from(["2642559712", "x" * 64, "x" * 65]), _field_values),
        "activeChats": _field_values,
        "maxChats": _field_values,
        "x": _field_values,
    },
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_event_fields, max_size=6))
def test_plain_batch_path_matches_the_full_path(batch: list[dict[str, object]]) -> None:
    # The json module writes integers of any size (and "Infinity", which is not JSON).
    assert_plain_agrees(json.dumps(batch).encode())


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from([connected(), closed(), closed(interactive=False), *QUEUE_SIDE]), max_size=4
    ),
    st.integers(min_value=0, max_value=10_000),
    st.binary(min_size=1, max_size=3),
)
def test_plain_batch_path_matches_the_full_path_on_damaged_bodies(
    batch: list[dict[str, object]], at: int, junk: bytes
) -> None:
    body = orjson.dumps(batch)
    at %= len(body)
    assert_plain_agrees(body[:at] + junk + body[at + 1 :])
    assert_plain_agrees(body[:at] + junk + body[at:])


@pytest.mark.parametrize(
    "body",
    [
        # Bodies the full path refuses (or reads otherwise) where a lenient decoder
        # could accept: the plain path must decline them all.
        b'[{"eventId":"a","type":"connected","time":1,"agentId":1,"x":1e400}]',
        b'[{"eventId":"a","type":"connected","time":1,"agentId":1,"x":"\xff"}]',
        b'[{"eventId":"\xff","type":"connected","time":1,"agentId":1}]',
        b'[{"eventId":"\xed\xa0\x80","type":"connected","time":1,"agentId":1}]',
        b'[{"eventId":"\\ud800","type":"connected","time":1,"agentId":1}]',
        b'[{"eventId":"a","type":"connected","time":-9223372036854775809,"agentId":1}]',
        b'[{"eventId":"a","type":"connected","time":9223372036854775808,"agentId":1}]',
        b'[{"eventId":"a","type":"connected","time":1,"agentId":18446744073709551615}]',
        b'[{"eventId":"a","type":"connected","time":1,"agentId":1.0}]',
        b'[{"eventId":"a","type":"connected","type":"closed","interactive":true,"time":1}]',
        b'[{"eventId":"a","type":"connected","time":1,"agentId":1,"interactive":true}]',
        b'[{"eventId":"a","type":"closed","time":1,"interactive":null}]',
        b'[{"eventId":"a","type":"connected","time":1,"agentId":1,"x":'
        + b"[" * 3000
        + b"]" * 3000
        + b"}]",
        b"\xef\xbb\xbf[]",
        b'{"eventId":"a","type":"connected","time":1,"agentId":1}',
        b"[" * 3000 + b"]" * 3000,
        b'[{"eventId":"a","type":"connected","time":"2026-11-24T13:29:00Z","agentId":1}]',
    ],
)
def test_the_plain_path_declines_what_it_does_not_know(body: bytes) -> None:
    assert decode_plain_batch(body, NOW_MS) is None
    full_path(body)  # decides, without raising


def test_plain_batches_take_the_plain_path() -> None:
    batch = [
        connected(),
        closed(),
        closed(eventId="y", interactive=False, handlingTime=0, skillId=None, agentId=None),
        without(closed(eventId="z"), "handlingTime"),
        connected(eventId="a\x00b", time=NOW_MS + 5 * 60_000, skillId=-(2**63), agentId=2**63 - 1),
        {**connected(eventId="w"), "interactive": None, "handlingTime": None},
        {**connected(eventId="v"), "eventId": "v2"},  # a repeated key: the last one counts
    ]
    body = orjson.dumps(batch)
    plain = decode_plain_batch(body, NOW_MS)
    assert plain is not None and len(plain) == len(batch)
    assert plain == full_path(body)
    assert plain[-1].event_id == "v2"
    assert decode_plain_batch(b"[]", NOW_MS) == []


# -- the queue side's events ----------------------------------------------------------


def test_queue_side_events_are_valid_and_take_the_plain_path() -> None:
    body = orjson.dumps(QUEUE_SIDE)
    plain = decode_plain_batch(body, NOW_MS)
    assert plain is not None and plain == full_path(body)
    assert [wire(e)["type"] for e in plain] == [e["type"] for e in QUEUE_SIDE]


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        (
            {"eventId": "s", "type": "queueState", "time": NOW_MS, "queueSize": 1},
            {"skillId", "availableSlots"},
        ),
        (
            {
                "eventId": "s",
                "type": "queueState",
                "time": NOW_MS,
                "skillId": 1,
                "queueSize": -1,
                "availableSlots": 2**31,
            },
            {"queueSize", "availableSlots"},
        ),
        (
            {
                "eventId": "c",
                "type": "connected",
                "time": NOW_MS,
                "agentId": 1,
                "waitTime": -1,
                "agentGroupId": "g",
            },
            {"waitTime", "agentGroupId"},
        ),
        (
            {"eventId": "x", "type": "closed", "time": NOW_MS, "interactive": True, "waitTime": 3},
            {"waitTime"},
        ),
        (
            {
                "eventId": "q",
                "type": "queued",
                "time": NOW_MS,
                "queueSize": 3,
                "interactive": False,
            },
            {"queueSize", "interactive"},
        ),
        (
            {
                "eventId": "a",
                "type": "abandoned",
                "time": NOW_MS,
                "handlingTime": 3,
                "agentGroupId": 1,
            },
            {"handlingTime", "agentGroupId"},
        ),
    ],
)
def test_queue_side_field_rules(event: dict[str, object], fields: set[str]) -> None:
    assert bad_fields(event) == fields


def test_another_types_field_may_be_null() -> None:
    event = {"eventId": "q", "type": "queued", "time": NOW_MS, "waitTime": None, "queueSize": None}
    assert wire(ok(event)) == {"type": "queued", "eventId": "q", "time": NOW_MS}


# -- the agent side's events ----------------------------------------------------------

AGENT_SIDE: list[dict[str, object]] = [
    {
        "eventId": "g-3-99",
        "type": "agentState",
        "time": NOW_MS - MIN,
        "agentId": 3,
        "state": "away",
        "reasonId": "2642559712",
        "activeChats": 1,
        "maxChats": 3,
    },
    {"eventId": "g-3-100", "type": "agentState", "time": NOW_MS, "agentId": 3, "state": "online"},
    {
        "eventId": "g-4-1",
        "type": "agentState",
        "time": NOW_MS,
        "agentId": 4,
        "state": "away",
        "reasonId": 17,
        "maxChats": None,
        "skillId": 5,
    },
    {"eventId": "g-5-1", "type": "agentState", "time": NOW_MS, "agentId": 5, "state": "loggedOut"},
]


def test_agent_side_events_are_valid_and_take_the_plain_path() -> None:
    body = orjson.dumps(AGENT_SIDE)
    plain = decode_plain_batch(body, NOW_MS)
    assert plain is not None and plain == full_path(body)
    assert [wire(e)["state"] for e in plain] == ["away", "online", "away", "loggedOut"]
    assert wire(plain[2])["reasonId"] == 17  # kept as given; the method reads it as "17"


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        ({"eventId": "g", "type": "agentState", "time": NOW_MS}, {"agentId", "state"}),
        (
            {"eventId": "g", "type": "agentState", "time": NOW_MS, "agentId": 1, "state": "busy"},
            {"state"},
        ),
        (
            {
                "eventId": "g",
                "type": "agentState",
                "time": NOW_MS,
                "agentId": 1,
                "state": "online",
                "reasonId": "7",
            },
            {"reasonId"},
        ),
        (
            {
                "eventId": "g",
                "type": "agentState",
                "time": NOW_MS,
                "agentId": 1,
                "state": "away",
                "reasonId": "",
                "activeChats": -1,
                "maxChats": 0,
            },
            {"reasonId", "activeChats", "maxChats"},
        ),
        (
            {
                "eventId": "g",
                "type": "agentState",
                "time": NOW_MS,
                "agentId": 1,
                "state": "away",
                "reasonId": "x" * 65,
                "maxChats": 2**31,
            },
            {"reasonId", "maxChats"},
        ),
        (
            {"eventId": "c", "type": "connected", "time": NOW_MS, "agentId": 1, "state": "online"},
            {"state"},
        ),
        (
            {
                "eventId": "x",
                "type": "closed",
                "time": NOW_MS,
                "interactive": True,
                "activeChats": 1,
                "maxChats": 2,
            },
            {"activeChats", "maxChats"},
        ),
    ],
)
def test_agent_side_field_rules(event: dict[str, object], fields: set[str]) -> None:
    assert bad_fields(event) == fields


def test_a_reason_on_a_state_other_than_away_says_why() -> None:
    event = {**AGENT_SIDE[1], "reasonId": "2642559712"}
    (problem,) = bad(event)
    assert problem.field == "reasonId" and "away" in problem.message
    assert decode_plain_batch(orjson.dumps([event]), NOW_MS) is None
    assert wire(ok({**event, "reasonId": None})) == wire(ok(AGENT_SIDE[1]))


def test_an_article_fits_the_type() -> None:
    (problem,) = bad({"eventId": "a", "type": "abandoned", "time": NOW_MS, "queueSize": 1})
    assert problem.message == "queueSize is not allowed on an abandoned event"
    fields = bad({"eventId": "g", "type": "agentState", "time": NOW_MS, "state": "online"})
    assert fields[0].message == "agentId is required for an agentState event"
