"""Configuration documents: what is taken, how it is normalized, and every problem named
by its field with what is allowed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engactivity.accountconfig.document import MAX_PROBLEMS, Document, parse_document
from engactivity.accountconfig.kinds import KINDS, MAX_NAME_CHARS
from engactivity.core.problems import InvalidRequest


def parse(doc: Any) -> Document:
    return parse_document(orjson.dumps(doc))


def problems(doc: Any) -> list[tuple[str, str]]:
    """(field, allowed) of every problem of ``doc``."""
    body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    with pytest.raises(InvalidRequest) as refused:
        parse_document(body)
    return [(p.field, p.allowed) for p in refused.value.problems]


def test_a_full_document_is_taken_normalized_in_declared_order() -> None:
    doc = parse(
        {
            "users": [
                {
                    "memberOf": {"agentGroupId": 3, "assignmentDate": "2015-06-22 19:20:03"},
                    "skillIds": [5, 2, 5, 9],
                    "fullName": "Ana Silva",
                    "loginName": "ana",
                    "id": 1001,
                    "nickname": None,  # null is absent
                    "dateUpdated": "2026-01-01 00:00:00",  # read-only: ignored
                    "managerOf": [{"agentGroupId": 4}, {"agentGroupId": 3}, {"agentGroupId": 4}],
                }
            ],
            "skills": [{"id": 2, "name": "Billing"}, {"id": -7, "deleted": True}],
            "agentGroups": [],
            "replace": True,
        }
    )
    assert doc.replace is True
    (user,) = doc.items["users"]
    assert user.id == 1001 and not user.deleted
    assert list(user.body or {}) == ["loginName", "fullName", "skillIds", "memberOf", "managerOf"]
    assert user.body == {
        "loginName": "ana",
        "fullName": "Ana Silva",
        "skillIds": [2, 5, 9],
        "memberOf": {"agentGroupId": 3},
        "managerOf": [{"agentGroupId": 3}, {"agentGroupId": 4}],
    }
    billing, gone = doc.items["skills"]
    assert (billing.body, billing.index) == ({"name": "Billing"}, 0)
    assert (gone.id, gone.deleted, gone.body, gone.index) == (-7, True, None, 1)
    assert doc.items["agentGroups"] == []
    assert doc.count() == 3


def test_an_empty_document_is_valid() -> None:
    assert parse({}) == Document({}, False)
    assert parse({"skills": None, "replace": None}) == Document({}, False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'"skills"', "must be a JSON object"),
    ],
)
def test_a_body_that_is_no_document(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_document(body)
    (problem,) = refused.value.problems
    assert problem.field == "body" and message in problem.message
    assert "skills" in problem.allowed


def test_every_problem_is_named_with_what_is_allowed() -> None:
    found = problems(
        {
            "skill": [],
            "replace": "yes",
            "users": {"id": 1},
            "skills": [
                5,
                {"name": "no id"},
                {"id": "7", "name": "a string id"},
                {"id": True, "name": "a boolean id"},
                {"id": 2**63, "name": "too large"},
                {"id": 3},
                {"id": 4, "name": ""},
                {"id": 5, "name": "x" * (MAX_NAME_CHARS + 1)},
                {"id": 6, "name": "ok", "maxWaitTime": -1, "colour": "red"},
                {"id": 7, "name": "ok", "deleted": "no"},
                {"id": 8, "deleted": True, "description": "fields given: the name too"},
            ],
            "agentGroups": [{"id": 1, "name": "A"}, {"id": 1, "name": "B"}],
        }
    )
    assert found == [
        ("skill", "skills, users, agentGroups, replace"),
        ("replace", "true or false"),
        ("skills[0]", "an object"),
        ("skills[1].id", "a 64-bit integer"),
        ("skills[2].id", "a 64-bit integer"),
        ("skills[3].id", "a 64-bit integer"),
        ("skills[4].id", "a 64-bit integer"),
        ("skills[5].name", "a string of 1 to 255 characters"),
        ("skills[6].name", "a string of 1 to 255 characters"),
        ("skills[7].name", "a string of 1 to 255 characters"),
        ("skills[8].maxWaitTime", "an integer from 0 to 2147483647"),
        ("skills[8].colour", "id, deleted, name, description, skillOrder, maxWaitTime"),
        ("skills[9].deleted", "true or false"),
        ("skills[10].name", "a string of 1 to 255 characters"),
        ("users", "an array of user objects"),
        ("agentGroups[1].id", "each id at most once per array"),
    ]


def test_user_fields_are_checked() -> None:
    found = problems(
        {
            "users": [
                {
                    "id": 1,
                    "loginName": "a",
                    "skillIds": [1, "2"],
                    "memberOf": {"agentGroupId": "x"},
                    "managerOf": {"agentGroupId": 1},
                    "maxChats": 2**31,
                    "userTypeId": 3,
                    "isEnabled": "true",
                }
            ]
        }
    )
    assert [field for field, _ in found] == [
        "users[0].skillIds",
        "users[0].memberOf",
        "users[0].managerOf",
        "users[0].maxChats",
        "users[0].userTypeId",
        "users[0].isEnabled",
    ]
    assert dict(found)["users[0].memberOf"] == 'an object {"agentGroupId": <a 64-bit integer>}'
    assert problems({"users": [{"id": 1}]}) == [
        ("users[0].loginName", "a string of 1 to 255 characters")
    ]


def test_problems_are_capped() -> None:
    found = problems({"skills": [{"id": n} for n in range(MAX_PROBLEMS + 50)]})
    assert len(found) == MAX_PROBLEMS


_names = st.text(min_size=1, max_size=20)
_ids = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    skills=st.dictionaries(_ids, st.fixed_dictionaries({"name": _names}), max_size=5),
    users=st.dictionaries(
        _ids,
        st.fixed_dictionaries(
            {"loginName": _names},
            optional={
                "fullName": _names,
                "skillIds": st.lists(_ids, max_size=5),
                "memberOf": st.fixed_dictionaries({"agentGroupId": _ids}),
                "maxChats": st.integers(0, 2**31 - 1),
                "isEnabled": st.booleans(),
            },
        ),
        max_size=5,
    ),
)
def test_valid_entities_are_taken_as_given(
    skills: dict[int, dict[str, Any]], users: dict[int, dict[str, Any]]
) -> None:
    doc = parse(
        {
            "skills": [{"id": i, **body} for i, body in skills.items()],
            "users": [{"id": i, **body} for i, body in users.items()],
        }
    )
    assert {item.id: item.body for item in doc.items["skills"]} == skills
    taken = {item.id: item.body for item in doc.items["users"]}
    for user_id, body in users.items():
        expected = dict(body)
        if "skillIds" in body:
            expected["skillIds"] = sorted(set(body["skillIds"]))
        assert taken[user_id] == expected


def test_kinds_declare_their_reference_defaults() -> None:
    assert [(k.key, k.defaults) for k in KINDS] == [
        ("skills", ("id", "deleted", "name")),
        ("users", ("id", "pid", "deleted", "loginName")),
        ("agentGroups", ("id", "deleted", "name")),
    ]
