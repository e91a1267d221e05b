"""One batch of a producer's events: every type of EVENTS.md, in a realistic mix.

Conversation events (queued, connected, closed, abandoned), queue samples
(queueState) and agent state changes (agentState, with an away reason now and then),
over six skills, forty agents and three agent groups, each dated within the last
50 minutes (the oldest a minute or more old, so the newest queue samples are still
"current": QUEUE.md keeps a sample current for five minutes).
"""

from __future__ import annotations

import random
from typing import Any

Event = dict[str, Any]
KINDS = ["connected"] * 4 + ["closed"] * 5 + ["queued"] * 3 + ["abandoned"] * 2
KINDS += ["queueState"] * 3 + ["agentState"] * 3
STATES = ["online"] * 4 + ["backSoon", "away", "away", "loggedOut"]
REASONS: list[object] = [None, "lunch", 7]
"""An away agent's reason: none, a string, an integer (the same as its decimal string)."""


def _fields(rng: random.Random, kind: str, n: int) -> Event:
    skill, agent = rng.randint(1, 6), rng.randint(1, 40)
    if kind in ("queued", "abandoned"):
        fields: Event = {"skillId": skill}
        if kind == "abandoned":
            fields["waitTime"] = rng.randint(0, 300)
        return fields
    if kind == "connected":
        fields = {"skillId": skill, "agentId": agent, "waitTime": rng.randint(0, 180)}
        if n % 4:  # some without a group: SLA counts them under no group (-1)
            fields["agentGroupId"] = rng.randint(1, 3)
        return fields
    if kind == "closed":
        return {
            "skillId": skill,
            "agentId": agent,
            "interactive": n % 2 == 0,
            "handlingTime": n * 7 % 900,
        }
    if kind == "queueState":
        return {
            "skillId": skill,
            "queueSize": rng.randint(0, 30),
            "availableSlots": rng.randint(0, 20),
        }
    state = rng.choice(STATES)
    fields = {"agentId": agent, "state": state}
    if state == "away" and (reason := rng.choice(REASONS)) is not None:
        fields["reasonId"] = reason
    return fields


def make_batch(rng: random.Random, prefix: str, size: int, now_ms: int) -> list[Event]:
    batch: list[Event] = []
    for n in range(size):
        kind = rng.choice(KINDS)
        event: Event = {
            "eventId": f"{prefix}-{n}",
            "type": kind,
            "time": now_ms - rng.randint(60_000, 50 * 60_000),
        }
        batch.append(event | _fields(rng, kind, n))
    return batch
