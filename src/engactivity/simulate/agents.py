"""What agents do besides chatting: their breaks, and their ``agentState`` events.

Every half hour, each agent on duty may plan a break in it (``BREAK_CHANCE``): when,
what for (``BREAKS``: ``backSoon``, or ``away`` with a reason) and how long, drawn from
a generator seeded by ``(seed, half hour)`` for every agent, on duty or not, so the
draws do not depend on where a simulation started. The model (``model.py``) decides
whether the break happens.

An ``agentState`` is made whenever an agent's state or number of chats changes, at most
one per agent and instant (its id is ``g-<seed>-<agentId>-<time>``); whether it is
delivered twice, and how much later, is a hash of the same three numbers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engactivity.simulate.config import (
    BREAK_CHANCE,
    BREAKS,
    DUPLICATE_LAG_MS,
    MINUTE_MS,
    SimConfig,
)

Event = dict[str, object]
Shown = tuple[str, str | None, int]
"""An agent's state as its ``agentState`` tells it: state, reasonId, activeChats."""
LOGGED_OUT: Shown = ("loggedOut", None, 0)
Planned = tuple[int, int, int]
"""A break: its start (ms), its kind (an index of ``BREAKS``), its length (ms)."""

_MASK = 2**64 - 1
_CUM_WEIGHTS = np.cumsum([weight for _, weight, _, _ in BREAKS]) / sum(b[1] for b in BREAKS)


def draw_breaks(
    uniform: npt.NDArray[np.float64], agents: int, block_ms: int
) -> list[Planned | None]:
    """Per agent: the break it plans in the half hour from ``block_ms`` on, if any, from
    ``4 * agents`` uniform numbers in [0, 1)."""
    chance, start, kind, length = uniform.reshape(4, agents)
    kinds = np.minimum(np.searchsorted(_CUM_WEIGHTS, kind, side="right"), len(BREAKS) - 1)
    planned: list[Planned | None] = [None] * agents
    for i in np.flatnonzero(chance < BREAK_CHANCE).tolist():
        _, _, shortest, longest = BREAKS[int(kinds[i])]
        span = (longest - shortest) * MINUTE_MS
        at = block_ms + int(start[i] * 30 * MINUTE_MS)
        planned[i] = (at, int(kinds[i]), shortest * MINUTE_MS + int(length[i] * span))
    return planned


def _mix(value: int) -> int:
    """splitmix64's finaliser: a well spread 64-bit hash of ``value``."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def redelivery_lag(config: SimConfig, agent_id: int, time_ms: int) -> int:
    """How much later the ``agentState`` of ``agent_id`` at ``time_ms`` is delivered a
    second time, or -1 (once only)."""
    if config.duplicate_share == 0:
        return -1
    hashed = _mix(_mix(_mix(config.seed & _MASK) ^ agent_id) ^ (time_ms & _MASK))
    if (hashed >> 11) * 2.0**-53 >= config.duplicate_share:
        return -1
    low, high = DUPLICATE_LAG_MS
    return low + _mix(hashed) % (high - low + 1)


def agent_state(seed: int, agent_id: int, time_ms: int, shown: Shown, max_chats: int) -> Event:
    state, reason, active = shown
    event: Event = {
        "eventId": f"g-{seed}-{agent_id}-{time_ms}",
        "type": "agentState",
        "time": time_ms,
        "agentId": agent_id,
        "state": state,
        "activeChats": active,
        "maxChats": max_chats,
    }
    if reason is not None:
        event["reasonId"] = reason
    return event
