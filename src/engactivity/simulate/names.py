"""The configuration of a simulated account: what its skills, agents and teams are called.

Made from the same layout as the traffic (``staff.py``), so every id the events carry
has its entity: skills 1..N (the busiest first, named after common contact-centre
queues), the agents from ``FIRST_AGENT_ID`` with their skills, chat limits and team,
and the teams (agent groups 1..G, named after contact-centre sites). Agents' names are
drawn from the seed, so the same seed always names the same agent the same way. The
answer is a configuration document (accountconfig/document.py) as plain JSON values.
"""

from __future__ import annotations

import random
import uuid

from engactivity.simulate.config import SimConfig
from engactivity.simulate.staff import build_layout

SKILL_NAMES = (
    "Sales",
    "Billing",
    "Technical Support",
    "Orders & Delivery",
    "Returns",
    "Account Help",
    "Mobile Plans",
    "Broadband",
    "Retention",
    "Payments",
    "Premium Support",
    "Onboarding",
    "Fraud & Security",
    "Warranty",
    "Upgrades",
    "Business Accounts",
    "Español",
    "Français",
    "Deutsch",
    "Complaints",
    "Loyalty Club",
    "Insurance",
    "Claims",
    "VIP",
)
SITES = (
    "Lisbon",
    "Manila",
    "Austin",
    "Cape Town",
    "Dublin",
    "Kraków",
    "Toronto",
    "Pune",
    "Bogotá",
    "Glasgow",
    "Tallinn",
    "Porto",
    "Cairo",
    "Denver",
    "Belfast",
    "Halifax",
    "Cork",
    "Leeds",
    "Sydney",
    "Nairobi",
)
FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Amara", "Bruno", "Carmen", "Dario",
    "Emma", "Felix", "Gita", "Hana", "Ivan", "Julia", "Kenji", "Laila", "Marco", "Nina",
    "Oscar", "Paula", "Rahul", "Sofia", "Tomás", "Vera", "Will", "Yara", "Zain", "Aisha",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Reyes", "Okafor", "Nowak", "Murphy", "Tanaka", "Haddad", "Fischer", "Costa",
    "Santos", "Kumar", "Jensen", "Moreau", "Ahmed", "Novak", "Rossi", "Kowalski", "Byrne",
    "Mensah", "Lindqvist", "Ortiz", "Petrov", "Nguyen", "Schmidt", "Garcia", "Walsh",
    "Sato", "Ibrahim", "Dubois", "Martins", "Kaur", "Hughes", "Yilmaz", "Ferreira",
    "Bianchi", "Larsen", "Mwangi", "Castillo", "Popescu", "Khan",
)  # fmt: skip
_ASCII = str.maketrans("éáíóúñçÁÉ", "eaiouncAE")


def skill_name(skill: int) -> str:
    """Skill ``skill`` (1..): the list's names, then again with a number."""
    base = SKILL_NAMES[(skill - 1) % len(SKILL_NAMES)]
    round_ = (skill - 1) // len(SKILL_NAMES)
    return base if round_ == 0 else f"{base} {round_ + 1}"


def site_name(group: int) -> str:
    base = SITES[(group - 1) % len(SITES)]
    round_ = (group - 1) // len(SITES)
    return base if round_ == 0 else f"{base} {round_ + 1}"


def agent_names(config: SimConfig, agents: list[int]) -> dict[int, tuple[str, str]]:
    """Each agent's (first name, last name), different for every agent of the account."""
    rng = random.Random(f"engactivity-sim:{config.seed}:names")
    pairs = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(pairs)
    names: dict[int, tuple[str, str]] = {}
    for n, agent in enumerate(agents):
        first, last = pairs[n % len(pairs)]
        round_ = n // len(pairs)
        names[agent] = (first, last if round_ == 0 else f"{last} {round_ + 1}")
    return names


def account_configuration(config: SimConfig) -> dict[str, object]:
    """The account's configuration document: every skill, agent and team of its events."""
    layout = build_layout(config)
    agents = sorted(layout.skills_by_agent)
    names = agent_names(config, agents)
    rng = random.Random(f"engactivity-sim:{config.seed}:pids")
    users = []
    for agent in agents:
        first, last = names[agent]
        login = f"{first}.{last}".lower().replace(" ", "").translate(_ASCII)
        users.append(
            {
                "id": agent,
                "pid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "loginName": login,
                "fullName": f"{first} {last}",
                "nickname": first,
                "email": f"{login}@example.com",
                "isEnabled": True,
                "userTypeId": 1,
                "maxChats": layout.max_chats[agent],
                "skillIds": layout.skills_by_agent[agent],
                "memberOf": {"agentGroupId": layout.group_of[agent]},
            }
        )
    return {
        "skills": [{"id": s, "name": skill_name(s)} for s in layout.skill_ids],
        "agentGroups": [
            {"id": g, "name": site_name(g)} for g in sorted(set(layout.group_of.values()))
        ],
        "users": users,
    }
