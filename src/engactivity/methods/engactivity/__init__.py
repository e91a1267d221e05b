"""Engagement Activity (SEMANTICS.md): what agents did, by skill and agent, per 5-minute bucket.

The declaration: the parameters, the rollup table that ``connected`` and ``closed``
events fold into, how a span of rollups becomes an answer (``read.py`` under the
snapshot's lock, ``render.py`` outside it) and the shape of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engactivity.core.events import Closed, Connected, Event
from engactivity.core.params import (
    IDS_ALLOWED,
    INTERVAL_ALLOWED,
    TIMEFRAME_ALLOWED,
    ParamReader,
    Selection,
)
from engactivity.core.timeframe import BUCKET_MS, Span, span_for
from engactivity.methods.engactivity.patch import KeptSections, patched
from engactivity.methods.engactivity.read import (
    Dense,
    Reading,
    Slice,
    fragment_key,
    read_pairs,
    read_totals,
)
from engactivity.methods.engactivity.render import (
    METRIC_KEYS,
    Texts,
    render_body,
    render_section,
    render_totals,
)
from engactivity.methods.method import (
    ID_LIST,
    NUMBER_OR_STRING,
    Fragments,
    Method,
    query_parameter,
)
from engactivity.store.memory import AccountState
from engactivity.store.tables import BucketTable, Column, Deltas, Value

# -- the question -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EngActivityQuery:
    timeframe: int
    """Minutes, 1..1440."""
    interval: int | None
    """Minutes, or None for no intervals."""
    skills: Selection
    agents: Selection


def parse(params: Mapping[str, object]) -> EngActivityQuery:
    """Validate request parameters; raise InvalidRequest listing every problem."""
    read = ParamReader(params)
    read.version()
    timeframe = read.timeframe()
    interval = read.interval(timeframe)
    skills = read.ids("skillIds")
    agents = read.ids("agentIds")
    read.finish()
    assert timeframe is not None
    return EngActivityQuery(timeframe, interval, skills, agents)


def plan(query: EngActivityQuery, now_ms: int) -> Span:
    return span_for(now_ms, query.timeframe, query.interval)


# -- the state: five counters per bucket, skill and agent ----------------------------------


def fold(events: Sequence[Event], into: Deltas) -> None:
    """Add each connected or closed event to its rollup row (SEMANTICS.md section 1).

    A chat that never reached an agent has ``has_agent`` 0 (and agent 0): any 64-bit
    number is a valid agent id, so no sentinel could stand for "none".
    """
    for event in events:
        skill = event.skill_id
        if skill is None:
            skill = -1
        if isinstance(event, Connected):
            key = (event.time // BUCKET_MS, skill, 1, event.agent_id)
            row = into.get(key)
            if row is None:
                into[key] = [0, 0, 0, 0, 1]
            else:
                row[4] += 1
        elif isinstance(event, Closed):
            agent = event.agent_id
            if agent is None:
                key = (event.time // BUCKET_MS, skill, 0, 0)
            else:
                key = (event.time // BUCKET_MS, skill, 1, agent)
            row = into.get(key)
            if row is None:
                row = into[key] = [0, 0, 0, 0, 0]
            if event.interactive:
                row[0] += 1
                row[2] += event.handling_time or 0
            else:
                row[1] += 1
                row[3] += event.handling_time or 0


ROLLUP = BucketTable(
    name="rollup",
    keys=(Column("skill_id"), Column("has_agent", "INTEGER"), Column("agent_id")),
    values=(
        Value("interactive_chats"),
        Value("non_interactive_chats"),
        Value("handling_time"),
        Value("non_interactive_handling_time"),
        Value("connected"),
    ),
    fold=fold,
)


# -- from the state to the answer -----------------------------------------------------------


def _filtered(query: EngActivityQuery) -> bool:
    return query.skills is not None or query.agents is not None


def read(query: EngActivityQuery, span: Span, state: AccountState, fragments: Fragments) -> Reading:
    rows = state.rows(ROLLUP)
    if not _filtered(query):
        return read_totals(rows, span)
    return read_pairs(rows, span, query.skills, query.agents, fragments)


def render(query: EngActivityQuery, span: Span, reading: Reading, fragments: Fragments) -> bytes:
    if reading.interval_totals is not None:
        return render_totals(span, reading.whole, reading.interval_totals)
    whole_texts: Texts = (None, None)
    if reading.dense is not None:
        whole_texts = _patched(query, "whole", reading.dense, reading.whole, fragments)
    pieces = reading.intervals
    if pieces is not None and _filtered(query) and reading.stamps is not None:
        # Intervals rendered afresh are kept, so the next answer after new data
        # renders only the intervals whose buckets changed.
        texts: list[Slice | bytes] = []
        for k, piece in enumerate(pieces):
            if isinstance(piece, Slice):
                kept: Texts = (None, None)
                if k == 0 and reading.newest is not None:  # where writes land
                    kept = _patched(query, "newest", reading.newest, piece, fragments)
                piece = render_section(query.skills, query.agents, piece, kept)
                key = fragment_key(query.skills, query.agents, span, k)
                fragments.put(key, reading.stamps[k], piece)
            texts.append(piece)
        pieces = texts
    return render_body(query.skills, query.agents, span, reading.whole, pieces, whole_texts)


def _patched(
    query: EngActivityQuery, section: str, dense: Dense, piece: Slice, fragments: Fragments
) -> Texts:
    """The skills' and agents' entries of a section (the whole span's, or the newest
    interval's), rendered again only where its pairs' sums changed since the last answer
    to this question (patch.py). They are kept whatever the data (stamp 0): the sums
    they were made from are compared instead."""
    part = ("entries", query.skills, query.agents, section)
    kept = patched(
        fragments.get(part, 0, KeptSections),
        dense,
        piece,
        query.skills is not None,
        query.agents is not None,
    )
    fragments.put(part, 0, kept)
    return kept.skills, kept.agents


# -- the declaration -------------------------------------------------------------------------

_METRICS = {
    "type": "object",
    "properties": {key: {"type": "integer", "format": "int64"} for key in METRIC_KEYS},
}

RESPONSE: dict[str, Any] = {
    "type": "object",
    "description": "metricsTotals, skillsMetricsPerAgent and/or agentsMetrics, "
    "preceded by metricsByIntervals when interval is given.",
    "properties": {
        "metricsTotals": _METRICS,
        "metricsByIntervals": {"type": "array", "items": {"type": "object"}},
        "skillsMetricsPerAgent": {"type": "object"},
        "agentsMetrics": {"type": "object"},
    },
}

ENGACTIVITY = Method(
    name="engactivity",
    summary="Engagement activity metrics for an account",
    parse=parse,
    plan=plan,
    tables=(ROLLUP,),
    read=read,
    render=render,
    light=lambda query: not _filtered(query),
    # Described here rather than declared to FastAPI: parse() reads them, and
    # FastAPI's own parsing of five parameters cost a fifth of a cached answer.
    parameters=[
        query_parameter("timeframe", f"Required: {TIMEFRAME_ALLOWED}."),
        query_parameter("v", "Required: API version, 1."),
        query_parameter("skillIds", f"Optional: {IDS_ALLOWED}."),
        query_parameter("agentIds", f"Optional: {IDS_ALLOWED}."),
        query_parameter("interval", f"Optional: {INTERVAL_ALLOWED}."),
    ],
    body={
        "type": "object",
        "properties": {
            "timeframe": NUMBER_OR_STRING,
            "v": NUMBER_OR_STRING,
            "interval": NUMBER_OR_STRING,
            "skillIds": ID_LIST,
            "agentIds": ID_LIST,
        },
    },
    response=RESPONSE,
)
