"""Engagement activity's parameters (SEMANTICS.md section 6), parsed with the shared rules
of engactivity.core.params."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.problems import InvalidRequest
from engactivity.methods.engactivity import EngActivityQuery
from engactivity.methods.engactivity import parse as parse_query

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def ok(**params: object) -> EngActivityQuery:
    base: dict[str, object] = {"timeframe": "60", "v": "1"}
    base.update(params)
    return parse_query(base)


def problem_fields(params: dict[str, object]) -> list[str]:
    with pytest.raises(InvalidRequest) as caught:
        parse_query(params)
    problems = caught.value.problems
    assert problems, "InvalidRequest without problems"
    for problem in problems:
        assert problem.message
        assert problem.allowed, f"no 'allowed' for {problem.field}"
    return [p.field for p in problems]


def bad(field: str, **params: object) -> None:
    base: dict[str, object] = {"timeframe": "60", "v": "1"}
    base.update(params)
    for key in [k for k, v in base.items() if v is _DROP]:
        del base[key]
    assert problem_fields(base) == [field]


_DROP = object()


# -- timeframe and v -----------------------------------------------------------------------


def test_minimal_query() -> None:
    assert parse_query({"timeframe": "60", "v": "1"}) == EngActivityQuery(60, None, None, None)


@pytest.mark.parametrize("value", ["1", "5", "7", "1440", "+30", "030", 1, 1440, 60])
def test_timeframe_valid(value: object) -> None:
    assert ok(timeframe=value).timeframe == int(str(value))


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "1441",
        "10000",
        "abc",
        "1.5",
        "1e2",
        "0x10",
        "5 0",
        "",
        " ",
        0,
        1441,
        -5,
        1.5,
        True,
        False,
        [60],
        {"a": 1},
        _DROP,
        None,
    ],
)
def test_timeframe_invalid(value: object) -> None:
    bad("timeframe", timeframe=value)


@pytest.mark.parametrize("value", ["1", 1, "01", "+1"])
def test_version_valid(value: object) -> None:
    assert ok(v=value).timeframe == 60


@pytest.mark.parametrize("value", ["0", "2", "abc", "", " ", 2, 0, True, [1], None, _DROP])
def test_version_invalid(value: object) -> None:
    bad("v", v=value)


def test_missing_both_names_both() -> None:
    assert sorted(problem_fields({})) == ["timeframe", "v"]


def test_every_problem_is_listed() -> None:
    fields = problem_fields(
        {"timeframe": "0", "v": "9", "interval": "x", "skillIds": "a", "agentIds": "b"}
    )
    assert sorted(fields) == ["agentIds", "interval", "skillIds", "timeframe", "v"]


# -- interval ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeframe", "interval"),
    [
        (60, 30),
        (60, 5),
        (60, 60),
        (60, "15"),
        (1200, 600),
        (1440, 1440),
        (14, 7),
        (10, 5),
        (1440, 9),
        ("20", "10"),
    ],
)
def test_interval_valid(timeframe: object, interval: object) -> None:
    query = ok(timeframe=timeframe, interval=interval)
    assert query.interval == int(str(interval))
    assert query.timeframe == int(str(timeframe))


@pytest.mark.parametrize(
    ("timeframe", "interval"),
    [
        (60, 61),
        (60, 31),
        (60, 4),
        (60, 0),
        (60, -30),
        (4, 4),
        (3, 1),
        (60, "abc"),
        (60, "7.5"),
        (60, 7.5),
        (60, 120),
        (20, 3),
        (1440, 2880),
        (60, True),
        (60, [30]),
    ],
)
def test_interval_invalid(timeframe: object, interval: object) -> None:
    bad("interval", timeframe=timeframe, interval=interval)


def test_interval_absent_when_empty() -> None:
    assert ok(interval="").interval is None
    assert ok(interval=None).interval is None


# -- id lists -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["skillIds", "agentIds"])
@pytest.mark.parametrize("value", ["all", "ALL", "All", "aLl", " all ", "all "])
def test_ids_all_any_case(name: str, value: str) -> None:
    query = ok(**{name: value})
    assert (query.skills if name == "skillIds" else query.agents) == "all"


def _ids(name: str, value: object) -> object:
    query = ok(**{name: value})
    return query.skills if name == "skillIds" else query.agents


@pytest.mark.parametrize("name", ["skillIds", "agentIds"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", {2}),
        ("4,15,3", {3, 4, 15}),
        (" 4 , 15 ,3 ", {3, 4, 15}),
        ("4,\t15", {4, 15}),
        ("1,1,2,1", {1, 2}),
        ("-1", {-1}),
        ("-1,0,7", {-1, 0, 7}),
        ("+5", {5}),
        (str(INT64_MAX), {INT64_MAX}),
        (str(INT64_MIN), {INT64_MIN}),
        (f"{INT64_MIN},{INT64_MAX}", {INT64_MIN, INT64_MAX}),
        # POST-style values
        (7, {7}),
        (-1, {-1}),
        ([1, 2, 2], {1, 2}),
        ([INT64_MAX, INT64_MIN], {INT64_MAX, INT64_MIN}),
        ("12", {12}),
    ],
)
def test_id_lists(name: str, value: object, expected: set[int]) -> None:
    assert _ids(name, value) == frozenset(expected)


@pytest.mark.parametrize("name", ["skillIds", "agentIds"])
@pytest.mark.parametrize("value", ["", " ", None])
def test_ids_empty_is_absent(name: str, value: object) -> None:
    assert _ids(name, value) is None


@pytest.mark.parametrize("name", ["skillIds", "agentIds"])
def test_ids_empty_json_array_is_absent(name: str) -> None:
    # An empty list is an empty value: the same as leaving the parameter out.
    assert _ids(name, []) is None


@pytest.mark.parametrize("name", ["skillIds", "agentIds"])
@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "1,a",
        "1.5",
        "1,,2",
        "1;2",
        "1 2",
        "alll",
        "all,1",
        "0x1f",
        str(INT64_MAX + 1),
        str(INT64_MIN - 1),
        f"1,{2**64}",
        2**63,
        -(2**63) - 1,
        [1, 2**63],
        [1, "x"],
        [1, None],
        [True],
        [[1]],
        1.5,
        True,
        {"a": 1},
    ],
)
def test_ids_invalid(name: str, value: object) -> None:
    bad(name, **{name: value})


# -- inputs that must be refused cleanly, never crash ------------------------------------------


HUGE_DIGITS = "9" * 5000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("timeframe", HUGE_DIGITS),
        ("v", HUGE_DIGITS),
        ("interval", HUGE_DIGITS),
        ("skillIds", HUGE_DIGITS),
        ("agentIds", "1," + HUGE_DIGITS),
        ("timeframe", "-" + HUGE_DIGITS),
    ],
)
def test_very_long_numbers_are_invalid_not_a_crash(name: str, value: str) -> None:
    bad(name, **{name: value})


def test_unknown_parameters_are_ignored() -> None:
    assert ok(foo="bar", skillids="x", TIMEFRAME="0", callback="y") == EngActivityQuery(
        60, None, None, None
    )


def test_full_query() -> None:
    query = parse_query(
        {"timeframe": 1200, "v": 1, "interval": "600", "skillIds": [2, 3], "agentIds": "ALL"}
    )
    assert query == EngActivityQuery(1200, 600, frozenset({2, 3}), "all")


# -- property: junk never raises anything but InvalidRequest ----------------------------------

junk_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.text(alphabet="0123456789-+, allALL\t", max_size=30)
    | st.integers(4290, 4400).map(lambda n: "7" * n)
)
junk_value = st.recursive(
    junk_scalar,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
param_names = st.sampled_from(["timeframe", "v", "interval", "skillIds", "agentIds"]) | st.text(
    max_size=10
)


@settings(max_examples=400, deadline=None)
@given(params=st.dictionaries(param_names, junk_value, max_size=7))
def test_junk_raises_only_invalid_request(params: dict[str, Any]) -> None:
    try:
        query = parse_query(params)
    except InvalidRequest as exc:
        assert exc.problems
        return
    assert 1 <= query.timeframe <= 1440
    if query.interval is not None:
        assert 5 <= query.interval <= query.timeframe
        assert query.timeframe % query.interval == 0
    for selection in (query.skills, query.agents):
        assert selection is None or selection == "all" or isinstance(selection, frozenset)
        if isinstance(selection, frozenset):
            assert all(INT64_MIN <= i <= INT64_MAX for i in selection)
