"""The simulated account's configuration agrees with its events: every skill, agent and
group id they carry is configured, with the skills, chat limit and group the agent has in
the traffic; names are realistic, distinct where they must be, and the same for a seed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from engactivity.accountconfig.document import parse_document
from engactivity.simulate import DEMO_CONFIG, HOUR_MS, SimConfig, generate_events
from engactivity.simulate.names import SKILL_NAMES, account_configuration, skill_name
from tests.conftest import NOW_MS

CONFIGS = [
    DEMO_CONFIG,
    SimConfig(account="big", agents=300, skills=30, rate=40.0, seed=7),
    SimConfig(account="tiny", agents=3, skills=1, rate=2.0, seed=3),
]


def by_id(items: Any) -> dict[int, dict[str, Any]]:
    return {item["id"]: item for item in items}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.account)
def test_every_id_of_the_events_is_configured_as_the_traffic_has_it(config: SimConfig) -> None:
    document = account_configuration(config)
    skills = by_id(document["skills"])
    users = by_id(document["users"])
    groups = by_id(document["agentGroups"])
    seen_skills: set[int] = set()
    seen_agents: set[int] = set()
    for event in generate_events(config, NOW_MS - 6 * HOUR_MS, NOW_MS):
        skill, agent = event.get("skillId"), event.get("agentId")
        if isinstance(skill, int) and skill != -1:  # -1: the visitors nobody can take
            assert skill in skills
            seen_skills.add(skill)
        if isinstance(agent, int):
            user = users[agent]
            seen_agents.add(agent)
            if event["type"] == "connected":
                assert skill in user["skillIds"]
                assert event["agentGroupId"] == user["memberOf"]["agentGroupId"]
                assert event["agentGroupId"] in groups
            if event["type"] == "agentState":
                assert event["maxChats"] == user["maxChats"]
    assert seen_skills and seen_agents
    assert set(skills) == set(range(1, config.skills + 1))
    assert len(users) == config.agents


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.account)
def test_the_configuration_is_a_valid_document_with_distinct_names(config: SimConfig) -> None:
    document = account_configuration(config)
    parsed = parse_document(orjson.dumps(document))
    groups = document["agentGroups"]
    assert isinstance(groups, list)
    assert parsed.count() == config.skills + config.agents + len(groups)
    users = document["users"]
    assert isinstance(users, list)
    for field in ("loginName", "fullName", "pid"):
        assert len({u[field].casefold() for u in users}) == len(users), field
    for user in users:
        first, _, last = user["fullName"].partition(" ")
        assert user["nickname"] == first and last
        assert user["loginName"].isascii() and user["email"].endswith("@example.com")
    for kind in ("skills", "agentGroups"):
        entities = document[kind]
        assert isinstance(entities, list)
        assert len({e["name"].casefold() for e in entities}) == len(entities)
    assert account_configuration(config) == document  # the same for the same seed


def test_names_differ_between_seeds_and_skills_follow_the_list() -> None:
    one = account_configuration(SimConfig(seed=1))["users"]
    two = account_configuration(SimConfig(seed=2))["users"]
    assert isinstance(one, list) and isinstance(two, list)
    assert [u["fullName"] for u in one] != [u["fullName"] for u in two]
    assert skill_name(1) == "Sales"
    assert skill_name(len(SKILL_NAMES) + 1) == "Sales 2"


def test_a_large_account_still_has_distinct_agents() -> None:
    config = SimConfig(account="huge", agents=2500, skills=3, rate=1.0)
    users = account_configuration(config)["users"]
    assert isinstance(users, list)
    assert len({u["loginName"] for u in users}) == len({u["fullName"] for u in users}) == 2500
