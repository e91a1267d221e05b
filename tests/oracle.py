"""An independent reference model of the query side, written from SEMANTICS.md alone.

It deliberately imports nothing from ``engactivity``: given raw events (EVENTS.md
dicts), the server's ``now`` and the query parameters, it computes the exact JSON body
the service must answer. Tests compare the service (or its pure parts) with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MIN_MS = 60_000
B_MS = 5 * MIN_MS
"""One bucket."""

METRIC_KEYS: tuple[str, ...] = (
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
)

Json = dict[str, Any]
Ids = str | AbstractSet[int] | None
"""A parsed filter: None (absent), "all", or a set of ids."""


# -- time --------------------------------------------------------------------------------


def ceil_b(ms: int) -> int:
    """Round up to a multiple of B."""
    q, r = divmod(ms, B_MS)
    return (q + (1 if r else 0)) * B_MS


@dataclass(frozen=True)
class Interval:
    timestamp: int
    """Ek: the interval's end (its timestamp)."""
    start: int
    """max(E(k+1), F*B): the first bucket start it holds."""

    def holds(self, bucket_start: int) -> bool:
        return self.start <= bucket_start < self.timestamp


def first_last(now_ms: int, timeframe: int) -> tuple[int, int]:
    """(F, L): bucket indexes of the span (section 3)."""
    return (now_ms - timeframe * MIN_MS) // B_MS, now_ms // B_MS


def intervals(now_ms: int, timeframe: int, interval: int | None) -> list[Interval]:
    """Intervals newest first (section 4); one interval over the whole span without ``interval``."""
    first, last = first_last(now_ms, timeframe)
    e0 = (last + 1) * B_MS
    lower = first * B_MS
    if interval is None:
        return [Interval(e0, lower)]
    ends: list[int] = []
    k = 0
    while True:
        ek = ceil_b(e0 - k * interval * MIN_MS)
        if ek <= lower:
            break
        ends.append(ek)
        k += 1
    out: list[Interval] = []
    for i, ek in enumerate(ends):
        following = ceil_b(e0 - (i + 1) * interval * MIN_MS)
        out.append(Interval(ek, max(following, lower)))
    return out


# -- events ------------------------------------------------------------------------------


def event_time(event: Mapping[str, Any]) -> int:
    value = event["time"]
    if isinstance(value, int):
        return value
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    seconds = int(moment.timestamp())
    return seconds * 1000 + moment.microsecond // 1000


def event_skill(event: Mapping[str, Any]) -> int:
    skill = event.get("skillId")
    return -1 if skill is None else int(skill)


def event_agent(event: Mapping[str, Any]) -> int | None:
    agent = event.get("agentId")
    return None if agent is None else int(agent)


def event_metrics(event: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    if event["type"] == "connected":
        return (0, 0, 0, 0, 1)
    handling = int(event.get("handlingTime") or 0)
    if event["interactive"]:
        return (1, 0, handling, 0, 0)
    return (0, 1, 0, handling, 0)


def dedupe(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A repeated eventId is a duplicate delivery: only the first one counts."""
    seen: set[str] = set()
    out: list[Mapping[str, Any]] = []
    for event in events:
        if event["eventId"] not in seen:
            seen.add(event["eventId"])
            out.append(event)
    return out


# -- parameters (only well-formed values; validation is tested elsewhere) -------------------


def parse_ids(value: object) -> Ids:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return {value}
    if isinstance(value, list):
        return {int(v) for v in value} if value else None
    text = str(value).strip()
    if not text:
        return None
    if text.lower() == "all":
        return "all"
    return {int(part.strip()) for part in text.split(",")}


def parse_int(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return int(str(value))


# -- the answer --------------------------------------------------------------------------


def metrics(events: Iterable[Mapping[str, Any]]) -> Json:
    sums = [0, 0, 0, 0, 0]
    for event in events:
        for i, value in enumerate(event_metrics(event)):
            sums[i] += value
    return dict(zip(METRIC_KEYS, sums, strict=True))


def zero_metrics() -> Json:
    return dict.fromkeys(METRIC_KEYS, 0)


def matches(event: Mapping[str, Any], skills: Ids, agents: Ids) -> bool:
    if skills is not None and skills != "all" and event_skill(event) not in skills:
        return False
    if agents is not None:
        agent = event_agent(event)
        if agent is None:
            return False
        if agents != "all" and agent not in agents:
            return False
    return True


def _per_agent(events: Sequence[Mapping[str, Any]]) -> Json:
    agents = sorted({a for e in events if (a := event_agent(e)) is not None})
    return {str(a): metrics(e for e in events if event_agent(e) == a) for a in agents}


def section(selected: Sequence[Mapping[str, Any]], skills: Ids, agents: Ids) -> Json:
    """The body (without intervals) over already selected events."""
    if skills is None and agents is None:
        return {"metricsTotals": metrics(selected)}
    body: Json = {}
    if skills is not None:
        per_skill: Json = {}
        for skill in sorted({event_skill(e) for e in selected}):
            of_skill = [e for e in selected if event_skill(e) == skill]
            per_skill[str(skill)] = {
                "metricsPerAgent": _per_agent(of_skill),
                "metricsTotals": metrics(of_skill),
            }
        body["skillsMetricsPerAgent"] = {
            "metricsPerSkill": per_skill,
            "metricsTotals": metrics(selected),
        }
    if agents is not None:
        body["agentsMetrics"] = {
            "metricsPerAgent": _per_agent(selected),
            "metricsTotals": metrics(selected),
        }
    return body


def expected_body(
    events: Iterable[Mapping[str, Any]], now_ms: int, params: Mapping[str, object]
) -> Json:
    """The exact body for a valid request with ``params`` arriving at ``now_ms``."""
    timeframe = parse_int(params["timeframe"])
    assert timeframe is not None
    interval = parse_int(params.get("interval"))
    skills = parse_ids(params.get("skillIds"))
    agents = parse_ids(params.get("agentIds"))
    first, last = first_last(now_ms, timeframe)
    in_span = [
        e
        for e in dedupe(events)
        if first <= event_time(e) // B_MS <= last and matches(e, skills, agents)
    ]
    whole = section(in_span, skills, agents)
    if interval is None:
        return whole
    by_interval = []
    for iv in intervals(now_ms, timeframe, interval):
        inside = [e for e in in_span if iv.holds(event_time(e) // B_MS * B_MS)]
        by_interval.append(
            {"timestamp": iv.timestamp, "metricsData": section(inside, skills, agents)}
        )
    return {"metricsByIntervals": by_interval, **whole}


# -- comparing bodies --------------------------------------------------------------------


def _is_id_map(obj: Mapping[str, Any]) -> bool:
    def is_id(key: str) -> bool:
        return key.lstrip("-").isdigit()

    return bool(obj) and all(is_id(k) for k in obj)


def canonical(obj: Any) -> Any:
    """A comparable form: key order kept, except id maps (sorted; their order is free)."""
    if isinstance(obj, dict):
        items = list(obj.items())
        if _is_id_map(obj):
            items.sort(key=lambda kv: int(kv[0]))
        return ("{", [(k, canonical(v)) for k, v in items])
    if isinstance(obj, list):
        return ("[", [canonical(v) for v in obj])
    return (type(obj).__name__, obj)


def assert_same_body(actual: Any, expected: Any, context: object = "") -> None:
    """Equal values and the same key order (id maps may list ids in any order)."""
    assert actual == expected, f"{context}\nactual:   {actual}\nexpected: {expected}"
    assert canonical(actual) == canonical(expected), f"{context}: key order differs\n{actual}"
