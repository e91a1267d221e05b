"""Current Queue State (QUEUE.md section 3): visitors waiting and slots free, right now.

A skill's current value is its newest ``queueState`` sample, when that sample is less
than five minutes old (samples up to five minutes ahead count too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from engactivity.core.params import ALL, IDS_ALLOWED, ParamReader, Selection
from engactivity.methods.method import ID_LIST, NUMBER_OR_STRING, Fragments, Method, query_parameter
from engactivity.methods.queues import QUEUE_SAMPLES
from engactivity.store.memory import AccountState, LatestRows

CURRENT_MS = 300_000
"""A sample is current while younger than this."""
NONE = -1
"""No current value (as everywhere in these methods, -1 means "no data")."""

Current = dict[int, tuple[int, int]]
"""skill -> (available slots, queue size) of its current sample."""


@dataclass(frozen=True, slots=True)
class QueueStateQuery:
    skills: Selection


def parse(params: Mapping[str, object]) -> QueueStateQuery:
    read = ParamReader(params)
    read.version()
    skills = read.ids("skillIds")
    read.finish()
    return QueueStateQuery(skills)


@dataclass(frozen=True, slots=True)
class CurrentValues:
    values: Current
    until_ms: int | None
    """When the first of them stops being current (None: there is none)."""
    total: tuple[int, int]
    """Their sums ((-1, -1) when there is none)."""

    def __len__(self) -> int:
        """What they cost the fragment cache (bytes, roughly: a dict slot and a pair)."""
        return 120 * len(self.values)


def current_values(samples: LatestRows, now_ms: int) -> CurrentValues:
    """Every skill's current value at ``now_ms``, and how long they all hold."""
    oldest = now_ms - CURRENT_MS
    current = {key: sample for key, sample in samples.samples.items() if sample[0] > oldest}
    until = min((s[0] + CURRENT_MS for s in current.values()), default=None)
    values = {k[0]: (s[3], s[2]) for k, s in current.items()}
    total = (sum(v[0] for v in values.values()), sum(v[1] for v in values.values()))
    return CurrentValues(values, until, total if values else (NONE, NONE))


def listed(skills: Selection, current: Current) -> dict[int, tuple[int, int]]:
    """The skills an answer lists, with their values (-1 for none), in id order."""
    if skills is None or skills == ALL:
        return dict(sorted(current.items()))
    return {skill: current.get(skill, (NONE, NONE)) for skill in sorted(skills)}


def summed(values: list[tuple[int, int]]) -> tuple[int, int]:
    """Sums over the values that are not -1; -1 when none is."""
    known = [value for value in values if value != (NONE, NONE)]
    if not known:
        return NONE, NONE
    return sum(v[0] for v in known), sum(v[1] for v in known)


def read(
    query: QueueStateQuery, now_ms: int, state: AccountState, fragments: Fragments
) -> CurrentValues:
    return current_values(state.latest(QUEUE_SAMPLES), now_ms)


def render(
    query: QueueStateQuery, now_ms: int, current: CurrentValues, fragments: Fragments
) -> bytes:
    skills = listed(query.skills, current.values)
    slots, size = summed(list(skills.values()))
    body: dict[str, Any] = {
        "skills": {
            str(skill): {"currentAvailableSlots": s, "currentQueueSize": q}
            for skill, (s, q) in skills.items()
        },
        "totals": {"currentAvailableSlots": slots, "currentQueueSize": size},
    }
    return orjson.dumps(body)


_PAIR = {
    "type": "object",
    "properties": {
        "currentAvailableSlots": {"type": "integer"},
        "currentQueueSize": {"type": "integer"},
    },
}

QUEUESTATE: Method[QueueStateQuery, int, CurrentValues] = Method(
    name="queuestate",
    summary="Current queue size and available slots per skill and in total",
    parse=parse,
    # The answer moves with the clock, not only with the data: samples stop being
    # current. An answer is kept until the first of its samples does.
    plan=lambda query, now_ms: now_ms,
    key=lambda query, now_ms: None,
    valid_until=lambda query, now_ms, current: current.until_ms,
    tables=(QUEUE_SAMPLES,),
    read=read,
    render=render,
    light=lambda query: True,
    parameters=[
        query_parameter("v", "Required: API version, 1."),
        query_parameter("skillIds", f"Optional: {IDS_ALLOWED}."),
    ],
    body={"type": "object", "properties": {"v": NUMBER_OR_STRING, "skillIds": ID_LIST}},
    response={
        "type": "object",
        "properties": {
            "skills": {"type": "object", "additionalProperties": _PAIR},
            "totals": _PAIR,
        },
    },
)
