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
from engactivity.methods.queuestate import NONE, Current, CurrentValues, current_values
from engactivity.methods.spans import Merged, interval_buckets, span_rows, stamp
from engactivity.store.memory import AccountState, BucketRows

Plan = tuple[Span, int]
"""The span of buckets, and the moment (current values move with it)."""
Cells = dict[int, list[int]]
"""skill -> its cell values merged over a span or interval (skills with data only)."""


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
    current = current_values(state.latest(QUEUE_SAMPLES), now_ms)
    return Reading(whole, intervals, stamps, current)


def _cells(query: QueueHealthQuery, rows: BucketRows, merged: Merged) -> Cells:
    """The merged cells of the skills asked for (each key of the table is one skill)."""
    skill_of = rows.column(0)
    keep = merged.seen.copy()
    if isinstance(query.skills, frozenset):
        keep &= np.isin(skill_of, np.fromiter(query.skills, np.int64))
    return dict(zip(skill_of[keep].tolist(), merged.values[keep].tolist(), strict=True))


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


def total_row(rows: list[list[int]]) -> list[int]:
    """The skills' rows as one (section 2.2): everything summed, the maximums and
    minimums of a gauge over the skills that have samples of it (none: no samples)."""
    total = QUEUE_CELLS.empty_row()
    if not rows:
        return total
    cells = np.array(rows, np.int64)  # one vector sum per column, not a loop per skill
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


def current_total(query: QueueHealthQuery, current: Current) -> tuple[int, int]:
    """The current values summed over the skills the request names (every skill of the
    account without a list); -1 when none has one."""
    if isinstance(query.skills, frozenset):
        known = [current[s] for s in query.skills if s in current]
    else:
        known = list(current.values())
    if not known:
        return NONE, NONE
    return sum(v[0] for v in known), sum(v[1] for v in known)


SkillKey = tuple[int, tuple[int, ...], tuple[int, int] | None]
"""A skill, its merged cell and its current values: all its metrics are made from."""


class SkillTexts:
    """Each skill's rendered entry (``"id":{metrics}``), by what it was made from: a
    write changes few skills' cells, so the next answer renders only those (kept per
    question)."""

    def __init__(self, earlier: SkillTexts | None) -> None:
        self.earlier = {} if earlier is None else earlier.texts
        self.texts: dict[SkillKey, bytes] = {}
        """What this answer used (the next one looks here)."""

    def entries(self, cells: Cells, current: Current | None) -> list[bytes]:
        """The skills' entries, by skill (a loop kept lean: it runs once per skill)."""
        texts, earlier = self.texts, self.earlier
        out: list[bytes] = []
        for skill, row in sorted(cells.items()):
            now = None if current is None else current.get(skill)
            key = (skill, tuple(row), now)
            entry = texts.get(key) or earlier.get(key)
            if entry is None:
                entry = b'"%d":' % skill + orjson.dumps(metrics(row, now))
            texts[key] = entry
            out.append(entry)
        return out

    def __len__(self) -> int:
        """What it costs the fragment cache (bytes, roughly: each key about 200)."""
        return sum(map(len, self.texts.values())) + 200 * len(self.texts)


def section(
    query: QueueHealthQuery, cells: Cells, current: Current | None, texts: SkillTexts
) -> bytes:
    """One interval's (current None) or the whole span's body, as JSON text."""
    parts: list[bytes] = []
    if query.skills is not None:
        parts.append(b'"skillsMetrics":{' + b",".join(texts.entries(cells, current)) + b"}")
    totals = None if current is None else current_total(query, current)
    total = metrics(total_row(list(cells.values())), totals)
    parts.append(b'"metricsTotals":' + orjson.dumps(total))
    return b"{" + b",".join(parts) + b"}"


def render(query: QueueHealthQuery, plan: Plan, reading: Reading, fragments: Fragments) -> bytes:
    span = plan[0]
    part = ("skill texts", query.skills)
    texts = SkillTexts(fragments.get(part, 0, SkillTexts))  # kept whatever the data: stamp 0
    whole = section(query, reading.whole, reading.current.values, texts)
    if reading.intervals is None or reading.stamps is None:
        fragments.put(part, 0, texts)
        return whole
    listed: list[bytes] = []
    for k, cells in enumerate(reading.intervals):
        if not isinstance(cells, bytes):
            # Kept, so that the next answer after new data renders only the intervals
            # whose buckets changed.
            body = section(query, cells, None, texts)
            cells = b'{"timestamp":%d,"metricsData":%b}' % (span.interval_end(k), body)
            fragments.put(_part(query, span, k), reading.stamps[k], cells)
        listed.append(cells)
    fragments.put(part, 0, texts)
    return b'{"metricsByIntervals":[' + b",".join(listed) + b"]," + whole[1:]


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
