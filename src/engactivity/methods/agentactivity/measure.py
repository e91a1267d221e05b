"""How long each agent spent in each state in a time range (AGENTS.md sections 3 and 4).

A timeline is a step function; what it adds up to from its start to a moment ``t`` is
the sum of its whole steps before ``t`` (the store keeps these sums along each
timeline: the table's ``weights``) plus the part of the step holding ``t``. A range
``[lo, hi)`` is then ``F(hi) - F(lo)``, a binary search per agent and moment, however
many events the range holds. Away time by reason is measured directly on the away
steps that have one: they are the fewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engactivity.core.timeframe import MINUTE_MS, span_for
from engactivity.methods.agentactivity.timeline import (
    AWAY,
    MEASURES,
    NO_REASON,
    REASON,
    STATE,
    weights,
)
from engactivity.store.memory import ORIGIN_SHIFT, Timelines

Int64s = npt.NDArray[np.int64]

_SPAN = 1 << ORIGIN_SHIFT
_LONG_AFTER = 1 << 62


@dataclass(frozen=True, slots=True)
class Range:
    timestamp: int | None
    """The interval's Ek, or None for the whole window."""
    lo: int
    hi: int


def ranges(now_ms: int, timeframe: int, interval: int | None) -> list[Range]:
    """The whole window, then each interval newest first, clipped to the window."""
    start = now_ms - timeframe * MINUTE_MS
    out = [Range(None, start, now_ms)]
    if interval is not None:
        span = span_for(now_ms, timeframe, interval)
        k = 0
        while (end := span.interval_end(k)) > start:
            out.append(Range(end, max(span.interval_end(k + 1), start), min(end, now_ms)))
            k += 1
    return out


def _times(timelines: Timelines, steps: Int64s) -> Int64s:
    """Each step's start, in ms from the timelines' origin."""
    return timelines.sortable[steps] & (_SPAN - 1)


def _owners(timelines: Timelines, steps: Int64s) -> Int64s:
    return timelines.sortable[steps] >> ORIGIN_SHIFT


def _ends(timelines: Timelines, steps: Int64s) -> Int64s:
    """When each step ends: the next step's start, or far ahead for a timeline's last."""
    last = len(timelines.sortable) - 1
    following = np.minimum(steps + 1, last)
    same = (_owners(timelines, following) == _owners(timelines, steps)) & (steps < last)
    return np.where(same, _times(timelines, following), _LONG_AFTER)


def up_to(timelines: Timelines, agents: Int64s, moments: Int64s) -> Int64s:
    """(agents, moments, 9): each column's ms from each timeline's start to each moment."""
    at = np.clip(moments - timelines.origin, -1, _SPAN - 1)
    asked = ((agents << ORIGIN_SHIFT)[:, None] + at[None, :]).ravel()
    step = np.searchsorted(timelines.sortable, asked, side="right") - 1
    begun = step >= np.repeat(timelines.starts[agents], len(moments))
    step = np.where(begun, step, 0)
    inside = np.repeat(at[None, :], len(agents), axis=0).ravel() - _times(timelines, step)
    total = timelines.sums[step] + weights(timelines.values[step]) * inside[:, None]
    total[~begun] = 0
    return total.reshape(len(agents), len(moments), -1)


@dataclass(frozen=True, slots=True)
class Reasons:
    """Away time by reason: one row per (timeline, reason) with time, ordered by
    timeline, then reason id as a string."""

    owners: Int64s
    ids: list[str]
    ms: Int64s
    """(rows, 3): total, chatting, at full capacity."""


@dataclass(frozen=True, slots=True)
class Measured:
    """One range's milliseconds for the agents logged in during it."""

    agents: Int64s
    """Timeline indexes, ordered by agent id."""
    ms: Int64s
    """(agents, 9): per state (online, back soon, away): total, chatting, at full capacity."""
    reasons: Reasons


def measure(timelines: Timelines, agents: Int64s, spans: Sequence[Range]) -> list[Measured]:
    """Each range's measures for the timelines ``agents`` (ordered by agent id)."""
    if not len(agents):
        nothing = Reasons(agents, [], np.zeros((0, MEASURES), np.int64))
        return [Measured(agents, np.zeros((0, 9), np.int64), nothing) for _ in spans]
    moments = np.unique([m for r in spans for m in (r.lo, r.hi)])
    totals = up_to(timelines, agents, moments)
    away = _away_with_reason(timelines, _steps_between(timelines, agents, moments[0], moments[-1]))
    out = []
    for r in spans:
        lo, hi = np.searchsorted(moments, [r.lo, r.hi])
        ms = totals[:, hi] - totals[:, lo]
        present = ms[:, 0::MEASURES].sum(axis=1) > 0
        out.append(Measured(agents[present], ms[present], _reasons(timelines, away, r)))
    return out


def _steps_between(timelines: Timelines, agents: Int64s, lo: int, hi: int) -> Int64s:
    """The steps of ``agents`` that hold a moment of [lo, hi): found by binary search,
    so only the steps of that time are looked at."""
    at = np.clip(np.array([lo, hi - 1]) - timelines.origin, -1, _SPAN - 1)
    bounds = (agents << ORIGIN_SHIFT)[:, None] + at[None, :]
    first, last = (np.searchsorted(timelines.sortable, bounds, side="right") - 1).T
    first = np.maximum(first, timelines.starts[agents])
    counts = np.maximum(last - first + 1, 0)
    offsets: Int64s = np.repeat(first - np.cumsum(counts) + counts, counts)
    return np.arange(int(counts.sum()), dtype=np.int64) + offsets


def _away_with_reason(timelines: Timelines, steps: Int64s) -> Int64s:
    """Those of ``steps`` away with a reason."""
    values = timelines.values[steps]
    texts = timelines.texts
    none = texts.index(NO_REASON) if NO_REASON in texts else -1
    picked: Int64s = steps[(values[:, STATE] == AWAY) & (values[:, REASON] != none)]
    return picked


def _reasons(timelines: Timelines, away: Int64s, r: Range) -> Reasons:
    lo, hi = r.lo - timelines.origin, r.hi - timelines.origin
    starts, ends = _times(timelines, away), _ends(timelines, away)
    inside = (starts < hi) & (ends > lo)
    rows = away[inside]
    texts = timelines.texts
    overlap = np.minimum(ends[inside], hi) - np.maximum(starts[inside], lo)
    steps = weights(timelines.values[rows])[:, 2 * MEASURES :] * overlap[:, None]
    rank = np.argsort(np.argsort(np.array(texts, dtype=object), kind="stable"))
    reason = timelines.values[rows, REASON]
    pairs, group = np.unique(
        _owners(timelines, rows) * max(1, len(texts)) + rank[reason], return_inverse=True
    )
    sums = np.zeros((len(pairs), MEASURES), np.int64)
    np.add.at(sums, group.ravel(), steps)
    first = np.zeros(len(pairs), np.int64)
    first[group.ravel()[::-1]] = np.arange(len(rows))[::-1]  # a row of each pair
    kept = sums[:, 0] > 0
    return Reasons(
        _owners(timelines, rows)[first][kept],
        [texts[i] for i in reason[first][kept].tolist()],
        sums[kept],
    )
