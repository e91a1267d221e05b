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
from engactivity.methods.agentactivity.live import Carried, RangeEntries
from engactivity.methods.agentactivity.measure import (
    Ends,
    Int64s,
    Measured,
    Range,
    combined,
    ends,
    measure,
    measured_with_ends,
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
    """Per range without a kept part: its measures (when kept entries are carried on, of
    the agents measured again only)."""
    ends: list[Ends | None]
    """Per range with kept entries (``names``): the steps holding its ends, of the agents
    measured."""
    parts: list[tuple[Hashable, int] | None]
    """Per range that is past, or the oldest: its part's name and stamp (to keep it
    under)."""
    names: list[Hashable | None]
    """Per range whose agent entries are kept: their name. Those of the ranges that
    move with now, and of past ranges that late events keep changing
    (``_late_entries``)."""
    carried: list[Carried | None]
    """Per range with kept entries: the entries kept by an earlier answer, carried on."""
    earlier: list[RangeEntries | None]
    """Per range with kept entries, measured whole: the entries of the same question kept
    by an earlier answer (their texts serve again where their inputs are equal)."""
    seen: live.Seen
    """The timelines read."""


def read(query: AgentActivityQuery, now_ms: int, state: AccountState, kept: Fragments) -> Reading:
    """Measures every range whose rendered part is not kept, or of one whose agent
    entries are (it moves with now, or late events keep changing it), only the agents
    to measure again (under the snapshot's lock: the timelines change in place)."""
    rows = state.timeline(AGENT_STATES)
    timelines = rows.timelines()
    spans = ranges(now_ms, query.timeframe, query.interval)
    # The window, the newest interval (it ends at now) and the oldest (it starts where
    # the window does) move with now: only the intervals between recur, and the oldest
    # at the same moments (a write after its end changes nothing of it).
    moving = [i == 0 or r.hi == now_ms or r.lo == spans[0].lo for i, r in enumerate(spans)]
    parts = [
        None if i == 0 or r.hi == now_ms else _part("agents", query, r.lo, r.hi, rows)
        for i, r in enumerate(spans)
    ]
    texts = [None if p is None else kept.get(*p, bytes) for p in parts]
    late = rows.latest_change()
    names = [
        _entries(query, n) if m else _late_entries(query, r, late, kept) if t is None else None
        for n, (r, m, t) in enumerate(zip(spans, moving, texts, strict=True))
    ]
    found = [
        kept.get(name, 0, RangeEntries) if name is not None and t is None else None
        for name, t in zip(names, texts, strict=True)
    ]
    carried = [
        live.carried(k, rows, timelines, query.agents, r) for k, r in zip(found, spans, strict=True)
    ]
    whole = [r for r, t, c in zip(spans, texts, carried, strict=True) if t is None and c is None]
    made = iter(_measured_whole(query, whole, rows, timelines, kept))
    again = _measured_again(timelines, spans, carried)
    measured: list[Measured | None] = []
    at: list[Ends | None] = []
    for n, (r, text) in enumerate(zip(spans, texts, strict=True)):
        if n in again:  # carried on: only the agents to measure again
            measured.append(again[n][0])
            at.append(again[n][1])
            continue
        measured.append(None if text is not None else next(made))
        if names[n] is not None and text is None:  # its ends, to carry it on next time
            lines = live.selected(timelines, query.agents)
            at.append(ends(timelines, lines, [r])[0])
        else:
            at.append(None)
    earlier = [k if c is None else None for k, c in zip(found, carried, strict=True)]
    return Reading(spans, texts, measured, at, parts, names, carried, earlier, live.Seen.of(rows))


def _measured_again(
    timelines: Timelines, spans: list[Range], carried: list[Carried | None]
) -> dict[int, tuple[Measured, Ends]]:
    """Per range carried on, the measures and ends of its agents to measure again. The
    moving ranges usually share theirs (the agents a write touched): one measuring for
    all the ranges of the same agents."""
    groups: dict[bytes, tuple[Int64s, list[int]]] = {}
    for n, c in enumerate(carried):
        if c is not None:
            groups.setdefault(c.again.tobytes(), (c.again, []))[1].append(n)
    out: dict[int, tuple[Measured, Ends]] = {}
    for lines, group in groups.values():
        measured = measured_with_ends(timelines, lines, [spans[n] for n in group])
        out.update(zip(group, measured, strict=True))
    return out


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
    """The name of range ``n``'s agent entries (when it moves with now)."""
    return live.name(query.agents, query.timeframe, query.interval, n)


def _late_entries(
    query: AgentActivityQuery, r: Range, late: int | None, kept: Fragments
) -> Hashable | None:
    """The name of past range ``r``'s agent entries when they are kept, else None.

    A past range is made again when a write reaches back before its end (``late``:
    the earliest time the newest write changed; an agent's state then holds on into
    every later range). Late events come in runs (a producer catching up), and each
    would have the range measured whole again: once a range is made again, its entries
    are kept, and the next late event is patched in as a write at now is. Not when it
    is made the first time (a mark is kept instead): after a load every past range is,
    and keeping all their entries would double what an answer keeps."""
    if late is None or late >= r.hi:
        return None
    mark = live.made_again(query.agents, r.lo, r.hi)
    if kept.get(mark, 0, live.MadeAgain) is None:
        kept.put(mark, 0, live.MADE_AGAIN)
        return None
    return live.name_at(query.agents, r.lo, r.hi)


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
    done = [_rendered(got, n, kept) for n in range(len(got.ranges))]
    if query.interval is None:
        return body(done[0], None)
    stamps = [r.timestamp or 0 for r in got.ranges[1:]]
    return body(done[0], list(zip(stamps, done[1:], strict=True)))


def _rendered(got: Reading, n: int, kept: Fragments) -> bytes:
    """Range ``n``'s ``agentsMetrics``: kept, carried on, or rendered (and kept)."""
    text, measured, part, carried = got.texts[n], got.measured[n], got.parts[n], got.carried[n]
    if text is not None:
        return text
    assert measured is not None
    at, r = got.ends[n], got.ranges[n]
    if at is None:  # a past interval
        assert part is not None
        text = agents_metrics(measured)
        kept.put(*part, text)
        return text
    if carried is None:
        entries = live.fresh(got.seen, r, measured, at, got.earlier[n])
    else:
        entries = live.carried_on(carried, got.seen, r, measured, at)
    name = got.names[n]
    assert name is not None  # kept entries: named
    kept.put(name, 0, entries)
    if part is not None:  # the oldest or a past interval: its text serves at these moments
        kept.put(*part, entries.text)
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
