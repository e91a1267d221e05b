"""A table's rows merged over a span of buckets, from kept hourly blocks (under the lock).

Summing a day of buckets row by row costs hundreds of vector operations per answer,
and a live account's data changes between nearly every two polls. So the merged rows
of each aligned block of :data:`BLOCK` buckets are kept in the fragment cache, under a
stamp that changes whenever any bucket of the block changes; a span is then its whole
blocks (one lookup each) plus the buckets at its two ends. A write touches one bucket,
so after it one block is merged again: the one it landed in, if the span holds it
whole (the newest buckets of a span ending now are usually at its end, read bucket by
bucket anyway).

The result is dense over the table's key indexes: every key's merged values (the
table's empty row where it had none) and whether it had any row at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

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


def span_rows(rows: BucketRows, first: int, last: int, fragments: Fragments) -> Merged:
    """The rows of buckets ``first..last`` (inclusive) merged per key."""
    out = _empty(rows, rows.key_count)
    bucket = first
    while bucket <= last:
        if bucket % BLOCK == 0 and bucket + BLOCK - 1 <= last:
            block = _block(rows, bucket // BLOCK, fragments)
            _merge(rows, out.values[: len(block.seen)], slice(None), block.values)
            out.seen[: len(block.seen)] |= block.seen
            bucket += BLOCK
            continue
        held = rows.buckets.get(bucket)
        if held is not None:
            _merge(rows, out.values, held[0], held[1])
            out.seen[held[0]] = True
        bucket += 1
    return out


Reduce = Callable[[Int64s, Int64s], Int64s]
"""Rows (key indexes, values) to a small vector; it must add up: reducing two sets of
rows and adding the results is the same as reducing them together."""


def span_reduced(
    rows: BucketRows, first: int, last: int, fragments: Fragments, part: Hashable, reduce: Reduce
) -> Int64s:
    """``reduce`` of the rows of buckets ``first..last`` (a table of sums only), with each
    whole block's result kept under ``part``: for a question whose answer is much smaller
    than the table (e.g. a histogram of a few ranges over many thousands of keys)."""
    assert rows.table.subtractable
    results: list[Int64s] = []
    loose: list[int] = []
    bucket = first
    while bucket <= last:
        if bucket % BLOCK == 0 and bucket + BLOCK - 1 <= last:
            index = bucket // BLOCK
            block_stamp = stamp(rows, bucket, bucket + BLOCK - 1)
            found = fragments.get((part, index), block_stamp, Reduced)
            if found is None:
                found = Reduced(reduce(*_rows_of(rows, range(bucket, bucket + BLOCK))))
                fragments.put((part, index), block_stamp, found)
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
    versions = rows.bucket_versions
    return max(rows.epoch, *(versions.get(b, 0) for b in range(first, last + 1)))


def interval_buckets(span: Span) -> list[tuple[int, int]]:
    """The first and last bucket of each interval, newest first."""
    bounds: list[tuple[int, int]] = []
    for bucket in range(span.last, span.first - 1, -1):
        if span.interval_of(bucket) == len(bounds):
            bounds.append((bucket, bucket))
        else:
            bounds[-1] = (bucket, bounds[-1][1])
    return bounds


def _block(rows: BucketRows, index: int, fragments: Fragments) -> Merged:
    first = index * BLOCK
    last = first + BLOCK - 1
    block_stamp = stamp(rows, first, last)
    part: Hashable = ("block", rows.table.name, index)
    found = fragments.get(part, block_stamp, Merged)
    if found is None:
        found = _merge_buckets(rows, first, last)
        fragments.put(part, block_stamp, found)
    return found


def _merge_buckets(rows: BucketRows, first: int, last: int) -> Merged:
    out = _empty(rows, rows.key_count)
    for bucket in range(first, last + 1):
        held = rows.buckets.get(bucket)
        if held is not None:
            _merge(rows, out.values, held[0], held[1])
            out.seen[held[0]] = True
    return out


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
    merges = rows.table.merges
    if rows.table.subtractable:
        into[at] += add
        return
    # Whole rows at a time (a few vector operations), each column then taken by its merge.
    held = into[at]
    kinds = _kinds(merges)
    into[at] = np.where(
        kinds == 0, held + add, np.where(kinds == 1, np.minimum(held, add), np.maximum(held, add))
    )


@functools.cache
def _kinds(merges: tuple[str, ...]) -> Int64s:
    """Per column: 0 summed, 1 the minimum kept, 2 the maximum."""
    return np.array([("sum", "min", "max").index(m) for m in merges], np.int64)
