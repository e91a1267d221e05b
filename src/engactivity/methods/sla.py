"""SLA Histogram (QUEUE.md section 4): how long answered visitors waited, in ranges.

Every connected chat of the span counts once, in the range of its wait; the edges
are the request's (multiples of 5 s, so the 5-second bins the store keeps answer
every histogram exactly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from engactivity.core.params import (
    IDS_ALLOWED,
    TIMEFRAME_ALLOWED,
    ParamReader,
    Selection,
    as_int,
    is_empty,
    list_items,
    show,
)
from engactivity.core.problems import Problem
from engactivity.core.timeframe import Span, span_for
from engactivity.methods.method import ID_LIST, NUMBER_OR_STRING, Fragments, Method, query_parameter
from engactivity.methods.queues import BIN_S, WAIT_BINS
from engactivity.methods.spans import span_reduced
from engactivity.store.memory import AccountState, Int64s

DEFAULT_EDGES = (0, 15, 30, 45, 60, 90, 120)
MAX_EDGES = 60
MAX_EDGE_S = 86_400
HISTOGRAM_ALLOWED = (
    f"integers separated by commas, each a multiple of {BIN_S} from 0 to {MAX_EDGE_S}, "
    f"at most {MAX_EDGES} of them (e.g. 0,30,60); in a JSON body also an array of integers"
)


@dataclass(frozen=True, slots=True)
class SlaQuery:
    timeframe: int
    skills: Selection
    groups: Selection
    edges: tuple[int, ...]
    """Ascending, starting at 0."""


def parse_edges(value: object) -> tuple[int, ...] | Problem:
    """The histogram's edges, or the problem with them."""

    def bad(detail: str) -> Problem:
        return Problem("histogram", f"histogram: {detail}", HISTOGRAM_ALLOWED)

    if is_empty(value):
        return DEFAULT_EDGES
    items = list_items(value, "seconds")
    if isinstance(items, str):
        return bad(items)
    if len(items) > MAX_EDGES:
        return bad(f"{len(items)} values given, at most {MAX_EDGES} are allowed")
    edges = {0}
    for item in items:
        number = as_int(item)
        if number is None or not 0 <= number <= MAX_EDGE_S or number % BIN_S:
            return bad(f"{show(item)} is not a multiple of {BIN_S} from 0 to {MAX_EDGE_S}")
        edges.add(number)
    return tuple(sorted(edges))


def parse(params: Mapping[str, object]) -> SlaQuery:
    read = ParamReader(params)
    read.version()
    timeframe = read.timeframe()
    skills = read.ids("skillIds")
    groups = read.ids("groupIds")
    edges = parse_edges(params.get("histogram"))
    if isinstance(edges, Problem):
        read.problems.append(edges)
    read.finish()
    assert timeframe is not None and not isinstance(edges, Problem)
    return SlaQuery(timeframe, skills, groups, edges)


def plan(query: SlaQuery, now_ms: int) -> Span:
    # Intervals do not apply: whatever `interval` says, the span is taken whole.
    return span_for(now_ms, query.timeframe)


def read(query: SlaQuery, span: Span, state: AccountState, fragments: Fragments) -> Int64s:
    """Chats per range of the histogram, over the span, of the selected skills and groups."""
    rows = state.rows(WAIT_BINS)
    skill_of, group_of, bin_of = rows.column(0), rows.column(1), rows.column(2)
    starts = np.array([edge // BIN_S for edge in query.edges], np.int64)

    def reduce(keys: Int64s, values: Int64s) -> Int64s:
        keep = np.ones(len(keys), np.bool_)
        for column, ids in ((skill_of, query.skills), (group_of, query.groups)):
            if isinstance(ids, frozenset):
                keep &= np.isin(column[keys], np.fromiter(ids, np.int64))
        ranges = np.searchsorted(starts, bin_of[keys[keep]], side="right") - 1
        counts = np.bincount(ranges, weights=values[keep, 0], minlength=len(starts))
        return counts.astype(np.int64)

    part = ("ranges", query.skills, query.groups, query.edges)
    return span_reduced(rows, span.first, span.last, fragments, part, reduce)


def render(query: SlaQuery, span: Span, counts: Int64s, fragments: Fragments) -> bytes:
    total = int(counts.sum())
    ranges: dict[str, Any] = {}
    accumulated = 0
    for edge, count in zip(query.edges, counts.tolist(), strict=True):
        accumulated += count
        ranges[str(edge)] = {
            "accumulated": accumulated / total if total else 0,
            "percentageFromTotal": count / total if total else 0,
            "chats": count,
        }
    return orjson.dumps({"slaDataRange": ranges})


_RANGE = {
    "type": "object",
    "properties": {
        "accumulated": {"type": "number"},
        "percentageFromTotal": {"type": "number"},
        "chats": {"type": "integer"},
    },
}

SLA: Method[SlaQuery, Span, Int64s] = Method(
    name="sla",
    summary="How long answered visitors waited: the SLA histogram",
    parse=parse,
    plan=plan,
    tables=(WAIT_BINS,),
    read=read,
    render=render,
    # A kept vector plus the newest bucket's rows: cheaper than the hop to a thread.
    light=lambda query: True,
    parameters=[
        query_parameter("timeframe", f"Required: {TIMEFRAME_ALLOWED}."),
        query_parameter("v", "Required: API version, 1."),
        query_parameter("skillIds", f"Optional: {IDS_ALLOWED}."),
        query_parameter("groupIds", f"Optional: agent groups, {IDS_ALLOWED}."),
        query_parameter("histogram", f"Optional: {HISTOGRAM_ALLOWED}."),
    ],
    body={
        "type": "object",
        "properties": {
            "timeframe": NUMBER_OR_STRING,
            "v": NUMBER_OR_STRING,
            "skillIds": ID_LIST,
            "groupIds": ID_LIST,
            "histogram": ID_LIST,
        },
    },
    response={
        "type": "object",
        "properties": {"slaDataRange": {"type": "object", "additionalProperties": _RANGE}},
    },
)
