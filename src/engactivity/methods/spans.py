"""A table's rows merged over a span of buckets, from kept parts (under the lock).

Summing a day of buckets row by row costs hundreds of vector operations per answer,
and a live account's data changes between nearly every two polls, almost always in
its newest bucket. So two kinds of merged rows are kept in the fragment cache, each
under a stamp that changes whenever any of its buckets changes:

- a span's older buckets (all but the newest): a write to the newest bucket leaves
  them as they were, so the answer after it is the kept rows plus one bucket;
- each aligned block of :data:`BLOCK` buckets: when the older buckets did change (a
  new bucket began, the span moved on, a late event), they are merged again from
  the kept blocks (a day is 24) and the buckets at the two ends.

The result is dense over the table's key indexes: every key's merged values (the
table's empty row where it had none) and whether it had any row at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from engactivity.core.timeframe import Span
from engactivity.methods.method import Fragments
from engactivity.store.memory import BucketRows, Int64s

BLOCK = 12
"""Buckets per kept block: an hour, so hourly intervals are whole blocks."""

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Merged:
    """A table's rows over some buckets, per key index (dense)."""

    values: Int64s
    """Shape (keys, width): each key's merged values; the empty row for a key without any."""
    seen: Bools
    """Whether each key had a row in any of the buckets."""

    def __len__(self) -> int:
        """What it costs the fragment cache, in bytes."""
        return self.values.nbytes + self.seen.nbytes


@dataclass(frozen=True, slots=True)
class Reduced:
    """A block's rows as a method reduced them (see ``span_reduced``)."""

    values: Int64s

    def __len__(self) -> int:
        return self.values.nbytes


def span_rows(
    rows: BucketRows, first: int, last: int, fragments: Fragments, keep_older: bool = True
) -> Merged:
    """The rows of buckets ``first..last`` (inclusive) merged per key (a new array).

    ``keep_older``: keep the older buckets merged, for a span that will be asked for
    again after writes (not for the older intervals of an answer, whose text is kept).
    """
    if not keep_older:
        return _from_blocks(rows, first, last, fragments)
    out = _empty(rows, rows.key_count)
    if last > first:
        older = _kept(rows, first, last - 1, fragments, ("older", rows.table.name))
        keys = len(older.seen)
        out.values[:keys] = older.values
        out.seen[:keys] = older.seen
    _merge_buckets(rows, out, range(max(first, last), last + 1))
    return out


def _kept(rows: BucketRows, first: int, last: int, fragments: Fragments, kind: Hashable) -> Merged:
    """The rows of ``first..last`` merged, kept under their stamp: the older buckets of a
    span, which a write to the newest leaves as they were."""
    part = (kind, first, last)
    kept_stamp = stamp(rows, first, last)
    found = fragments.get(part, kept_stamp, Merged)
    if found is None:
        found = _from_blocks(rows, first, last, fragments)
        fragments.put(part, kept_stamp, found)
    return found


def _from_blocks(rows: BucketRows, first: int, last: int, fragments: Fragments) -> Merged:
    """The rows of ``first..last`` merged: whole blocks as kept, the ends bucket by bucket."""
    out = _empty(rows, rows.key_count)
    bucket = first
    while bucket <= last:
        if bucket % BLOCK == 0 and bucket + BLOCK - 1 <= last:
            part = ("block", rows.table.name)
            block = _kept_block(rows, bucket, fragments, part)
            _merge(rows, out.values[: len(block.seen)], slice(None), block.values)
            out.seen[: len(block.seen)] |= block.seen
            bucket += BLOCK
        else:
            _merge_buckets(rows, out, (bucket,))
            bucket += 1
    return out


def _kept_block(rows: BucketRows, first: int, fragments: Fragments, kind: Hashable) -> Merged:
    part = (kind, first)
    block_stamp = stamp(rows, first, first + BLOCK - 1)
    found = fragments.get(part, block_stamp, Merged)
    if found is None:
        found = _empty(rows, rows.key_count)
        _merge_buckets(rows, found, range(first, first + BLOCK))
        fragments.put(part, block_stamp, found)
    return found


Reduce = Callable[[Int64s, Int64s], Int64s]
"""Rows (key indexes, values) to a small vector; it must add up: reducing two sets of
rows and adding the results is the same as reducing them together."""


def span_reduced(
    rows: BucketRows, first: int, last: int, fragments: Fragments, part: Hashable, reduce: Reduce
) -> Int64s:
    """``reduce`` of the rows of buckets ``first..last`` (a table of sums only), kept
    like ``span_rows`` keeps rows (under ``part``, which names the reduction): for a
    question whose answer is much smaller than the table (e.g. a histogram of a few
    ranges over many thousands of keys)."""
    assert rows.table.subtractable
    newest = reduce(*_rows_of(rows, range(max(first, last), last + 1)))
    if last == first:
        return newest
    older_part = (part, "older", first, last - 1)
    older_stamp = stamp(rows, first, last - 1)
    older = fragments.get(older_part, older_stamp, Reduced)
    if older is None:
        older = Reduced(_reduced_from_blocks(rows, first, last - 1, fragments, part, reduce))
        fragments.put(older_part, older_stamp, older)
    total: Int64s = older.values + newest
    return total


def _reduced_from_blocks(
    rows: BucketRows, first: int, last: int, fragments: Fragments, part: Hashable, reduce: Reduce
) -> Int64s:
    results: list[Int64s] = []
    loose: list[int] = []
    bucket = first
    while bucket <= last:
        if bucket % BLOCK == 0 and bucket + BLOCK - 1 <= last:
            block_stamp = stamp(rows, bucket, bucket + BLOCK - 1)
            found = fragments.get((part, bucket), block_stamp, Reduced)
            if found is None:
                found = Reduced(reduce(*_rows_of(rows, range(bucket, bucket + BLOCK))))
                fragments.put((part, bucket), block_stamp, found)
            results.append(found.values)
            bucket += BLOCK
        else:
            loose.append(bucket)
            bucket += 1
    results.append(reduce(*_rows_of(rows, loose)))
    total: Int64s = np.sum(results, axis=0, dtype=np.int64)
    return total


def stamp(rows: BucketRows, first: int, last: int) -> int:
    """A number that changes whenever any of buckets ``first..last`` changes (or goes)."""
    versions = map(rows.bucket_versions.get, range(first, last + 1), repeat(0))
    return max(rows.epoch, max(versions, default=0))


@functools.lru_cache(maxsize=256)
def interval_buckets(span: Span) -> tuple[tuple[int, int], ...]:
    """The first and last bucket of each interval, newest first (kept per span: a loop
    over every bucket, asked again by each answer of the same moment)."""
    bounds: list[tuple[int, int]] = []
    for bucket in range(span.last, span.first - 1, -1):
        if span.interval_of(bucket) == len(bounds):
            bounds.append((bucket, bucket))
        else:
            bounds[-1] = (bucket, bounds[-1][1])
    return tuple(bounds)


def _merge_buckets(rows: BucketRows, into: Merged, buckets: Iterable[int]) -> None:
    for bucket in buckets:
        held = rows.buckets.get(bucket)
        if held is not None:
            _merge(rows, into.values, held[0], held[1])
            into.seen[held[0]] = True


def _rows_of(rows: BucketRows, buckets: Iterable[int]) -> tuple[Int64s, Int64s]:
    """The key indexes and values of every row of ``buckets``."""
    held = [rows.buckets[b] for b in buckets if b in rows.buckets]
    if not held:
        return np.zeros(0, np.int64), np.zeros((0, rows.table.width), np.int64)
    return np.concatenate([k for k, _ in held]), np.concatenate([v for _, v in held])


def _empty(rows: BucketRows, keys: int) -> Merged:
    empty = np.array(rows.table.empty_row(), np.int64)
    return Merged(np.tile(empty, (keys, 1)), np.zeros(keys, np.bool_))


def _merge(rows: BucketRows, into: Int64s, at: Int64s | slice, add: Int64s) -> None:
    """Merge ``add`` into the rows ``at`` of ``into`` (each row at most once)."""
    if rows.table.subtractable:
        into[at] += add
        return
    # One vector operation per kind of merge (a table declares its columns by kind).
    for ufunc, columns in _column_groups(rows.table.merges):
        if isinstance(at, slice) and isinstance(columns, slice):
            cells = into[at, columns]  # a view: merged in place
            ufunc(cells, add[:, columns], out=cells)
        else:
            into[at, columns] = ufunc(into[at, columns], add[:, columns])


@functools.cache
def _column_groups(merges: tuple[str, ...]) -> list[tuple[np.ufunc, slice | Int64s]]:
    """The columns of each kind of merge: a slice when they are side by side."""
    groups: list[tuple[np.ufunc, slice | Int64s]] = []
    for merge, ufunc in (("sum", np.add), ("min", np.minimum), ("max", np.maximum)):
        columns = np.flatnonzero(np.array(merges) == merge)
        if len(columns) and columns[-1] - columns[0] == len(columns) - 1:
            groups.append((ufunc, slice(int(columns[0]), int(columns[-1]) + 1)))
        elif len(columns):
            groups.append((ufunc, columns))
    return groups
