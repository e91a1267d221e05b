"""Every method reads only the tables it declares (``Method.tables``).

Answers are cached by the version of those tables alone (api/answers.py): a method that
read another table would be served stale after a write to it. Here each method answers
from a state that holds only its declared tables, and must give the answer it gives
from the whole state.
"""

from __future__ import annotations

from typing import Any

import pytest

from engactivity.methods import METHODS
from engactivity.methods.method import AnyMethod
from engactivity.store.memory import AccountState
from tests.conftest import MIN, NOW_MS
from tests.methods.test_queue_methods import TABLES, answer, load


def every_type() -> list[dict[str, Any]]:
    """Events of every type, on two skills and two agents, over the last two hours."""
    events: list[dict[str, Any]] = []
    for n in range(24):
        time = NOW_MS - 5 * n * MIN - 7
        skill, agent = 1 + n % 2, 10 + n % 2
        common = {"time": time}  # each event names its own id
        events += [
            {**common, "eventId": f"q{n}", "type": "queued", "skillId": skill},
            {**common, "eventId": f"c{n}", "type": "connected", "skillId": skill,
             "agentId": agent, "waitTime": 3 * n, "agentGroupId": 7},
            {**common, "eventId": f"x{n}", "type": "closed", "skillId": skill,
             "agentId": agent, "interactive": n % 3 > 0},
            {**common, "eventId": f"a{n}", "type": "abandoned", "skillId": skill,
             "waitTime": 40 + n},
            {**common, "eventId": f"s{n}", "type": "queueState", "skillId": skill,
             "queueSize": n, "availableSlots": n % 4},
            {**common, "eventId": f"g{n}", "type": "agentState", "agentId": agent,
             "state": ("online", "away", "backSoon")[n % 3]},
        ]  # fmt: skip
    return events


PARAMS: dict[str, list[dict[str, object]]] = {
    "engactivity": [{"timeframe": 120, "interval": 30, "skillIds": "all", "agentIds": "all"}],
    "queuehealth": [{"timeframe": 120, "interval": 30, "skillIds": "all"}],
    "queuestate": [{"skillIds": "all"}],
    "sla": [{"timeframe": 120, "skillIds": "all"}],
    "agentactivity": [{"timeframe": 120, "interval": 30, "agentIds": "all"}],
}


def only(state: AccountState, method: AnyMethod) -> AccountState:
    """``state`` with only the tables ``method`` declares: reading another is a KeyError."""
    restricted = AccountState(method.tables)
    restricted.tables = {table.name: state.tables[table.name] for table in method.tables}
    return restricted


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_a_method_answers_from_its_declared_tables_alone(method: AnyMethod) -> None:
    assert len(METHODS) == len(PARAMS)  # a new method gets its questions here
    state = load(every_type(), AccountState(TABLES))
    for params in PARAMS[method.name]:
        whole = answer(method, state, params, NOW_MS)
        assert whole == answer(method, only(state, method), params, NOW_MS)
        assert whole != answer(method, AccountState(TABLES), params, NOW_MS)  # it reads data
