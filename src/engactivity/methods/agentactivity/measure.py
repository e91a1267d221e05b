"""How long each agent spent in each state in a time range (AGENTS.md sections 3 and 4).

A timeline is a step function; what it adds up to from its start to a moment ``t`` is
the sum of its whole steps before ``t`` (the store keeps these sums along each
timeline: the table's ``weights``) plus the part of the step holding ``t``. A range
``[lo, hi)`` is then ``F(hi) - F(lo)``, a binary search per agent and moment, however
many events the range holds. Away time by reason is measured directly on the away
steps that have one: they are the fewer.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from engactivity.core.timeframe import MINUTE_MS, span_for
from engactivity.methods.agentactivity.members import among
from engactivity.methods.agentactivity.timeline import (
    AWAY,
    MEASURES,
    NO_REASON,
    REASON,
    STATE,
    weights,
)
from engactivity.store.timelines import LAST_MOMENT, ORIGIN_SHIFT, Timelines

Int64s = npt.NDArray[np.int64]
Texts = npt.NDArray[np.object_]
"""Strings in a numpy array (picked and joined as fast as numbers)."""

_SPAN = 1 << ORIGIN_SHIFT
_LONG_AFTER = 1 << 62


class Range(NamedTuple):
    """A range of time ``[lo, hi)`` (a tuple: an answer makes one per interval, and a
    frozen dataclass costs three times as much to make)."""

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
        ends = [span.interval_end(0)]
        while ends[-1] > start:  # each interval's end, and the last's start
            ends.append(span.interval_end(len(ends)))
        out += [Range(e, max(b, start), min(e, now_ms)) for e, b in itertools.pairwise(ends)]
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


def _from_origin(timelines: Timelines, moments: Int64s) -> Int64s:
    """Moments in ms from the timelines' origin, within what a step's start can hold
    (``np.clip`` without its checks: several microseconds a call on two moments)."""
    return np.minimum(np.maximum(moments - timelines.origin, -1), LAST_MOMENT)


def _holding(
    timelines: Timelines, lines: Int64s, moments: Int64s
) -> tuple[Int64s, Int64s, npt.NDArray[np.bool_]]:
    """Moments from the origin; per (line, moment), by line: the step holding it and if one does."""
    at = _from_origin(timelines, moments)
    asked = ((lines << ORIGIN_SHIFT)[:, None] + at[None, :]).ravel()
    step = np.searchsorted(timelines.sortable, asked, side="right") - 1
    first = np.repeat(timelines.starts[lines], len(moments))
    begun = step >= first
    return at, np.where(begun, step, first), begun  # before its first step: that one is next


@dataclass(frozen=True, slots=True)
class _Held:
    """Per (line, moment), by line: the step holding the moment (a timeline's first
    before it has begun), whether one does, and that step's values and weights (0
    where none does yet)."""

    at: Int64s
    """The moments, from the timelines' origin."""
    step: Int64s
    begun: npt.NDArray[np.bool_]
    values: Int64s
    weights: Int64s


def _held(timelines: Timelines, lines: Int64s, moments: Int64s) -> _Held:
    at, step, begun = _holding(timelines, lines, moments)
    values = timelines.values[step]
    held = weights(values)
    held[~begun] = 0
    return _Held(at, step, begun, values, held)


def up_to(timelines: Timelines, agents: Int64s, moments: Int64s) -> Int64s:
    """(agents, moments, 9): each column's ms from each timeline's start to each moment."""
    return _up_to(timelines, _held(timelines, agents, moments), len(agents))


def _up_to(timelines: Timelines, h: _Held, lines: int) -> Int64s:
    inside = np.tile(h.at, lines) - _times(timelines, h.step)
    total = timelines.sums[h.step] + h.weights * inside[:, None]
    total[~h.begun] = 0
    return total.reshape(lines, len(h.at), -1)


@dataclass(frozen=True, slots=True)
class Reasons:
    """Away time by reason: one row per (agent, reason) with time, ordered by agent id,
    then reason id as a string."""

    agents: Int64s
    ids: Texts
    codes: Int64s
    """Each row's reason as the index of its text (its id) in the timelines' texts."""
    ms: Int64s
    """(rows, 3): total, chatting, at full capacity."""

    def take(self, rows: Int64s | npt.NDArray[np.bool_]) -> Reasons:
        picked = np.flatnonzero(rows) if rows.dtype == bool else rows
        return Reasons(
            self.agents[picked],
            self.ids[picked],
            self.codes[picked],
            self.ms[picked],
        )


@dataclass(frozen=True, slots=True)
class Measured:
    """One range's milliseconds for each agent asked about, logged in during it or not."""

    agents: Int64s
    """Agent ids, ascending."""
    ms: Int64s
    """(agents, 9): per state (online, back soon, away): total, chatting, at full capacity."""
    reasons: Reasons

    def __len__(self) -> int:
        """About the bytes it holds (what keeping it costs a cache)."""
        return int(self.agents.nbytes + self.ms.nbytes + self.reasons.ms.nbytes * 2)


NO_AGENTS = np.zeros(0, np.int64)
"""No agents (shared: never written to)."""
_NO_REASONS = Reasons(NO_AGENTS, np.zeros(0, object), NO_AGENTS, np.zeros((0, MEASURES), np.int64))


def measure(timelines: Timelines, agents: Int64s, spans: Sequence[Range]) -> list[Measured]:
    """Each range's measures for the timelines ``agents`` (ordered by agent id)."""
    ids = timelines.keys[agents, 0]
    if not len(agents):
        return [Measured(ids, np.zeros((0, 9), np.int64), _NO_REASONS) for _ in spans]
    moments = np.unique([m for r in spans for m in (r.lo, r.hi)])
    totals = up_to(timelines, agents, moments)
    at = np.searchsorted(moments, [(r.lo, r.hi) for r in spans]).tolist()
    reasons = _reasons(timelines, agents, spans)
    return [
        Measured(ids, totals[:, hi] - totals[:, lo], by_reason)
        for (lo, hi), by_reason in zip(at, reasons, strict=True)
    ]


def combined(parts: Sequence[Measured]) -> Measured:
    """The measures of ranges that follow one another, as one range's."""
    if all(np.array_equal(p.agents, parts[0].agents) for p in parts):
        agents, ms = parts[0].agents, sum((p.ms for p in parts), np.zeros_like(parts[0].ms))
    else:
        agents, where = np.unique(np.concatenate([p.agents for p in parts]), return_inverse=True)
        ms = np.zeros((len(agents), 9), np.int64)
        np.add.at(ms, where.ravel(), np.concatenate([p.ms for p in parts]))
    ids = np.concatenate([p.reasons.ids for p in parts]).tolist()
    codes = np.concatenate([p.reasons.codes for p in parts])
    names = sorted(set(ids))
    rank = {name: n for n, name in enumerate(names)}
    code_of = np.zeros(len(names), np.int64)
    ranks = np.array([rank[i] for i in ids], np.int64)
    code_of[ranks] = codes
    (owners, by), sums = _grouped(
        [np.concatenate([p.reasons.agents for p in parts]), ranks],
        np.concatenate([p.reasons.ms for p in parts]),
    )
    reasons = Reasons(owners, np.array(names, object)[by], code_of[by], sums)
    return Measured(agents, ms, reasons)


def _grouped(keys: Sequence[Int64s], ms: Int64s) -> tuple[list[Int64s], Int64s]:
    """Rows of (keys..., ms) summed per distinct keys, ordered by them (the first most
    significant)."""
    order = np.lexsort(keys[::-1])
    keys, ms = [k[order] for k in keys], ms[order]
    new = np.zeros(len(ms), bool)
    new[:1] = True
    for k in keys:
        new[1:] |= k[1:] != k[:-1]
    firsts = np.flatnonzero(new)
    if not len(firsts):
        return keys, ms
    return [k[firsts] for k in keys], np.add.reduceat(ms, firsts, axis=0)


@dataclass(frozen=True, slots=True)
class Ends:
    """What moving a range's ends later changes, per agent of its measures: at each end
    (its start, its end) the step holding it. While an end moves within its step, the
    range gains (at its end) or loses (at its start) that step's weights per millisecond,
    and the time of the step's reason if it is away with one; moving an end past the
    next step's start needs the agent measured again."""

    lines: Int64s
    """Each agent's timeline."""
    weights: Int64s
    """(agents, 2, 9): the weights of the step holding each end (0 before the first)."""
    nexts: Int64s
    """(agents, 2): when the step after each end's starts, from the timelines' origin."""
    codes: Int64s
    """(agents, 2): each end's step's reason (a ``Reasons`` code) if away with one, or -1."""

    def take(self, rows: Int64s) -> Ends:
        return Ends(self.lines[rows], self.weights[rows], self.nexts[rows], self.codes[rows])

    def replaced(self, where: Int64s, again: Ends) -> Ends:
        """These ends with the rows at ``where`` replaced by ``again``'s."""
        weights, nexts, codes = self.weights.copy(), self.nexts.copy(), self.codes.copy()
        weights[where], nexts[where], codes[where] = again.weights, again.nexts, again.codes
        return Ends(self.lines, weights, nexts, codes)

    @staticmethod
    def joined(parts: Sequence[Ends], order: Int64s) -> Ends:
        """The parts' agents as one, in ``order`` (positions in the parts joined)."""
        return Ends(
            np.concatenate([p.lines for p in parts])[order],
            np.concatenate([p.weights for p in parts])[order],
            np.concatenate([p.nexts for p in parts])[order],
            np.concatenate([p.codes for p in parts])[order],
        )


NO_ENDS = Ends(
    NO_AGENTS,
    np.zeros((0, 2, 3 * MEASURES), np.int64),
    np.zeros((0, 2), np.int64),
    np.zeros((0, 2), np.int64),
)


def ends(timelines: Timelines, lines: Int64s, spans: Sequence[Range]) -> list[Ends]:
    """Per range, the steps holding its start and its end, of the timelines ``lines``."""
    if not len(lines):
        return [NO_ENDS] * len(spans)
    return _ends_held(timelines, lines, len(spans), _held(timelines, lines, _moments(spans)))


def _moments(spans: Sequence[Range]) -> Int64s:
    """Each range's start and end, in turn."""
    return np.array([m for r in spans for m in (r.lo, r.hi)], np.int64)


def _ends_held(timelines: Timelines, lines: Int64s, ranges: int, h: _Held) -> list[Ends]:
    """Per range, its ``Ends`` from ``h`` (held at each range's start and end in turn)."""
    nexts = np.where(h.begun, _ends(timelines, h.step), _times(timelines, h.step))
    codes = np.where(h.begun & _with_reason(timelines, h.values), h.values[:, REASON], -1)
    shape = len(lines), ranges, 2
    held = h.weights.reshape(*shape, h.weights.shape[1])
    nexts, codes = nexts.reshape(shape), codes.reshape(shape)
    return [Ends(lines, held[:, n], nexts[:, n], codes[:, n]) for n in range(ranges)]


def measured_with_ends(
    timelines: Timelines, lines: Int64s, spans: Sequence[Range]
) -> list[tuple[Measured, Ends]]:
    """Each range's measures and ends (``measure``, ``ends``), of the timelines ``lines``
    (the few agents to measure again): the steps holding the ranges' ends are found
    once for both."""
    if not len(lines):
        return list(
            zip(measure(timelines, lines, spans), ends(timelines, lines, spans), strict=True)
        )
    h = _held(timelines, lines, _moments(spans))
    totals = _up_to(timelines, h, len(lines))
    ids = timelines.keys[lines, 0]
    measured = [
        Measured(ids, totals[:, 2 * n + 1] - totals[:, 2 * n], by_reason)
        for n, by_reason in enumerate(_reasons(timelines, lines, spans))
    ]
    return list(zip(measured, _ends_held(timelines, lines, len(spans), h), strict=True))


def moved(
    timelines: Timelines, measured: Measured, at: Ends, old: Range, new: Range
) -> tuple[Measured, npt.NDArray[np.bool_]]:
    """``measured`` (of range ``old``, agents as in ``at``) moved to the later range
    ``new``, and which agents that does not hold for (to be measured again); their rows
    in the moved measures are not meaningful."""
    d_lo, d_hi = new.lo - old.lo, new.hi - old.hi
    if not d_lo and not d_hi:  # the same moments: each end is where it was
        return measured, np.zeros(len(measured.agents), bool)
    past = _from_origin(timelines, np.array([new.lo, new.hi]))
    again = (at.nexts[:, 0] <= past[0]) | (at.nexts[:, 1] <= past[1])  # an end moved past its step
    ms = measured.ms + at.weights[:, 1] * d_hi - at.weights[:, 0] * d_lo
    reasons, missing = _reasons_moved(timelines, measured, at, d_lo, d_hi)
    return Measured(measured.agents, ms, reasons), again | missing


def _reasons_moved(
    timelines: Timelines, measured: Measured, at: Ends, d_lo: int, d_hi: int
) -> tuple[Reasons, npt.NDArray[np.bool_]]:
    """The reasons' rows with the time the ends' steps away with a reason gain or lose,
    and the agents whose row of that reason is not there (a step that starts at the
    range's end: measured again)."""
    r = measured.reasons
    missing = np.zeros(len(measured.agents), bool)
    moved_by = np.array([-d_lo, d_hi])
    mine, end = np.nonzero((at.codes >= 0) & (moved_by != 0))  # (agent, end) pairs, both ends
    if not len(mine):
        return r, missing
    rank = _ranked(tuple(timelines.texts))[0]
    width = len(rank)
    # The rows are by agent, then reason id as a string: by (agent, rank), ascending.
    keys = np.searchsorted(measured.agents, r.agents) * width + rank[r.codes]
    wanted = mine * width + rank[at.codes[mine, end]]
    rows = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    there = (keys[rows] == wanted) if len(keys) else np.zeros(len(mine), bool)
    missing[mine[~there]] = True
    ms = r.ms.copy()
    gained = at.weights[mine[there], end[there], 2 * MEASURES :] * moved_by[end[there], None]
    np.add.at(ms, rows[there], gained)
    return Reasons(r.agents, r.ids, r.codes, ms), missing


def joined(parts: Sequence[Measured]) -> tuple[Measured, Int64s]:
    """Measures of different agents as one, by agent id, and where each row came from
    (positions in the parts joined). Each part's reasons are of its own agents."""
    agents = np.concatenate([p.agents for p in parts])
    order = np.argsort(agents, kind="stable")
    reasons = _joined_reasons([p.reasons for p in parts])
    return Measured(agents[order], np.concatenate([p.ms for p in parts])[order], reasons), order


def _joined_reasons(parts: Sequence[Reasons]) -> Reasons:
    """Reasons of different agents as one, by agent (an agent's rows from one part)."""
    owners = np.concatenate([p.agents for p in parts])
    by_agent = np.argsort(owners, kind="stable")
    return Reasons(
        owners[by_agent],
        np.concatenate([p.ids for p in parts])[by_agent],
        np.concatenate([p.codes for p in parts])[by_agent],
        np.concatenate([p.ms for p in parts])[by_agent],
    )


def replaced(measured: Measured, again: Measured) -> tuple[Measured, Int64s] | None:
    """``measured`` with the rows of ``again``'s agents replaced by ``again``'s, and their
    positions; None when ``again`` has an agent that ``measured`` has not. Cheaper than
    dropping the agents and joining them again: the order of the rows holds."""
    where = np.searchsorted(measured.agents, again.agents)
    if len(where) and where[-1] >= len(measured.agents):
        return None
    if not np.array_equal(measured.agents[where], again.agents):
        return None
    ms = measured.ms.copy()
    ms[where] = again.ms
    r = measured.reasons
    stale = among(r.agents, again.agents)
    if stale.any() or len(again.reasons.agents):
        r = _joined_reasons([r.take(~stale), again.reasons])
    return Measured(measured.agents, ms, r), where


def without(measured: Measured, rows: npt.NDArray[np.bool_]) -> Measured:
    """``measured`` but the agents at ``rows`` (and their reasons)."""
    r = measured.reasons
    reasons = r.take(~among(r.agents, measured.agents[rows]))
    return Measured(measured.agents[~rows], measured.ms[~rows], reasons)


def _first_last(
    timelines: Timelines, agents: Int64s, spans: Sequence[Range]
) -> tuple[Int64s, Int64s]:
    """(ranges, agents) each: the first and the last step of each agent that holds a
    moment of each range (none when the last is before the first)."""
    bounds = np.array([(r.lo, r.hi - 1) for r in spans], np.int64)
    at = _from_origin(timelines, bounds)
    asked = (agents << ORIGIN_SHIFT)[None, :, None] + at[:, None, :]  # (ranges, agents, 2)
    found = np.searchsorted(timelines.sortable, asked, side="right") - 1
    return np.maximum(found[:, :, 0], timelines.starts[agents][None, :]), found[:, :, 1]


def _steps_between(timelines: Timelines, agents: Int64s, spans: Sequence[Range]) -> Int64s:
    """(steps, 2): the steps of ``agents`` that hold a moment of each range, with the
    range's index (by range, then agent, then time). Found by binary search, so only the
    steps of those times are looked at; every range at once (each costs no more numpy
    calls: the moving ranges of an answer are measured again for a few agents)."""
    first, last = _first_last(timelines, agents, spans)
    first, last = first.ravel(), last.ravel()
    counts = np.maximum(last - first + 1, 0)
    offsets = np.repeat(first - np.cumsum(counts) + counts, counts)
    which = np.repeat(np.arange(len(spans)), counts.reshape(len(spans), len(agents)).sum(axis=1))
    return np.column_stack([np.arange(len(offsets), dtype=np.int64) + offsets, which])


_FEW = 8
"""Agents few enough to look at one by one (a few numpy calls each, on views of
their rows) rather than all at once (more calls, and a copy of every step between)."""


def _reason_steps(
    timelines: Timelines, agents: Int64s, spans: Sequence[Range]
) -> tuple[Int64s, Int64s]:
    """The steps of ``agents`` away with a reason that may overlap each range, and the
    range's index (pairs that do not overlap are dropped by the caller). Of a few
    agents (those a write touched), their steps between the ranges' earliest start and
    latest end are looked at in place, each with every range: an agent may hold
    thousands of steps there (zero-length ones at one moment, in the benchmark) of
    which few or none are away with a reason."""
    if len(agents) > _FEW:
        found = _steps_between(timelines, agents, spans)
        found = found[_with_reason(timelines, timelines.values[found[:, 0]])]
        return found[:, 0], found[:, 1]
    envelope = Range(None, min(r.lo for r in spans), max(r.hi for r in spans))
    first, last = _first_last(timelines, agents, [envelope])
    parts = [
        a + np.flatnonzero(_with_reason(timelines, timelines.values[a : b + 1]))
        for a, b in zip(first[0].tolist(), last[0].tolist(), strict=True)
        if b >= a
    ]
    steps = np.concatenate(parts) if parts else NO_AGENTS
    return np.tile(steps, len(spans)), np.repeat(np.arange(len(spans)), len(steps))


def _with_reason(timelines: Timelines, values: Int64s) -> npt.NDArray[np.bool_]:
    """Which of the steps with ``values`` are away with a reason."""
    texts = timelines.texts
    none = texts.index(NO_REASON) if NO_REASON in texts else -1
    with_one: npt.NDArray[np.bool_] = (values[:, STATE] == AWAY) & (values[:, REASON] != none)
    return with_one


def _reasons(timelines: Timelines, agents: Int64s, spans: Sequence[Range]) -> list[Reasons]:
    """Per range, the away time by reason of ``agents``: measured on their steps away
    with a reason in it."""
    steps, which = _reason_steps(timelines, agents, spans)
    if not len(steps):  # none away with a reason (as most agents a write touches)
        return [_NO_REASONS] * len(spans)
    bounds = np.array([(r.lo, r.hi) for r in spans], np.int64)[which] - timelines.origin
    starts, ends = _times(timelines, steps), _ends(timelines, steps)
    overlap = np.minimum(ends, bounds[:, 1]) - np.maximum(starts, bounds[:, 0])
    inside = overlap > 0
    steps, which, overlap = steps[inside], which[inside], overlap[inside]
    ms = weights(timelines.values[steps])[:, 2 * MEASURES :] * overlap[:, None]
    rank, by_rank, texts = _ranked(tuple(timelines.texts))
    owners = timelines.keys[_owners(timelines, steps), 0]
    (which, owners, ranks), sums = _grouped(
        [which, owners, rank[timelines.values[steps, REASON]]], ms
    )
    kept = sums[:, 0] > 0
    which, owners, codes, sums = which[kept], owners[kept], by_rank[ranks[kept]], sums[kept]
    cuts = np.searchsorted(which, np.arange(len(spans) + 1)).tolist()
    return [
        Reasons(owners[lo:hi], texts[codes[lo:hi]], codes[lo:hi], sums[lo:hi])
        for lo, hi in itertools.pairwise(cuts)
    ]


@functools.lru_cache(maxsize=64)
def _ranked(texts: tuple[str, ...]) -> tuple[Int64s, Int64s, Texts]:
    """Each text's rank in string order (reasons are ordered by their ids as strings),
    the texts' indexes by rank, and the texts as an array. Kept: an account's texts
    change only when a reason is seen for the first time (the arrays are never
    written to)."""
    array = np.array(texts, dtype=object)
    by_rank = np.argsort(array, kind="stable")
    return np.argsort(by_rank), by_rank, array
