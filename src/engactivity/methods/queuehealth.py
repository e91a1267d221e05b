"""Queue Health (QUEUE.md section 2): what visitors went through, per skill and in total.

Per skill and span (or interval) of buckets: how many entered the queue, were answered
or gave up, how long they waited, and the queue's size and free slots as sampled;
then the twenty metrics of section 2.1, totals by the rules of 2.2, the shapes of 2.3.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from engactivity.core.params import (
    IDS_ALLOWED,
    INTERVAL_ALLOWED,
    TIMEFRAME_ALLOWED,
    ParamReader,
    Selection,
)
from engactivity.core.timeframe import Span, span_for
from engactivity.methods.keptentries import KeptEntries, entries_of
from engactivity.methods.method import ID_LIST, NUMBER_OR_STRING, Fragments, Method, query_parameter
from engactivity.methods.queues import (
    ABANDONED,
    CONNECTED,
    ENTERED,
    GAUGES,
    QS_COUNT,
    QS_SUM,
    QUEUE_CELLS,
    QUEUE_SAMPLES,
    SLOTS_COUNT,
    SLOTS_SUM,
    TIME_TO_ABANDON,
    TIME_TO_ANSWER,
    Gauge,
    half_up,
)
from engactivity.methods.queuestate import NONE, CurrentValues, current_values
from engactivity.methods.spans import Merged, interval_buckets, span_rows, stamp
from engactivity.store.memory import AccountState, BucketRows, Int64s

Plan = tuple[Span, int]
"""The span of buckets, and the moment (current values move with it)."""


@dataclass(frozen=True, slots=True)
class Cells:
    """The skills with data over a span or interval, and their merged cells."""

    skills: Int64s
    """Ascending."""
    values: Int64s
    """Shape (skills, width): each skill's cell values merged."""


@dataclass(frozen=True, slots=True)
class QueueHealthQuery:
    timeframe: int
    interval: int | None
    skills: Selection


def parse(params: Mapping[str, object]) -> QueueHealthQuery:
    read = ParamReader(params)
    read.version()
    timeframe = read.timeframe()
    interval = read.interval(timeframe)
    skills = read.ids("skillIds")
    read.finish()
    assert timeframe is not None
    return QueueHealthQuery(timeframe, interval, skills)


def plan(query: QueueHealthQuery, now_ms: int) -> Plan:
    return span_for(now_ms, query.timeframe, query.interval), now_ms


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    whole: Cells
    intervals: list[Cells | bytes] | None
    """Per interval, newest first: its cells, or its rendered text when that was kept."""
    stamps: list[int] | None
    """Per interval: a number that changes whenever any of its buckets changes."""
    current: CurrentValues


def read(query: QueueHealthQuery, plan: Plan, state: AccountState, fragments: Fragments) -> Reading:
    span, now_ms = plan
    cells = state.rows(QUEUE_CELLS)
    whole = _cells(query, cells, span_rows(cells, span.first, span.last, fragments))
    intervals: list[Cells | bytes] | None = None
    stamps: list[int] | None = None
    if span.interval_ms is not None:
        intervals, stamps = [], []
        for k, (first, last) in enumerate(interval_buckets(span)):
            stamps.append(stamp(cells, first, last))
            kept = fragments.get(_part(query, span, k), stamps[-1], bytes)
            if kept is None:
                merged = span_rows(cells, first, last, fragments, keep_older=k == 0)
                intervals.append(_cells(query, cells, merged))
            else:
                intervals.append(kept)
    samples = state.latest(QUEUE_SAMPLES)
    # Kept for the moment: only a write of a sample changes them (they are a loop over
    # every skill's sample).
    current = fragments.get(("current", now_ms), samples.version, CurrentValues)
    if current is None:
        current = current_values(samples, now_ms)
        fragments.put(("current", now_ms), samples.version, current)
    return Reading(whole, intervals, stamps, current)


def _cells(query: QueueHealthQuery, rows: BucketRows, merged: Merged) -> Cells:
    """The merged cells of the skills asked for (each key of the table is one skill)."""
    skill_of = rows.column(0)
    keep = merged.seen.copy()
    if isinstance(query.skills, frozenset):
        keep &= np.isin(skill_of, np.fromiter(query.skills, np.int64))
    at = np.flatnonzero(keep)
    at = at[np.argsort(skill_of[at], kind="stable")]
    return Cells(skill_of[at], merged.values[at])


def _part(query: QueueHealthQuery, span: Span, k: int) -> Hashable:
    """What fixes interval k's text: the skills asked for and its buckets (the oldest
    interval also depends on where the span starts)."""
    oldest = span.first if k == span.interval_count - 1 else None
    return ("interval", query.skills, span.end_ms, span.interval_ms, k, oldest)


# -- the metrics ------------------------------------------------------------------------------


def _gauge(row: list[int], gauge: Gauge) -> tuple[int, int, float | int]:
    """max, min and average of a sampled gauge; -1 each without samples."""
    total, count, low, high = gauge
    if not row[count]:
        return NONE, NONE, NONE
    return row[high], row[low], row[total] / row[count]


def metrics(row: list[int], current: tuple[int, int] | None) -> dict[str, Any]:
    """The twenty metrics of one skill (or of the totals' merged row), in order."""
    connected, abandoned = row[CONNECTED], row[ABANDONED]
    answered, gave_up = row[TIME_TO_ANSWER], row[TIME_TO_ABANDON]
    divisor = abandoned + connected
    q_max, q_min, q_avg = _gauge(row, GAUGES[0])
    s_max, s_min, s_avg = _gauge(row, GAUGES[1])
    slots, size = current if current is not None else (NONE, NONE)
    return {
        "totalTimeToAnswer": answered,
        "enteredQEng": row[ENTERED],
        "avgTimeToAnswer": half_up(answered, connected) if connected else 0,
        "abandonmentRate": half_up(100 * abandoned, divisor) / 100 if divisor else 0,
        "abandonedEng": abandoned,
        "connectedEng": connected,
        "totalTimeToAbandon": gave_up,
        "avgTimeToAbandon": half_up(gave_up, abandoned) if abandoned else 0,
        "maxQueueSize": q_max,
        "minQueueSize": q_min,
        "averageQueueSize": q_avg,
        "maxAvailableSlots": s_max,
        "minAvailableSlots": s_min,
        "averageAvailableSlots": s_avg,
        "currentQueueSize": size,
        "currentAvailableSlots": slots,
        "queueSizeSum": row[QS_SUM],
        "queueSizeCount": row[QS_COUNT],
        "availableSlotsSum": row[SLOTS_SUM],
        "availableSlotsCount": row[SLOTS_COUNT],
    }


def total_row(cells: Int64s) -> list[int]:
    """The skills' rows as one (section 2.2): everything summed, the maximums and
    minimums of a gauge over the skills that have samples of it (none: no samples)."""
    total = QUEUE_CELLS.empty_row()
    if not len(cells):
        return total
    counters = [ENTERED, CONNECTED, TIME_TO_ANSWER, ABANDONED, TIME_TO_ABANDON]
    for at, value in zip(counters, cells[:, counters].sum(axis=0).tolist(), strict=True):
        total[at] = value
    for gauge in GAUGES:
        sampled = cells[cells[:, gauge[1]] != 0]
        if len(sampled):
            columns = list(gauge)
            for at, value in zip(columns, sampled[:, columns].sum(axis=0).tolist(), strict=True):
                total[at] = value
    return total


def current_total(query: QueueHealthQuery, current: CurrentValues) -> tuple[int, int]:
    """The current values summed over the skills the request names (every skill of the
    account without a list); -1 when none has one."""
    if not isinstance(query.skills, frozenset):
        return current.total
    known = [current.values[s] for s in query.skills if s in current.values]
    if not known:
        return NONE, NONE
    return sum(v[0] for v in known), sum(v[1] for v in known)


def _entry(skill: int, row: list[int], current: tuple[int, int] | None) -> bytes:
    return b'"%d":' % skill + orjson.dumps(metrics(row, current))


def section(
    query: QueueHealthQuery, cells: Cells, current: CurrentValues | None, kept: KeptEntries | None
) -> tuple[bytes, KeptEntries | None]:
    """One interval's (current None) or the whole span's body, as JSON text, and its
    skills' entries (re-rendered only where ``kept``'s inputs differ)."""
    parts: list[bytes] = []
    entries = None
    if query.skills is not None:
        now: list[tuple[int, int] | None] = [None] * len(cells.skills)
        if current is not None:
            now = list(map(current.values.get, cells.skills.tolist()))
        entries = entries_of(cells.skills, cells.values, now, kept, _entry)
        parts += [b'"skillsMetrics":{', b",".join(entries.entries), b"},"]
    totals = None if current is None else current_total(query, current)
    total = metrics(total_row(cells.values), totals)
    parts += [b'"metricsTotals":', orjson.dumps(total)]
    return b"".join([b"{", *parts, b"}"]), entries


def _kept_section(
    query: QueueHealthQuery,
    which: str,
    cells: Cells,
    current: CurrentValues | None,
    fragments: Fragments,
) -> bytes:
    """A section of a range that ends at now (the span, the newest interval): a write
    moves it, but most skills' entries stay, so they are kept (whatever the data: stamp
    0; ``entries_of`` compares what they were made from)."""
    part = ("skill entries", query, which)
    body, entries = section(query, cells, current, fragments.get(part, 0, KeptEntries))
    if entries is not None:
        fragments.put(part, 0, entries)
    return body


def render(query: QueueHealthQuery, plan: Plan, reading: Reading, fragments: Fragments) -> bytes:
    span = plan[0]
    whole = _kept_section(query, "span", reading.whole, reading.current, fragments)
    if reading.intervals is None or reading.stamps is None:
        return whole
    listed: list[bytes] = []
    for k, cells in enumerate(reading.intervals):
        if not isinstance(cells, bytes):
            # Kept, so that the next answer after new data renders only the intervals
            # whose buckets changed.
            if k == 0:
                body = _kept_section(query, "newest interval", cells, None, fragments)
            else:
                body = section(query, cells, None, None)[0]
            cells = b'{"timestamp":%d,"metricsData":%b}' % (span.interval_end(k), body)
            fragments.put(_part(query, span, k), reading.stamps[k], cells)
        listed += [b",", cells] if listed else [cells]
    # Joined once: each concatenation would copy the whole answer again.
    return b"".join([b'{"metricsByIntervals":[', *listed, b"],", memoryview(whole)[1:]])


QUEUEHEALTH: Method[QueueHealthQuery, Plan, Reading] = Method(
    name="queuehealth",
    summary="Queue health metrics per skill and in total",
    parse=parse,
    plan=plan,
    tables=(QUEUE_CELLS, QUEUE_SAMPLES),
    read=read,
    render=render,
    # Without intervals: kept cells plus the newest bucket, and the changed skills'
    # metrics: cheaper than the hop to a thread.
    light=lambda query: query.interval is None,
    # The current values move with the clock: an answer is kept, for its span, until
    # the first of them stops being current.
    key=lambda query, plan: plan[0],
    valid_until=lambda query, plan, reading: reading.current.until_ms,
    parameters=[
        query_parameter("timeframe", f"Required: {TIMEFRAME_ALLOWED}."),
        query_parameter("v", "Required: API version, 1."),
        query_parameter("skillIds", f"Optional: {IDS_ALLOWED}."),
        query_parameter("interval", f"Optional: {INTERVAL_ALLOWED}."),
    ],
    body={
        "type": "object",
        "properties": {
            "timeframe": NUMBER_OR_STRING,
            "v": NUMBER_OR_STRING,
            "interval": NUMBER_OR_STRING,
            "skillIds": ID_LIST,
        },
    },
    response={
        "type": "object",
        "description": "metricsTotals and, with skillIds, skillsMetrics; preceded by "
        "metricsByIntervals when interval is given.",
        "properties": {
            "metricsTotals": {"type": "object"},
            "skillsMetrics": {"type": "object"},
            "metricsByIntervals": {"type": "array", "items": {"type": "object"}},
        },
    },
)
