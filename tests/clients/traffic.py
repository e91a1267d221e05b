"""A small contact centre's events, of every type, and what they add up to."""

from __future__ import annotations

from tests.conftest import MIN, NOW_MS

T = NOW_MS - 10 * MIN
NOW = NOW_MS - 5_000
"""The queue samples: fresh enough to be the current queue state."""


def contact_centre(prefix: str) -> list[dict[str, object]]:
    """Skill 2: three visitors queued, two answered (agents 7 and 8), one gave up
    (waits 20, 40 and 50 s); skill 5: one answered by agent 7 at once. Agent 7 online,
    agent 8 away (reason 5), both for the last 20 minutes. A queue sample of each skill
    just now. Some fields are null, which is the same as absent."""

    def event(name: str, kind: str, **fields: object) -> dict[str, object]:
        return {"eventId": f"{prefix}-{name}", "type": kind, "time": T, **fields}

    return [
        event("q1", "queued", skillId=2),
        event("q2", "queued", skillId=2, agentId=None),
        event("q3", "queued", skillId=2),
        event("c1", "connected", skillId=2, agentId=7, waitTime=20, agentGroupId=None),
        event("c2", "connected", skillId=2, agentId=8, waitTime=40),
        event("c3", "connected", skillId=5, agentId=7, waitTime=0),
        event("x1", "closed", skillId=2, agentId=7, interactive=True, handlingTime=300),
        event("x2", "closed", skillId=2, agentId=8, interactive=False, handlingTime=None),
        event("x3", "closed", skillId=5, agentId=7, interactive=True, handlingTime=100),
        event("a1", "abandoned", skillId=2, waitTime=50),
        {**event("s2", "queueState", skillId=2, queueSize=4, availableSlots=1), "time": NOW},
        {**event("s5", "queueState", skillId=5, queueSize=0, availableSlots=3), "time": NOW},
        {
            **event("g7", "agentState", agentId=7, state="online", activeChats=1, maxChats=3),
            "time": T - 10 * MIN,
        },
        {
            **event("g8", "agentState", agentId=8, state="away", reasonId=5, maxChats=None),
            "time": T - 10 * MIN,
        },
    ]


INTERACTIVE = 2
NON_INTERACTIVE = 1
HANDLING_S = 400
