"""How long each agent spent in each state in a time range (AGENTS.md sections 3 and 4).

A timeline is a step function; what it adds up to from its start to a moment ``t`` is
a prefix sum of its whole steps plus the part of the step holding ``t``. The prefix
sums of every timeline are made once per snapshot (``Prefix``); a range ``[lo, hi)``
is then ``F(hi) - F(lo)``, a binary search per agent and moment, however many events
the range holds. Away time by reason is measured directly on the away steps that
have one: they are the fewer.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engactivity.core.timeframe import MINUTE_MS, span_for
from engactivity.methods.agentactivity.timeline import (
    ACTIVE,
    AWAY,
    BACK_SOON,
    LIMIT,
    NO_REASON,
    ONLINE,
    REASON,
    STATE,
)
from engactivity.store.memory import Timelines

Int64s = npt.NDArray[np.int64]

STATES = (ONLINE, BACK_SOON, AWAY)
"""The measured states, in the order of an answer's entries."""
MEASURES = 3
"""Per state: total, chatting (activeChats > 0), at full capacity (activeChats >= maxChats)."""
_SHIFT = 44
"""A timeline's index and a time (in ms from ``Prefix.origin``) share one sortable int64."""
_SPAN = 1 << _SHIFT
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


def _indicators(values: Int64s) -> Int64s:
    """Per step, 1 where it counts in each (state, measure) column, else 0."""
    active, limit = values[:, ACTIVE], values[:, LIMIT]
    chatting = active > 0
    at_limit = (limit > 0) & (active >= limit)
    columns = []
    for state in STATES:
        mine = values[:, STATE] == state
        columns += [mine, mine & chatting, mine & at_limit]
    return np.stack(columns, axis=1).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Prefix:
    """A snapshot's timelines, ready for measuring any range."""

    timelines: Timelines
    origin: int
    times: Int64s
    """Each step's start in ms from ``origin`` (clamped into [0, 2**44))."""
    sortable: Int64s
    """(timeline << 44) + time: ascending."""
    owner: Int64s
    """Each step's timeline."""
    ends: Int64s
    """Each step's end (the next step's start; far ahead for a timeline's last)."""
    steps: Int64s
    """(steps, 9): the indicators of ``_indicators``."""
    sums: Int64s
    """(steps + 1, 9): the indicators times the step lengths, summed up to each step."""

    @classmethod
    def of(cls, timelines: Timelines) -> Prefix:
        raw = timelines.times
        # Steps older than any question may start later than they did: only their
        # part from the first moment asked about counts.
        origin = int(max(raw.min(), raw.max() - (_SPAN >> 1))) if len(raw) else 0
        times = np.clip(raw - origin, 0, _SPAN - 1)
        counts = np.diff(timelines.starts)
        owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        last = np.zeros(len(times), bool)
        last[timelines.starts[1:][counts > 0] - 1] = True
        ends = np.where(last, _LONG_AFTER, np.append(times[1:], 0))
        steps = _indicators(timelines.values)
        lengths = np.where(last, 0, ends - times)
        sums = np.zeros((len(times) + 1, steps.shape[1]), np.int64)
        np.cumsum(steps * lengths[:, None], axis=0, out=sums[1:])
        return cls(timelines, origin, times, (owner << _SHIFT) + times, owner, ends, steps, sums)

    def up_to(self, agents: Int64s, moments: Int64s) -> Int64s:
        """(agents, moments, 9): each column's ms from each timeline's start to each moment."""
        at = np.clip(moments - self.origin, -1, _SPAN - 1)
        asked = ((agents << _SHIFT)[:, None] + at[None, :]).ravel()
        step = np.searchsorted(self.sortable, asked, side="right") - 1
        first = np.repeat(self.timelines.starts[agents], len(moments))
        begun = step >= first
        step = np.where(begun, step, 0)
        inside = np.repeat(at[None, :], len(agents), axis=0).ravel() - self.times[step]
        total = self.sums[step] - self.sums[first] + self.steps[step] * inside[:, None]
        total[~begun] = 0
        return total.reshape(len(agents), len(moments), -1)


_prefixes: weakref.WeakKeyDictionary[Timelines, Prefix] = weakref.WeakKeyDictionary()


def prefix_of(timelines: Timelines) -> Prefix:
    """The prefix sums of a snapshot's timelines, made once per snapshot."""
    found = _prefixes.get(timelines)
    if found is None:
        found = _prefixes[timelines] = Prefix.of(timelines)
    return found


@dataclass(frozen=True, slots=True)
class Measured:
    """One range's milliseconds for the agents logged in during it."""

    agents: Int64s
    """Timeline indexes, ordered by agent id."""
    ms: Int64s
    """(agents, 9): per state (online, back soon, away): total, chatting, at full capacity."""
    reasons: dict[int, list[tuple[str, Int64s]]]
    """Per timeline index with away time by reason: (reason id, its 3 measures), by id."""


def measure(prefix: Prefix, agents: Int64s, spans: Sequence[Range]) -> list[Measured]:
    """Each range's measures for the timelines ``agents`` (ordered by agent id)."""
    if not len(agents):
        return [Measured(agents, np.zeros((0, 9), np.int64), {}) for _ in spans]
    moments = np.unique([m for r in spans for m in (r.lo, r.hi)])
    totals = prefix.up_to(agents, moments)
    out = []
    for r in spans:
        lo, hi = np.searchsorted(moments, [r.lo, r.hi])
        ms = totals[:, hi] - totals[:, lo]
        present = ms[:, 0::MEASURES].sum(axis=1) > 0
        out.append(Measured(agents[present], ms[present], _reasons(prefix, agents, r)))
    return out


def _reasons(prefix: Prefix, agents: Int64s, r: Range) -> dict[int, list[tuple[str, Int64s]]]:
    timelines = prefix.timelines
    texts = timelines.texts
    values = timelines.values
    lo, hi = r.lo - prefix.origin, r.hi - prefix.origin
    none = texts.index(NO_REASON) if NO_REASON in texts else -1
    picked = (values[:, STATE] == AWAY) & (values[:, REASON] != none)
    picked &= (prefix.times < hi) & (prefix.ends > lo) & np.isin(prefix.owner, agents)
    rows = np.flatnonzero(picked)
    if not len(rows):
        return {}
    overlap = np.minimum(prefix.ends[rows], hi) - np.maximum(prefix.times[rows], lo)
    steps = prefix.steps[rows][:, 2 * MEASURES :] * overlap[:, None]
    pairs, group = np.unique(
        np.stack([prefix.owner[rows], values[rows, REASON]], axis=1), axis=0, return_inverse=True
    )
    sums = np.zeros((len(pairs), MEASURES), np.int64)
    np.add.at(sums, group.ravel(), steps)
    out: dict[int, list[tuple[str, Int64s]]] = {}
    for (owner, reason), row in zip(pairs.tolist(), sums, strict=True):
        if row[0] > 0:
            out.setdefault(owner, []).append((texts[reason], row))
    for found in out.values():
        found.sort(key=lambda item: item[0])
    return out
