"""An in-memory mirror of one store's rollups, for answering queries without SQL.

Per account, every (skill, agent) pair gets an index. Each retained bucket holds the
pairs that had events in it, as a sorted index array beside a ``(rows, 5)`` int64
array of counters, so memory follows the rollup rows and summing a span is a few
hundred vectorized additions however many agents there are. Account totals are also
kept per bucket, so the answer without filters touches five integers per bucket.

The store applies each committed group of rollup deltas here once it is durable and
before acknowledging it, so an acknowledged event is visible at once.
Each account has a lock: a reader never sees half of a group, and a version number
that changes with every change of the account's data (used to cache answers).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from engactivity.query import Selection
from engactivity.slices import Bools, Int64s, Slice, totals_only
from engactivity.store.base import RollupKey
from engactivity.timeframe import Span

_INITIAL_PAIRS = 16

_versions = itertools.count(1)
"""Versions are drawn from one counter for the whole process, so a version is never
reused, not even by the fresh copy made when the store is reloaded."""


FragmentLookup = Callable[[int, int], str | None]
"""(interval index, stamp) -> the interval's rendered text if it is cached."""


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything one answer needs, taken under the account's lock."""

    version: int
    whole: Slice
    intervals: list[Slice | str] | None
    """Per interval, newest first: its data, or its text when the lookup had it."""
    stamps: list[int] | None = None
    """Per interval: a number that changes whenever any of its buckets changes."""


class AccountRollups:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = 0
        self._pair_index: dict[tuple[int, int, int], int] = {}
        self._skill: Int64s = np.zeros(_INITIAL_PAIRS, np.int64)
        self._agent: Int64s = np.zeros(_INITIAL_PAIRS, np.int64)
        self._has_agent: Bools = np.zeros(_INITIAL_PAIRS, np.bool_)
        self._pairs = 0
        self._bucket_versions: dict[int, int] = {}
        self._epoch = 0
        """Changes when buckets are dropped (part of every interval's stamp)."""
        self._buckets: dict[int, tuple[Int64s, Int64s]] = {}
        """bucket -> (sorted pair indexes, their counters)."""
        self._totals: dict[int, list[int]] = {}

    def _index(self, skill: int, has_agent: int, agent: int) -> int:
        key = (skill, has_agent, agent)
        index = self._pair_index.get(key)
        if index is None:
            index = self._pairs
            if index == len(self._skill):
                grow = len(self._skill)
                self._skill = np.concatenate((self._skill, np.zeros(grow, np.int64)))
                self._agent = np.concatenate((self._agent, np.zeros(grow, np.int64)))
                self._has_agent = np.concatenate((self._has_agent, np.zeros(grow, np.bool_)))
            self._skill[index] = skill
            self._agent[index] = agent
            self._has_agent[index] = bool(has_agent)
            self._pair_index[key] = index
            self._pairs += 1
        return index

    def apply(self, rows: Iterable[tuple[RollupKey, Sequence[int]]]) -> None:
        """Add rollup deltas (each (bucket, pair) at most once per call).

        The rows are gathered into three arrays and sorted by bucket and pair once, so
        each bucket then costs a few vector operations however many rows it has: a
        batch of a small account can touch dozens of buckets.
        """
        buckets: list[int] = []
        pairs: list[int] = []
        values: list[int] = []
        with self.lock:
            known = self._pair_index.get
            for (bucket, skill, has_agent, agent), counters in rows:
                index = known((skill, has_agent, agent))
                if index is None:
                    index = self._index(skill, has_agent, agent)
                buckets.append(bucket)
                pairs.append(index)
                values.extend(counters)
            if not buckets:
                return
            bucket_of = np.array(buckets, np.int64)
            pair_of = np.array(pairs, np.int64)
            order = np.lexsort((pair_of, bucket_of))
            bucket_of, pair_of = bucket_of[order], pair_of[order]
            delta = np.array(values, np.int64).reshape(-1, 5)[order]
            starts = np.flatnonzero(np.diff(bucket_of, prepend=bucket_of[0] - 1))
            sums = np.add.reduceat(delta, starts, axis=0).tolist()
            ends = [*starts[1:].tolist(), len(bucket_of)]
            version = next(_versions)
            for bucket, start, end, bucket_sum in zip(
                bucket_of[starts].tolist(), starts.tolist(), ends, sums, strict=True
            ):
                total = self._totals.setdefault(bucket, [0, 0, 0, 0, 0])
                for i, value in enumerate(bucket_sum):
                    total[i] += value
                self._add_to_bucket(bucket, pair_of[start:end], delta[start:end])
                self._bucket_versions[bucket] = version
            self.version = version

    def _add_to_bucket(self, bucket: int, pairs: Int64s, delta: Int64s) -> None:
        """Add counters to the bucket's pairs; ``pairs`` is sorted, each pair at most once."""
        held = self._buckets.get(bucket)
        if held is None:
            self._buckets[bucket] = (pairs.copy(), delta.copy())
            return
        known, counts = held
        at = np.searchsorted(known, pairs)
        found = at < len(known)
        found[found] = known[at[found]] == pairs[found]
        counts[at[found]] += delta[found]
        fresh = ~found
        if fresh.any():
            # New pairs go in at their sorted places (np.insert is stable for equal slots).
            self._buckets[bucket] = (
                np.insert(known, at[fresh], pairs[fresh]),
                np.insert(counts, at[fresh], delta[fresh], axis=0),
            )

    def drop_before(self, bucket: int) -> None:
        with self.lock:
            old = [b for b in self._buckets if b < bucket]
            for b in old:
                del self._buckets[b]
                del self._totals[b]
                del self._bucket_versions[b]
            if old:
                self.version = self._epoch = next(_versions)

    def read(
        self,
        span: Span,
        skills: Selection,
        agents: Selection,
        lookup: FragmentLookup | None = None,
    ) -> Reading:
        count = span.interval_count if span.interval_ms is not None else 1
        with self.lock:
            if skills is None and agents is None:
                return self._read_totals(span, count)
            pairs = self._pairs
            selected = np.ones(pairs, np.bool_)
            if isinstance(skills, frozenset):
                selected &= np.isin(self._skill[:pairs], np.fromiter(skills, np.int64))
            if agents is not None:
                selected &= self._has_agent[:pairs]
                if isinstance(agents, frozenset):
                    selected &= np.isin(self._agent[:pairs], np.fromiter(agents, np.int64))
            skill = self._skill[:pairs]
            agent = self._agent[:pairs]
            has_agent = self._has_agent[:pairs]

            def take(block: Int64s) -> Slice:
                rows = np.flatnonzero(selected & block.any(axis=1))
                return Slice(skill[rows], agent[rows], has_agent[rows], block[rows])

            stamps = [self._epoch] * count
            for bucket in range(span.first, span.last + 1):
                k = span.interval_of(bucket)
                stamps[k] = max(stamps[k], self._bucket_versions.get(bucket, 0))
            # An interval whose text is cached (under the same stamp, so the same data)
            # is not cut out and rendered again; its buckets still count in the whole.
            pieces: list[Slice | str | None] = [
                lookup(k, stamp) if lookup is not None and span.interval_ms is not None else None
                for k, stamp in enumerate(stamps)
            ]
            whole = np.zeros((pairs, 5), np.int64)
            current = whole if pieces[0] is not None else np.zeros((pairs, 5), np.int64)
            k = 0
            for bucket in range(span.last, span.first - 1, -1):
                if span.interval_of(bucket) != k:
                    if pieces[k] is None:
                        pieces[k] = take(current)
                        whole += current
                    k += 1
                    current = whole if pieces[k] is not None else np.zeros((pairs, 5), np.int64)
                held = self._buckets.get(bucket)
                if held is not None:
                    current[held[0]] += held[1]  # each pair once per bucket
            if pieces[k] is None:
                pieces[k] = take(current)
                whole += current
            version = self.version
        done = [piece for piece in pieces if piece is not None]
        assert len(done) == count
        if span.interval_ms is None:
            assert isinstance(done[0], Slice)
            return Reading(version, done[0], None)
        return Reading(version, take(whole), done, stamps)

    def _read_totals(self, span: Span, count: int) -> Reading:
        totals = [[0, 0, 0, 0, 0] for _ in range(count)]
        for bucket in range(span.first, span.last + 1):
            bucket_total = self._totals.get(bucket)
            if bucket_total is not None:
                acc = totals[span.interval_of(bucket)]
                for i in range(5):
                    acc[i] += bucket_total[i]
        pieces: list[Slice | str] = [totals_only(t) for t in totals]
        whole = totals_only([sum(column) for column in zip(*totals, strict=True)])
        return Reading(self.version, whole, pieces if span.interval_ms is not None else None)


class MemoryRollups:
    """The rollups of every account of a store."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountRollups] = {}
        self._lock = threading.Lock()

    def account(self, account_id: str) -> AccountRollups:
        found = self._accounts.get(account_id)
        if found is None:
            with self._lock:
                found = self._accounts.setdefault(account_id, AccountRollups())
        return found

    def version(self, account_id: str) -> int:
        found = self._accounts.get(account_id)
        return 0 if found is None else found.version

    def read(
        self,
        account_id: str,
        span: Span,
        skills: Selection,
        agents: Selection,
        lookup: FragmentLookup | None = None,
    ) -> Reading:
        found = self._accounts.get(account_id)
        if found is None:
            found = AccountRollups()  # an account with no data: zero answers
        return found.read(span, skills, agents, lookup)

    def drop_before(self, bucket: int) -> None:
        for account in list(self._accounts.values()):
            account.drop_before(bucket)
