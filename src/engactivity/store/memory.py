"""The store's memory: every retained row of an account's tables, arranged to read spans
fast.

Per account and table, every distinct key (e.g. a (skill, agent) pair) gets an index.
Each bucket holds the keys that had events in it, as a sorted index array beside a
``(rows, width)`` int64 array of values, so memory follows the number of rows, as in
the database, and summing a span is a few hundred vector additions however many keys
there are. The table's totals are also kept per bucket, so an answer without filters
touches a handful of integers per bucket.

The store applies each committed group of deltas here once it is durable and before
acknowledging it, so an acknowledged event is visible at once. An account's tables
share one lock: a reader never sees half of a group. Every change gives the changed
table a new version number, drawn from one counter for the whole process, so a
version is never reused (not even by a fresh copy loaded after a reload); answers
are cached by it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from engactivity.core.timeframe import BUCKET_MS
from engactivity.store.tables import (
    BucketTable,
    LatestTable,
    RowKey,
    Table,
    TimelineTable,
    newer,
)
from engactivity.store.timelines import TimelineRows
from engactivity.store.versions import new_version

Int64s = npt.NDArray[np.int64]

_INITIAL_KEYS = 16

# What Python objects cost beside the arrays, measured with tracemalloc on the standard
# day (docs/configuration.md): per bucket (two array headers, its totals, three dict
# entries), per key (its tuple and index entry), per latest sample, per account.
_BUCKET_BYTES = 700
_KEY_BYTES = 200
_SAMPLE_BYTES = 400
ACCOUNT_BYTES = 4096
_UFUNCS = {"sum": np.add, "min": np.minimum, "max": np.maximum}


class BucketRows:
    """One account's rows of one bucket table. Guarded by the account's lock."""

    def __init__(self, table: BucketTable) -> None:
        self.table = table
        self._sums_only = table.subtractable
        merges = np.array(table.merges)
        self._by_merge = {m: np.flatnonzero(merges == m) for m in ("sum", "min", "max")}
        self.version = 0
        """Changes with every change of these rows (0: never had any)."""
        self.epoch = 0
        """Changes when buckets are dropped (a part of every stamp of these rows)."""
        self.key_count = 0
        self.rows_held = 0
        """Rows over every bucket (for the memory estimate)."""
        self.bucket_versions: dict[int, int] = {}
        """bucket -> the version of its last change."""
        self.buckets: dict[int, tuple[Int64s, Int64s]] = {}
        """bucket -> (sorted key indexes, their values)."""
        self.totals: dict[int, list[int]] = {}
        """bucket -> the sums of its values over every key."""
        self._index: dict[RowKey, int] = {}
        self._columns = np.zeros((len(table.keys), _INITIAL_KEYS), np.int64)

    def column(self, i: int) -> Int64s:
        """Key column ``i`` of every key index (e.g. the skill of each pair)."""
        return self._columns[i, : self.key_count]

    def _add_key(self, key: RowKey) -> int:
        index = self.key_count
        if index == self._columns.shape[1]:
            self._columns = np.concatenate((self._columns, np.zeros_like(self._columns)), axis=1)
        self._columns[:, index] = key
        self._index[key] = index
        self.key_count += 1
        return index

    def apply(self, rows: Iterable[tuple[RowKey, Sequence[int]]]) -> None:
        """Merge row deltas (bucket first in each key; a row may come more than once).

        The rows are gathered into arrays and sorted by bucket and key once, so each
        bucket then costs a few vector operations however many rows it has: a batch
        of a small account can touch dozens of buckets.
        """
        buckets: list[int] = []
        keys: list[int] = []
        values: list[int] = []
        known = self._index.get
        for key, delta in rows:
            index = known(key[1:])
            if index is None:
                index = self._add_key(key[1:])
            buckets.append(key[0])
            keys.append(index)
            values.extend(delta)
        if buckets:
            self._apply_arrays(
                np.array(buckets, np.int64),
                np.array(keys, np.int64),
                np.array(values, np.int64).reshape(-1, self.table.width),
            )

    def _apply_arrays(self, bucket_of: Int64s, key_of: Int64s, delta: Int64s) -> None:
        order = np.lexsort((key_of, bucket_of))
        bucket_of, key_of, delta = bucket_of[order], key_of[order], delta[order]
        same = (bucket_of[1:] == bucket_of[:-1]) & (key_of[1:] == key_of[:-1])
        if same.any():  # a row given twice: one row with them merged
            firsts = np.flatnonzero(np.concatenate(([True], ~same)))
            bucket_of, key_of = bucket_of[firsts], key_of[firsts]
            delta = self.merge_runs(delta, firsts)
        starts = np.flatnonzero(np.diff(bucket_of, prepend=bucket_of[0] - 1))
        merged = self.merge_runs(delta, starts).tolist()
        ends = [*starts[1:].tolist(), len(bucket_of)]
        version = new_version()
        for bucket, start, end, bucket_total in zip(
            bucket_of[starts].tolist(), starts.tolist(), ends, merged, strict=True
        ):
            total = self.totals.get(bucket)
            if total is None:
                self.totals[bucket] = bucket_total
            else:
                self._merge_lists(total, bucket_total)
            self._add_to_bucket(bucket, key_of[start:end], delta[start:end])
            self.bucket_versions[bucket] = version
        self.version = version

    def merge_runs(self, values: Int64s, starts: Int64s) -> Int64s:
        """Each run of rows from ``starts`` merged into one row, by the table's merges."""
        if self._sums_only:
            return np.add.reduceat(values, starts, axis=0)
        out = np.empty((len(starts), values.shape[1]), np.int64)
        for merge, ufunc in _UFUNCS.items():
            columns = self._by_merge[merge]
            if len(columns):
                out[:, columns] = ufunc.reduceat(values[:, columns], starts, axis=0)
        return out

    def merge_by(self, groups: Int64s, values: Int64s, count: int) -> tuple[Int64s, Int64s]:
        """Rows of equal ``groups`` (each in [0, count)) merged into one by the table's
        merges: the distinct groups, ascending, and their merged rows."""
        if count > 2 * len(groups) + 1024:  # sparse: number only the groups present
            present, groups = np.unique(groups, return_inverse=True)
            found, rows = self.merge_by(groups, values, len(present))
            return present[found], rows
        out = np.array(self.table.empty_row(), np.int64)[:, None].repeat(count, axis=1)
        for column, merge in enumerate(self.table.merges):
            _UFUNCS[merge].at(out[column], groups, values[:, column])
        found = np.flatnonzero(np.bincount(groups, minlength=count))
        return found, out[:, found].T

    def _merge_into(self, into: Int64s, at: Any, delta: Int64s) -> None:
        """Merge ``delta`` into the rows ``at`` of ``into`` (each row at most once)."""
        if self._sums_only:
            into[at] += delta
            return
        for merge, ufunc in _UFUNCS.items():
            columns = self._by_merge[merge]
            if len(columns):
                rows = np.ix_(np.atleast_1d(at), columns)
                into[rows] = ufunc(into[rows], delta[:, columns])

    def _merge_lists(self, total: list[int], add: list[int]) -> None:
        for i, (merge, value) in enumerate(zip(self.table.merges, add, strict=True)):
            if merge == "sum":
                total[i] += value
            elif merge == "min":
                total[i] = min(total[i], value)
            else:
                total[i] = max(total[i], value)

    def _add_to_bucket(self, bucket: int, keys: Int64s, delta: Int64s) -> None:
        """Merge values into the bucket's keys; ``keys`` is sorted, each key at most once."""
        held = self.buckets.get(bucket)
        if held is None:
            self.buckets[bucket] = (keys.copy(), delta.copy())
            self.rows_held += len(keys)
            return
        known, values = held
        at = np.searchsorted(known, keys)
        found = at < len(known)
        found[found] = known[at[found]] == keys[found]
        self._merge_into(values, at[found], delta[found])
        fresh = ~found
        if fresh.any():
            self.rows_held += int(fresh.sum())
            # New keys go in at their sorted places (np.insert is stable for equal slots).
            self.buckets[bucket] = (
                np.insert(known, at[fresh], keys[fresh]),
                np.insert(values, at[fresh], delta[fresh], axis=0),
            )

    def nbytes(self) -> int:
        """An estimate of the memory these rows take (cheap: from counters)."""
        row = 8 * (1 + self.table.width)
        return (
            self.rows_held * row
            + len(self.buckets) * (_BUCKET_BYTES + row)
            + self.key_count * _KEY_BYTES
            + self._columns.nbytes
        )

    def drop_before(self, bucket: int) -> None:
        old = [b for b in self.buckets if b < bucket]
        for b in old:
            self.rows_held -= len(self.buckets[b][0])
            del self.buckets[b]
            del self.totals[b]
            del self.bucket_versions[b]
        if old:
            self.version = self.epoch = new_version()


class LatestRows:
    """One account's rows of one latest table: the newest sample of each key."""

    def __init__(self, table: LatestTable) -> None:
        self.table = table
        self.version = 0
        self.samples: dict[RowKey, list[Any]] = {}
        """key -> [time, event key, values...]."""

    def apply(self, rows: Iterable[tuple[RowKey, Sequence[Any]]]) -> None:
        changed = False
        for key, sample in rows:
            if newer(list(sample), self.samples.get(key)):
                self.samples[key] = list(sample)
                changed = True
        if changed:
            self.version = new_version()

    def nbytes(self) -> int:
        """An estimate of the memory these rows take."""
        return len(self.samples) * _SAMPLE_BYTES

    def drop_before(self, bucket: int) -> None:
        old = [key for key, sample in self.samples.items() if sample[0] < bucket * BUCKET_MS]
        for key in old:
            del self.samples[key]
        if old:
            self.version = new_version()


TableRows = BucketRows | LatestRows | TimelineRows


def rows_of(table: Table) -> TableRows:
    """An account's empty rows of ``table``."""
    if isinstance(table, BucketTable):
        return BucketRows(table)
    if isinstance(table, LatestTable):
        return LatestRows(table)
    return TimelineRows(table)


class AccountState:
    """Everything the store keeps in memory for one account: its rows of each table."""

    def __init__(self, tables: Sequence[Table]) -> None:
        self.lock = threading.Lock()
        """Held while the rows change, and by readers (``Store.snapshot``)."""
        self.tables: dict[str, TableRows] = {table.name: rows_of(table) for table in tables}
        self.db_version = -1
        """The database version these rows reflect, on an engine that keeps one (-1:
        not loaded yet)."""

    @property
    def version(self) -> int:
        """Changes whenever any of the account's rows change."""
        return max((rows.version for rows in self.tables.values()), default=0)

    def version_of(self, tables: Iterable[Table]) -> int:
        """Changes whenever the rows of any of ``tables`` change, and only then: each
        table's version only grows, drawn from one counter, so the newest of them moves
        exactly when one of them does."""
        return max((self.tables[table.name].version for table in tables), default=0)

    def rows(self, table: BucketTable) -> BucketRows:
        found = self.tables[table.name]
        assert isinstance(found, BucketRows)
        return found

    def latest(self, table: LatestTable) -> LatestRows:
        found = self.tables[table.name]
        assert isinstance(found, LatestRows)
        return found

    def timeline(self, table: TimelineTable) -> TimelineRows:
        found = self.tables[table.name]
        assert isinstance(found, TimelineRows)
        return found

    def nbytes(self) -> int:
        """An estimate of the memory the account takes (read under the lock: a few
        counters per table, so it is redone after every change)."""
        return ACCOUNT_BYTES + sum(rows.nbytes() for rows in self.tables.values())

    def apply(self, deltas: Sequence[Iterable[tuple[RowKey, Sequence[Any]]]]) -> None:
        """Merge one batch's deltas, one collection per table in table order (under the lock)."""
        for rows, table_deltas in zip(self.tables.values(), deltas, strict=True):
            rows.apply(table_deltas)

    def drop_before(self, bucket: int) -> None:
        with self.lock:
            for rows in self.tables.values():
                rows.drop_before(bucket)


def gather(rows: BucketRows, buckets: range) -> tuple[Int64s, Int64s, Int64s]:
    """Every row of ``buckets``, as (bucket, key index, values) arrays."""
    held = [(b, rows.buckets[b]) for b in buckets if b in rows.buckets]
    if not held:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros((0, rows.table.width), np.int64)
    return (
        np.concatenate([np.full(len(keys), b, np.int64) for b, (keys, _) in held]),
        np.concatenate([keys for _, (keys, _) in held]),
        np.concatenate([values for _, (_, values) in held]),
    )
