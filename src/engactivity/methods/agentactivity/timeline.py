"""What ``agentState`` events fold into (AGENTS.md sections 2 and 6): each agent's
timeline, every event kept, so that late events take their place exactly."""

from __future__ import annotations

from collections.abc import Sequence

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
)
