"""Reading a span of engagement rollups from an account's snapshot (under its lock).

What comes out is a Slice per interval (and one for the whole span): the summed
counters of each selected (skill, agent) pair that had events there, as parallel
arrays, ready to be rendered outside the lock. An interval whose rendered text is
already in the fragment cache, under the same stamp (so the same data), is not cut
out again; its buckets still count in the whole span.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engactivity.core.params import Selection
from engactivity.core.timeframe import BUCKET_MS, Span
from engactivity.methods.method import Fragments
from engactivity.methods.spans import interval_buckets, span_rows, stamp
from engactivity.store.memory import BucketRows, Int64s

Bools = npt.NDArray[np.bool_]
WIDTH = 5
"""The five counters (METRIC_KEYS)."""


@dataclass(frozen=True, slots=True)
class Slice:
    skills: Int64s
    """Skill id of each row."""
    agents: Int64s
    """Agent id of each row (0 where ``has_agent`` is False)."""
    has_agent: Bools
    sums: Int64s
    """Shape (rows, 5): the five counters of each row, in METRIC_KEYS order."""
    known_totals: list[int] | None = None
    """The column sums when already known (answers without filters carry only these)."""

    @property
    def totals(self) -> list[int]:
        if self.known_totals is not None:
            return self.known_totals
        return [int(v) for v in self.sums.sum(axis=0)] if len(self.sums) else [0] * WIDTH


_NO_IDS = np.zeros(0, np.int64)
_NO_FLAGS = np.zeros(0, np.bool_)
_NO_SUMS = np.zeros((0, WIDTH), np.int64)


def totals_only(totals: list[int]) -> Slice:
    """A Slice that carries just account totals: what an answer without filters needs."""
    return Slice(_NO_IDS, _NO_IDS, _NO_FLAGS, _NO_SUMS, totals)


@dataclass(frozen=True, eq=False)
class Dense:
    """The whole span's sums of every pair of the table, as one answer read them."""

    owner: weakref.ref[BucketRows]
    """The table the pairs are numbered in."""
    sums: Int64s
    """Shape (pairs, 5), by the table's pair index."""
    selected: Bools
    """Which pairs the question selects."""
    skills: Int64s
    """The skill of each pair."""
    agents: Int64s
    """The agent of each pair (0 where it has none)."""
    has_agent: Bools


@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer takes from the snapshot."""

    whole: Slice
    intervals: list[Slice | bytes] | None
    """Per interval, newest first: its data, or its text when the cache had it."""
    stamps: list[int] | None = None
    """Per interval: a number that changes whenever any of its buckets changes."""
    dense: Dense | None = None
    """The whole span's sums of every pair (answers with filters)."""
    newest: Dense | None = None
    """The newest interval's sums of every pair, when it is read afresh."""
    interval_totals: Int64s | None = None
    """Answers without filters, with intervals: each interval's totals, newest first."""


def fragment_key(skills: Selection, agents: Selection, span: Span, k: int) -> Hashable:
    """What fixes interval k's content: the filters and its buckets (the oldest
    interval also depends on where the span starts)."""
    oldest = span.first if k == span.interval_count - 1 else None
    return (skills, agents, span.end_ms, span.interval_ms, k, oldest)


def read_totals(rows: BucketRows, span: Span) -> Reading:
    """Answers without filters: the account's totals per bucket, summed by interval
    (a few vector operations however many intervals: up to 289)."""
    empty = [0] * WIDTH
    buckets = range(span.first, span.last + 1)
    per_bucket = np.array([rows.totals.get(b, empty) for b in buckets], np.int64)
    whole = totals_only(per_bucket.sum(axis=0).tolist())
    if span.interval_ms is None:
        return Reading(whole, None)
    starts = np.arange(span.first, span.last + 1, dtype=np.int64) * BUCKET_MS
    interval_of = (span.end_ms - starts - 1) // span.interval_ms  # Span.interval_of
    by_interval = np.zeros((span.interval_count, WIDTH), np.int64)
    np.add.at(by_interval, interval_of, per_bucket)
    return Reading(whole, None, interval_totals=by_interval)


def _selected(rows: BucketRows, skills: Selection, agents: Selection) -> Bools:
    """Which keys (skill, agent pairs) the filters select."""
    selected = np.ones(rows.key_count, np.bool_)
    if isinstance(skills, frozenset):
        selected &= np.isin(rows.column(0), np.fromiter(skills, np.int64))
    if agents is not None:
        selected &= rows.column(1) != 0
        if isinstance(agents, frozenset):
            selected &= np.isin(rows.column(2), np.fromiter(agents, np.int64))
    return selected


def read_pairs(
    rows: BucketRows,
    span: Span,
    skills: Selection,
    agents: Selection,
    fragments: Fragments,
) -> Reading:
    """Answers with filters: the selected pairs' sums per interval and over the span."""
    selected = _selected(rows, skills, agents)
    skill, agent, has_agent = rows.column(0), rows.column(2), rows.column(1) != 0

    def take(sums: Int64s) -> Slice:
        keep = np.flatnonzero(selected & sums.any(axis=1))
        return Slice(skill[keep], agent[keep], has_agent[keep], sums[keep])

    sums = span_rows(rows, span.first, span.last, fragments).values
    whole = take(sums)
    dense = Dense(weakref.ref(rows), sums, selected, skill, agent, has_agent)
    if span.interval_ms is None:
        return Reading(whole, None, dense=dense)
    pieces: list[Slice | bytes] = []
    stamps: list[int] = []
    newest = None
    for k, (first, last) in enumerate(interval_buckets(span)):
        stamps.append(stamp(rows, first, last))
        text = fragments.get(fragment_key(skills, agents, span, k), stamps[-1], bytes)
        if text is None:
            sums = span_rows(rows, first, last, fragments, keep_older=k == 0).values
            pieces.append(take(sums))
            if k == 0:
                newest = Dense(weakref.ref(rows), sums, selected, skill, agent, has_agent)
        else:
            pieces.append(text)
    return Reading(whole, pieces, stamps, dense, newest)
