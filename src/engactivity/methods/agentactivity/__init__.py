"""Agent Activity (AGENTS.md): how long each agent spent online, back soon and away.

The declaration: the parameters, the timeline ``agentState`` events fold into
(``timeline.py``), how a window and its intervals are measured on it
(``measure.py``), and the shape of the answer (``render.py``).

Unlike the bucket methods it measures time to the millisecond in the exact window
``[now - T, now)``, so an answer is of its moment. What stays is a past interval's
part: it changes only when an event at a time before its end arrives, and is kept
(as text, in the fragments) until one does.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engactivity.core.params import (
    ALL,
    IDS_ALLOWED,
    INTERVAL_ALLOWED,
    TIMEFRAME_ALLOWED,
    ParamReader,
    Selection,
)
from engactivity.methods.agentactivity.measure import (
    Int64s,
    Range,
    measure,
    ranges,
)
from engactivity.methods.agentactivity.render import agents_metrics, body
from engactivity.methods.agentactivity.timeline import AGENT_STATES
from engactivity.methods.method import (
    ID_LIST,
    NUMBER_OR_STRING,
    Fragments,
    Method,
    query_parameter,
)
from engactivity.store.memory import AccountState, Timelines


@dataclass(frozen=True, slots=True)
class AgentActivityQuery:
    timeframe: int
    interval: int | None
    agents: Selection
    """``"all"`` or the listed agents (required)."""


def parse(params: Mapping[str, object]) -> AgentActivityQuery:
    read = ParamReader(params)
    read.version()
    timeframe = read.timeframe()
    interval = read.interval(timeframe)
    agents = read.required_ids("agentIds")
    read.finish()
    assert timeframe is not None
    return AgentActivityQuery(timeframe, interval, agents)


@dataclass(frozen=True, slots=True)
class Reading:
    timelines: Timelines
    ranges: list[Range]
    stamps: list[int]
    """Per range: the timelines' version up to its end (what a cached part is valid for)."""


def read(query: AgentActivityQuery, now_ms: int, state: AccountState, _: Fragments) -> Reading:
    rows = state.timeline(AGENT_STATES)
    spans = ranges(now_ms, query.timeframe, query.interval)
    stamps = [rows.stamp(r.hi) for r in spans]
    listed = None if query.agents is None or query.agents == ALL else sorted(query.agents)
    keys = None if listed is None else [(agent,) for agent in listed]
    return Reading(rows.timelines(keys, since=spans[0].lo), spans, stamps)


def _selected(timelines: Timelines, agents: Selection) -> Int64s:
    """The timelines asked for, ordered by agent id."""
    ids = timelines.keys[:, 0]
    order = np.argsort(ids, kind="stable")
    if agents is None or agents == ALL:
        return order
    return order[np.isin(ids[order], np.fromiter(agents, np.int64, len(agents)))]


def render(query: AgentActivityQuery, now_ms: int, got: Reading, fragments: Fragments) -> bytes:
    parts: list[Hashable] = []
    texts: list[str | None] = []
    for i, r in enumerate(got.ranges):
        # The window and the newest interval end at now: only a past interval recurs.
        part = None if i == 0 or r.hi == now_ms else ("agents", query.agents, r.lo, r.hi)
        parts.append(part)
        texts.append(None if part is None else fragments.get(part, got.stamps[i]))
    missing = [i for i, text in enumerate(texts) if text is None]
    if missing:
        agents = _selected(got.timelines, query.agents)
        measured = measure(got.timelines, agents, [got.ranges[i] for i in missing])
        ids = got.timelines.keys[:, 0]
        for i, one in zip(missing, measured, strict=True):
            texts[i] = agents_metrics(one, ids)
            if parts[i] is not None:
                fragments.put(parts[i], got.stamps[i], texts[i] or "")
    done = [text or "" for text in texts]
    if query.interval is None:
        return body(done[0], None)
    stamps = [r.timestamp or 0 for r in got.ranges[1:]]
    return body(done[0], list(zip(stamps, done[1:], strict=True)))


_VALUE = {
    "type": "object",
    "properties": {
        name: {"type": "integer"}
        for name in ("total", "chatting", "notChatting", "chattingInMaxConcurrency")
    },
}
_ENTRY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "value": _VALUE,
        "reasons": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "value": _VALUE},
            },
        },
    },
}
_AGENTS_METRICS = {
    "type": "object",
    "properties": {
        "metricsPerAgent": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": _ENTRY},
        },
        "metricsTotals": {"type": "array", "maxItems": 0},
    },
}


def _response() -> dict[str, Any]:
    interval = {
        "type": "object",
        "properties": {
            "timestamp": {"type": "integer"},
            "metricsData": {
                "type": "object",
                "properties": {"agentsMetrics": _AGENTS_METRICS},
            },
        },
    }
    return {
        "type": "object",
        "properties": {
            "metricsByIntervals": {"type": "array", "items": interval},
            "agentsMetrics": _AGENTS_METRICS,
        },
    }


AGENTACTIVITY: Method[AgentActivityQuery, int, Reading] = Method(
    name="agentactivity",
    summary="Time each agent spent online, back soon and away (with reasons), and chatting",
    parse=parse,
    plan=lambda query, now_ms: now_ms,
    tables=(AGENT_STATES,),
    read=read,
    render=render,
    light=lambda query: False,
    parameters=[
        query_parameter("v", "Required: API version, 1."),
        query_parameter("timeframe", f"Required: {TIMEFRAME_ALLOWED}."),
        query_parameter("agentIds", f"Required: {IDS_ALLOWED}."),
        query_parameter("interval", f"Optional: {INTERVAL_ALLOWED}."),
    ],
    body={
        "type": "object",
        "required": ["timeframe", "v", "agentIds"],
        "properties": {
            "v": NUMBER_OR_STRING,
            "timeframe": NUMBER_OR_STRING,
            "interval": NUMBER_OR_STRING,
            "agentIds": ID_LIST,
        },
    },
    response=_response(),
)
