"""The questions the checks ask after each scenario: every method, a few shapes each.

Each question names its method, its parameters (the GET form), optionally the same
question as a POST body, and the oracle of the tests that answers it (tests/oracle*.py,
written from the spec alone) with that oracle's comparison, which raises
AssertionError on any difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tests import oracle, oracle_agents, oracle_queue

from bench.multihost.traffic import Event

Json = dict[str, Any]
Oracle = Callable[[Sequence[Event], int, dict[str, Any]], Json]
CONVERSATION = ("connected", "closed")
"""The events engactivity counts (SEMANTICS.md); its oracle is given only those."""


def _engactivity(events: Sequence[Event], now_ms: int, params: dict[str, Any]) -> Json:
    return oracle.expected_body([e for e in events if e["type"] in CONVERSATION], now_ms, params)


def _same_engactivity(actual: Any, expected: Any) -> None:
    assert oracle.canonical(actual) == oracle.canonical(expected), "differs from the oracle"


@dataclass(frozen=True)
class Question:
    method: str
    params: dict[str, Any]
    expected: Oracle
    same: Callable[[Any, Any], None]
    post: dict[str, Any] | None = None
    """The same question as a POST body (the GET is asked too)."""


def _engactivity_q(params: dict[str, Any]) -> Question:
    return Question("engactivity", params, _engactivity, _same_engactivity)


def _queue_q(method: str, params: dict[str, Any], post: dict[str, Any] | None = None) -> Question:
    expected: Oracle = getattr(oracle_queue, method)
    return Question(method, params, expected, oracle_queue.same, post)


def _agents_q(params: dict[str, Any], post: dict[str, Any] | None = None) -> Question:
    return Question("agentactivity", params, oracle_agents.agentactivity, oracle_agents.same, post)


QUESTIONS: list[Question] = [
    _engactivity_q({"timeframe": 1440}),
    _engactivity_q({"timeframe": 1440, "skillIds": "all", "agentIds": "all"}),
    _engactivity_q({"timeframe": 60, "interval": 15, "skillIds": "1,3", "agentIds": "2,5,40"}),
    _queue_q("queuehealth", {"timeframe": 1440}),
    _queue_q(
        "queuehealth",
        {"timeframe": 60, "skillIds": "1,2"},
        post={"timeframe": "60", "skillIds": [1, 2]},
    ),
    _queue_q("queuehealth", {"timeframe": 120, "interval": 30, "skillIds": "all"}),
    _queue_q("queuestate", {}),
    _queue_q("queuestate", {"skillIds": "all"}, post={"skillIds": "all"}),
    _queue_q("queuestate", {"skillIds": "2,5,9"}),
    _queue_q("sla", {"timeframe": 1440}),
    _queue_q("sla", {"timeframe": 60, "skillIds": "1,2", "groupIds": "all"}),
    _queue_q("sla", {"timeframe": 1440, "groupIds": "1,3", "histogram": "10,30,90"}),
    _agents_q({"timeframe": 1440, "agentIds": "all"}),
    _agents_q(
        {"timeframe": 60, "agentIds": "1,2,3,17", "interval": 15},
        post={"timeframe": 60, "agentIds": [1, 2, 3, 17], "interval": 15},
    ),
    _agents_q({"timeframe": 30, "agentIds": "all", "interval": 10}),
]
