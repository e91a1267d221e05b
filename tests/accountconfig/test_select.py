"""``select=``: the reference's field selection, parsed and applied."""

from __future__ import annotations

import pytest

from engactivity.accountconfig.select import Selection, parse_select, project
from engactivity.core.problems import InvalidRequest

USER = {
    "id": 1001,
    "deleted": False,
    "loginName": "ana",
    "skillIds": [1, 2],
    "memberOf": {"agentGroupId": 3, "extra": 1},
    "managerOf": [{"agentGroupId": 3, "x": 1}, {"agentGroupId": 4, "x": 2}],
}


@pytest.mark.parametrize(
    ("text", "selection"),
    [
        (None, {"id": None, "name": None}),
        ("", {"id": None, "name": None}),
        ("  ", {"id": None, "name": None}),
        ("id", {"id": None}),
        (" id , loginName ", {"id": None, "loginName": None}),
        ("id,,loginName,", {"id": None, "loginName": None}),
        ("$all", None),
        ("*", None),
        ("id,$all", None),
        ("memberOf(agentGroupId)", {"memberOf": {"agentGroupId": None}}),
        ("a(b(c,d),e)", {"a": {"b": {"c": None, "d": None}, "e": None}}),
        ("memberOf($all),id", {"memberOf": None, "id": None}),
        ("no such field", {"no such field": None}),
    ],
)
def test_selections_are_parsed(text: str | None, selection: Selection) -> None:
    assert parse_select(text, ("id", "name")) == selection


def test_no_default_means_every_field() -> None:
    assert parse_select(None, None) is None


@pytest.mark.parametrize("text", ["id)", "(id)", "memberOf(", "a(b(c)", "id,(x)", "a()b)"])
def test_unbalanced_parentheses_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_select(text, None)
    (problem,) = refused.value.problems
    assert problem.field == "select"
    assert "$all" in problem.allowed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,loginName", {"id": 1001, "loginName": "ana"}),
        ("loginName,id", {"id": 1001, "loginName": "ana"}),  # the entity's order
        ("id,nickname", {"id": 1001}),  # a field it does not have: left out
        ("memberOf", {"memberOf": {"agentGroupId": 3, "extra": 1}}),
        ("memberOf(agentGroupId)", {"memberOf": {"agentGroupId": 3}}),
        ("managerOf(agentGroupId)", {"managerOf": [{"agentGroupId": 3}, {"agentGroupId": 4}]}),
        ("skillIds(x)", {"skillIds": [1, 2]}),  # numbers have no fields to pick
        ("$all", USER),
    ],
)
def test_projection_keeps_the_selected_fields(text: str, expected: dict[str, object]) -> None:
    assert project(USER, parse_select(text, None)) == expected
