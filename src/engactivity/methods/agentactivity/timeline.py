"""What ``agentState`` events fold into (AGENTS.md sections 2 and 6): each agent's
timeline, every event kept, so that late events take their place exactly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engactivity.core.events import AgentState, Event
from engactivity.store.tables import Column, Deltas, TimelineTable, event_key

LOGGED_OUT, ONLINE, BACK_SOON, AWAY = 0, 2, 3, 4
"""State codes as stored: the method's entry ids, and 0 for logged out."""
CODES = {"loggedOut": LOGGED_OUT, "online": ONLINE, "backSoon": BACK_SOON, "away": AWAY}
NO_REASON = ""
"""The stored reason of a state without one (a reason id has at least one character)."""
UNLIMITED = 0
"""The stored chat limit of an agent without one (a limit is at least 1)."""

# Value indexes of AGENT_STATES, in declared order.
STATE, REASON, ACTIVE, LIMIT = range(4)


def fold(events: Sequence[Event], into: Deltas) -> None:
    """One row per agentState event, under its agent and (time, eventId)."""
    for event in events:
        if isinstance(event, AgentState):
            reason = NO_REASON if event.reason_id is None else str(event.reason_id)
            into[(event.agent_id, event.time, event_key(event.event_id))] = [
                CODES[event.state],
                reason,
                event.active_chats or 0,
                UNLIMITED if event.max_chats is None else event.max_chats,
            ]


MEASURED = (ONLINE, BACK_SOON, AWAY)
"""The measured states, in the order of an answer's entries."""
MEASURES = 3
"""Per state: total, chatting (activeChats > 0), at full capacity (activeChats >= maxChats)."""


def weights(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per step, 1 where its time counts in each (state, measure) column, else 0:
    online, back soon, away; each total, chatting, at full capacity."""
    active, limit = values[:, ACTIVE], values[:, LIMIT]
    at_limit = (limit != UNLIMITED) & (active >= limit)
    # A step's row depends on its state, chatting or not and at its limit or not: one
    # lookup in a table of them (few whole-array operations, however few the steps).
    kind = values[:, STATE] * 4 + (active > 0) * 2 + at_limit
    found: npt.NDArray[np.int64] = _WEIGHTS[kind]
    return found


def _weights_table() -> npt.NDArray[np.int64]:
    """Row ``state * 4 + chatting * 2 + at_limit``: that step's weights."""
    table = np.zeros((4 * (max(CODES.values()) + 1), len(MEASURED) * MEASURES), np.int64)
    for n, state in enumerate(MEASURED):  # logged out: a row of zeros
        for chatting, at_limit in ((0, 0), (0, 1), (1, 0), (1, 1)):
            row = state * 4 + chatting * 2 + at_limit
            table[row, n * MEASURES : (n + 1) * MEASURES] = (1, chatting, at_limit)
    return table


_WEIGHTS = _weights_table()


AGENT_STATES = TimelineTable(
    name="agent_state",
    keys=(Column("agent_id"),),
    values=(
        Column("state", "INTEGER"),
        Column("reason_id", "TEXT"),
        Column("active_chats"),
        Column("max_chats"),
    ),
    fold=fold,
    weights=weights,
)
