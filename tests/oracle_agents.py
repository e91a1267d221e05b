"""An independent reference model of Agent Activity, written from AGENTS.md alone.

Like tests/oracle.py it imports nothing from ``engactivity``: given raw events
(EVENTS.md dicts, in the order they were delivered), the server's ``now`` and the
query parameters, it computes the exact body the service must answer, the slow and
obvious way: per agent, its ``agentState`` events sorted by ``(time, eventId)`` make a
step function, walked millisecond-exactly over each range with integer arithmetic.

Retention: an event older than the retention when it arrives is acknowledged as
expired and never stored (:func:`stored` drops it). A purge later keeps each agent's
state in force at the cutoff, and no window reaches back past the cutoff (1440 min
< the retention), so the oracle simply integrates every stored event: purges change
nothing it computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MIN_MS = 60_000
B_MS = 5 * MIN_MS
RETENTION_MS = (24 * 60 + 10) * MIN_MS
"""The default (and least) retention: 24 h 10 min."""

STATES = (("online", 2, "Online"), ("backSoon", 3, "Back in 5"), ("away", 4, "Away"))

Json = dict[str, Any]
Event = Mapping[str, Any]


# -- events ---------------------------------------------------------------------------------


def event_time(event: Event) -> int:
    value = event["time"]
    if isinstance(value, int):
        return value
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    assert moment.tzinfo is not None
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def stored(deliveries: Iterable[tuple[int, Sequence[Event]]]) -> list[Event]:
    """What a store keeps of batches delivered at given server times: the first delivery of
    each eventId, unless it was older than the retention when it arrived (expired: not
    stored, so not even its id, and a later delivery of the same id is judged anew)."""
    kept: dict[str, Event] = {}
    for now_ms, batch in deliveries:
        for event in batch:
            if event_time(event) < now_ms - RETENTION_MS:
                continue
            kept.setdefault(str(event["eventId"]), event)
    return list(kept.values())


def timelines(events: Iterable[Event]) -> dict[int, list[Event]]:
    """agent -> its agentState events (first delivery of each id) in timeline order."""
    seen: set[str] = set()
    out: dict[int, list[Event]] = {}
    for event in events:
        if str(event["eventId"]) in seen:
            continue
        seen.add(str(event["eventId"]))
        if event["type"] == "agentState":
            out.setdefault(int(event["agentId"]), []).append(event)
    for agent_events in out.values():
        # Python compares str by Unicode code point, as AGENTS.md section 2 asks.
        agent_events.sort(key=lambda e: (event_time(e), str(e["eventId"])))
    return out


# -- measuring one agent over one range --------------------------------------------------------


@dataclass
class Millis:
    """Milliseconds of one state (or one away reason) in a range."""

    total: int = 0
    chatting: int = 0
    max_concurrency: int = 0

    def add(self, ms: int, event: Event) -> None:
        active = int(event.get("activeChats") or 0)
        limit = event.get("maxChats")
        self.total += ms
        if active > 0:
            self.chatting += ms
        if limit is not None and active >= int(limit):
            self.max_concurrency += ms

    def value(self) -> Json:
        total, chatting = self.total // 1000, self.chatting // 1000
        return {
            "total": total,
            "chatting": chatting,
            "notChatting": total - chatting,
            "chattingInMaxConcurrency": self.max_concurrency // 1000,
        }


@dataclass
class AgentRange:
    states: dict[str, Millis] = field(default_factory=lambda: {s: Millis() for s, *_ in STATES})
    reasons: dict[str, Millis] = field(default_factory=dict)

    def logged_in_ms(self) -> int:
        return sum(m.total for m in self.states.values())


def reason_of(event: Event) -> str | None:
    reason = event.get("reasonId")
    return None if reason is None else str(reason)


def measure(events: Sequence[Event], start: int, end: int) -> AgentRange:
    """One agent's time in ``[start, end)``; ``events`` in timeline order. Before the first
    event the agent is loggedOut (counts nowhere); after the last its state holds."""
    out = AgentRange()
    for i, event in enumerate(events):
        seg_start = event_time(event)
        seg_end = event_time(events[i + 1]) if i + 1 < len(events) else end
        ms = min(seg_end, end) - max(seg_start, start)
        state = event["state"]
        if ms <= 0 or state == "loggedOut":
            continue
        out.states[state].add(ms, event)
        reason = reason_of(event)
        if state == "away" and reason is not None:
            out.reasons.setdefault(reason, Millis()).add(ms, event)
    return out


def agent_entry(measured: AgentRange) -> list[Json]:
    entries: list[Json] = []
    for state, state_id, name in STATES:
        value = measured.states[state].value()
        if state == "away":
            reasons = [
                {"id": r, "value": measured.reasons[r].value()} for r in sorted(measured.reasons)
            ]
            entries.append({"reasons": reasons, "id": state_id, "name": name, "value": value})
        else:
            entries.append({"id": state_id, "name": name, "value": value})
    logged_in = {key: sum(entry["value"][key] for entry in entries) for key in entries[0]["value"]}
    entries.append({"id": -1, "name": "Logged in", "value": logged_in})
    return entries


def agents_metrics(
    lines: Mapping[int, Sequence[Event]], agents: str | frozenset[int], start: int, end: int
) -> Json:
    per_agent: Json = {}
    for agent in sorted(lines):
        if agents != "all" and agent not in agents:
            continue
        measured = measure(lines[agent], start, end)
        if measured.logged_in_ms() > 0:
            per_agent[str(agent)] = agent_entry(measured)
    return {"metricsPerAgent": per_agent, "metricsTotals": []}


# -- parameters (well-formed values only; validation is tested against the server) ---------


def parse_agents(value: object) -> str | frozenset[int]:
    if isinstance(value, list):
        return frozenset(int(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return frozenset({value})
    text = str(value).strip()
    if text.lower() == "all":
        return "all"
    return frozenset(int(part.strip()) for part in text.split(","))


def optional_int(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return int(str(value).strip())


# -- the window and its intervals ----------------------------------------------------------


def ceil_b(ms: int) -> int:
    return -(-ms // B_MS) * B_MS


def interval_ranges(now_ms: int, timeframe: int, interval: int) -> list[tuple[int, int, int]]:
    """(timestamp Ek, start, end) of each interval, newest first (AGENTS.md section 4)."""
    window_start = now_ms - timeframe * MIN_MS
    e0 = (now_ms // B_MS + 1) * B_MS

    def end_of(k: int) -> int:
        return ceil_b(e0 - k * interval * MIN_MS)

    out = []
    k = 0
    while end_of(k) > window_start:
        out.append((end_of(k), max(end_of(k + 1), window_start), min(end_of(k), now_ms)))
        k += 1
    return out


def agentactivity(events: Iterable[Event], now_ms: int, params: Mapping[str, object]) -> Json:
    """The exact body of a valid request with ``params`` arriving at ``now_ms``, over the
    stored ``events`` (see :func:`stored`)."""
    timeframe = optional_int(params["timeframe"])
    assert timeframe is not None
    interval = optional_int(params.get("interval"))
    agents = parse_agents(params["agentIds"])
    lines = timelines(events)
    whole = agents_metrics(lines, agents, now_ms - timeframe * MIN_MS, now_ms)
    if interval is None:
        return {"agentsMetrics": whole}
    listed = [
        {"timestamp": ek, "metricsData": {"agentsMetrics": agents_metrics(lines, agents, lo, hi)}}
        for ek, lo, hi in interval_ranges(now_ms, timeframe, interval)
    ]
    return {"metricsByIntervals": listed, "agentsMetrics": whole}


# -- comparing ------------------------------------------------------------------------------


def same(actual: Any, expected: Any, where: str = "$") -> None:
    """Equal with the same key order, except that agents (keys of ``metricsPerAgent``) may
    come in any order: AGENTS.md does not order them. Numbers must not be booleans."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        if where.endswith(".metricsPerAgent"):
            assert sorted(actual, key=int) == list(expected), (
                f"{where}: agents {sorted(actual, key=int)} != {list(expected)}"
            )
        else:
            assert list(actual) == list(expected), (
                f"{where}: keys {list(actual)} != {list(expected)}"
            )
        for key in expected:
            same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not an array"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            same(a, e, f"{where}[{i}]")
    else:
        assert not isinstance(actual, bool) and type(actual) is type(expected), (
            f"{where}: {actual!r} != {expected!r}"
        )
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
