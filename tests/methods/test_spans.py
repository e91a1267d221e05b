"""methods/spans.py: rows merged over a span from kept blocks equal the rows merged
bucket by bucket, after any sequence of writes (random rows, random spans)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.methods.queues import QUEUE_CELLS, WAIT_BINS
from engactivity.methods.spans import BLOCK, span_reduced, span_rows
from engactivity.store.memory import BucketRows, Int64s
from engactivity.store.tables import BucketTable
from tests.methods.test_engactivity_render import DictFragments

FIRST = 1000 * BLOCK - 7
"""Spans start a few buckets before a block boundary, so both ends are partial."""
UFUNCS = {"sum": np.add, "min": np.minimum, "max": np.maximum}


def rows_of(table: BucketTable, draw: st.DrawFn) -> list[tuple[Any, list[int]]]:
    """One write: a few rows at random buckets (over about five blocks) and keys."""
    count = draw(st.integers(0, 8))
    rows = []
    for _ in range(count):
        bucket = FIRST + draw(st.integers(0, 5 * BLOCK))
        key = tuple(draw(st.integers(0, 3)) for _ in table.keys)
        values = [draw(st.integers(-50, 50)) for _ in table.values]
        rows.append(((bucket, *key), values))
    return rows


def expected(rows: BucketRows, first: int, last: int) -> tuple[Int64s, Int64s]:
    """Every key's rows merged bucket by bucket, and which keys had any."""
    values = np.array([rows.table.empty_row()] * rows.key_count, np.int64).reshape(
        rows.key_count, rows.table.width
    )
    seen = np.zeros(rows.key_count, np.bool_)
    for bucket in range(first, last + 1):
        if bucket in rows.buckets:
            keys, held = rows.buckets[bucket]
            for key, row in zip(keys.tolist(), held.tolist(), strict=True):
                seen[key] = True
                for column, merge in enumerate(rows.table.merges):
                    values[key, column] = UFUNCS[merge](values[key, column], row[column])
    return values, seen


@settings(max_examples=150, deadline=None)
@given(data=st.data(), table=st.sampled_from([QUEUE_CELLS, WAIT_BINS]))
def test_span_rows_equal_the_buckets_merged(data: st.DataObject, table: BucketTable) -> None:
    rows = BucketRows(table)
    kept = DictFragments()
    for _ in range(data.draw(st.integers(1, 4))):
        rows.apply(data.draw(st.composite(lambda draw: rows_of(table, draw))()))
        first = FIRST + data.draw(st.integers(0, 3 * BLOCK))
        last = first + data.draw(st.integers(0, 3 * BLOCK))
        merged = span_rows(rows, first, last, kept, keep_older=data.draw(st.booleans()))
        values, seen = expected(rows, first, last)
        assert (merged.seen == seen).all()
        assert (merged.values == values).all()


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_span_reduced_equals_the_rows_reduced(data: st.DataObject) -> None:
    rows = BucketRows(WAIT_BINS)
    kept = DictFragments()

    def reduce(keys: Int64s, values: Int64s) -> Int64s:
        # Chats per bin of wait (the table's third key column).
        bins = rows.column(2)[keys]
        return np.bincount(bins, weights=values[:, 0], minlength=4).astype(np.int64)

    for _ in range(data.draw(st.integers(1, 4))):
        rows.apply(data.draw(st.composite(lambda draw: rows_of(WAIT_BINS, draw))()))
        first = FIRST + data.draw(st.integers(0, 3 * BLOCK))
        last = first + data.draw(st.integers(0, 3 * BLOCK))
        got = span_reduced(rows, first, last, kept, "bins", reduce)
        values, seen = expected(rows, first, last)
        want = np.bincount(rows.column(2)[seen], weights=values[seen, 0], minlength=4)
        assert got.tolist() == want.astype(np.int64).tolist()
