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

from engactivity.core.params import (
    IDS_ALLOWED,
    INTERVAL_ALLOWED,
    TIMEFRAME_ALLOWED,
    ParamReader,
    Selection,
)
from engactivity.core.timeframe import BUCKET_MS
from engactivity.methods.agentactivity import live
from engactivity.methods.agentactivity.live import RangeEntries
from engactivity.methods.agentactivity.measure import (
    Measured,
    Range,
    combined,
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
from engactivity.store.memory import AccountState
from engactivity.store.timelines import TimelineRows, Timelines


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
    ranges: list[Range]
    texts: list[bytes | None]
    """Per range: its rendered part when one was kept, else None."""
    measured: list[Measured | None]
    """Per range without a kept part: its measures (of the agents touched since
    ``entries`` were kept, when there are some)."""
    parts: list[tuple[Hashable, int] | None]
    """Per range that is past: its part's name and stamp (to keep it under)."""
    entries: list[RangeEntries | None]
    """Per range that ends at now: its agent entries kept by an earlier answer."""
    earlier: list[RangeEntries | None]
    """Per range that ends at now, measured whole: the entries of the same question kept
    at another moment (their texts serve again where their inputs are equal)."""
    rows: TimelineRows
    version: int
    """The timelines' version read."""


def read(query: AgentActivityQuery, now_ms: int, state: AccountState, kept: Fragments) -> Reading:
    """Measures every range whose rendered part is not kept, or of one that ends at now
    and whose agent entries are, only the agents touched since (under the snapshot's
    lock: the timelines change in place)."""
    rows = state.timeline(AGENT_STATES)
    timelines = rows.timelines()
    spans = ranges(now_ms, query.timeframe, query.interval)
    # The window and the newest interval end at now: only a past interval recurs.
    parts = [
        None if i == 0 or r.hi == now_ms else _part("agents", query, r.lo, r.hi, rows)
        for i, r in enumerate(spans)
    ]
    texts = [None if p is None else kept.get(*p, bytes) for p in parts]
    found = [
        None if p is not None else kept.get(_entries(query, n), 0, RangeEntries)
        for n, p in enumerate(parts)
    ]
    touched = [
        live.touched(k, rows, timelines, query.agents, r) for k, r in zip(found, spans, strict=True)
    ]
    whole = [r for r, t, a in zip(spans, texts, touched, strict=True) if t is None and a is None]
    made = iter(_measured_whole(query, whole, rows, timelines, kept))
    measured: list[Measured | None] = []
    for r, text, agents in zip(spans, texts, touched, strict=True):
        if agents is not None:  # only the agents touched since the kept entries
            measured.append(measure(timelines, agents, [r])[0])
        else:
            measured.append(None if text is not None else next(made))
    entries = [k if a is not None else None for k, a in zip(found, touched, strict=True)]
    earlier = [k if a is None else None for k, a in zip(found, touched, strict=True)]
    return Reading(spans, texts, measured, parts, entries, earlier, rows, rows.version)


def _measured_whole(
    query: AgentActivityQuery,
    spans: list[Range],
    rows: TimelineRows,
    timelines: Timelines,
    kept: Fragments,
) -> list[Measured]:
    """Each range's measures for every agent asked about, from kept middle pieces where
    there are some."""
    if not spans:
        return []
    todo = [(r.lo, r.hi) for r in spans]
    cut = {r: _pieces(*r) for r in todo}
    middles = {middle for _, middle in cut.values() if middle is not None}
    named = {m: _part("measures", query, *m, rows) for m in middles}
    known = {m: found for m in middles if (found := kept.get(*named[m], Measured)) is not None}
    asked = sorted({p for pieces, _ in cut.values() for p in pieces} - known.keys())
    agents = live.selected(timelines, query.agents)
    fresh = measure(timelines, agents, [Range(None, lo, hi) for lo, hi in asked])
    known.update(zip(asked, fresh, strict=True))
    for m in middles.intersection(asked):
        kept.put(*named[m], known[m])
    return [combined([known[p] for p in cut[r][0]]) for r in todo]


def _part(
    kind: str, query: AgentActivityQuery, lo: int, hi: int, rows: TimelineRows
) -> tuple[Hashable, int]:
    """A kept part's name, and its stamp: the timelines' version up to its end."""
    return (kind, query.agents, lo, hi), rows.stamp(hi)


def _entries(query: AgentActivityQuery, n: int) -> Hashable:
    """The name of range ``n``'s agent entries (when it ends at now)."""
    return live.name(query.agents, query.timeframe, query.interval, n)


Piece = tuple[int, int]


def _pieces(lo: int, hi: int) -> tuple[list[Piece], Piece | None]:
    """A range cut at the first and last bucket boundaries inside it, and the middle
    piece between them if there is one: its measures are kept (until an event before
    its end arrives), so while the clock moves within a bucket only the ends are
    measured again."""
    first = -(-lo // BUCKET_MS) * BUCKET_MS
    last = hi // BUCKET_MS * BUCKET_MS
    if first >= last or (first, last) == (lo, hi):  # a whole past interval: its text is kept
        return [(lo, hi)], None
    pieces = [piece for piece in ((lo, first), (first, last), (last, hi)) if piece[0] < piece[1]]
    return pieces, (first, last)


def render(query: AgentActivityQuery, now_ms: int, got: Reading, kept: Fragments) -> bytes:
    done = [_rendered(query, got, n, kept) for n in range(len(got.ranges))]
    if query.interval is None:
        return body(done[0], None)
    stamps = [r.timestamp or 0 for r in got.ranges[1:]]
    return body(done[0], list(zip(stamps, done[1:], strict=True)))


def _rendered(query: AgentActivityQuery, got: Reading, n: int, kept: Fragments) -> bytes:
    """Range ``n``'s ``agentsMetrics``: kept, patched, or rendered (and kept)."""
    text, measured, part, entries = got.texts[n], got.measured[n], got.parts[n], got.entries[n]
    if text is not None:
        return text
    assert measured is not None
    if part is not None:
        text = agents_metrics(measured)
        kept.put(*part, text)
        return text
    if entries is None:
        entries = live.fresh(got.rows, got.ranges[n], got.version, measured, got.earlier[n])
    else:
        entries = live.patched(entries, got.version, measured)
    kept.put(_entries(query, n), 0, entries)
    return entries.text


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
