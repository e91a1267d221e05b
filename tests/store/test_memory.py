"""The store's memory (BucketRows): adding deltas, dropping buckets, versions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.methods.engactivity import ROLLUP
from engactivity.methods.queues import QUEUE_CELLS, QUEUE_SAMPLES
from engactivity.store.memory import AccountState, BucketRows, LatestRows

Key = tuple[int, int, int, int]

rows = st.lists(
    st.tuples(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from([-1, 2, 2**63 - 1]),
            st.sampled_from([0, 1]),
            st.sampled_from([0, 3, -(2**63)]),
        ),
        st.lists(st.integers(0, 9), min_size=5, max_size=5),
    ),
    max_size=40,
)


def dump(memory: BucketRows) -> dict[Key, tuple[int, ...]]:
    columns = [memory.column(i).tolist() for i in range(3)]
    out: dict[Key, tuple[int, ...]] = {}
    for bucket, (keys, values) in memory.buckets.items():
        assert keys.tolist() == sorted(set(keys.tolist())), "each key once, sorted"
        for key, counters in zip(keys.tolist(), values.tolist(), strict=True):
            out[(bucket, columns[0][key], columns[1][key], columns[2][key])] = tuple(counters)
    return out


def summed(batches: list[list[tuple[Key, list[int]]]]) -> dict[Key, tuple[int, ...]]:
    out: dict[Key, list[int]] = {}
    for batch in batches:
        for key, values in batch:
            row = out.setdefault(key, [0] * 5)
            for i, value in enumerate(values):
                row[i] += value
    return {key: tuple(values) for key, values in out.items()}


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(rows, max_size=5))
def test_applied_rows_add_up_whatever_their_order_and_repeats(
    batches: list[list[tuple[Key, list[int]]]],
) -> None:
    memory = BucketRows(ROLLUP)
    for batch in batches:
        memory.apply(batch)
    assert dump(memory) == summed(batches)
    for bucket, total in memory.totals.items():
        in_bucket = [v for k, v in summed(batches).items() if k[0] == bucket]
        assert total == [sum(column) for column in zip(*in_bucket, strict=True)]


def test_versions_change_with_every_change_and_are_never_reused() -> None:
    memory = BucketRows(ROLLUP)
    assert memory.version == 0
    memory.apply([((1, 2, 1, 3), [1, 0, 0, 0, 0])])
    first = memory.version
    assert memory.bucket_versions == {1: first}
    memory.apply([((2, 2, 1, 3), [1, 0, 0, 0, 0])])
    assert memory.version > first and memory.bucket_versions[1] == first
    memory.apply([])
    before_drop = memory.version
    memory.drop_before(2)
    assert memory.version > before_drop and memory.epoch == memory.version
    assert set(memory.buckets) == set(memory.totals) == set(memory.bucket_versions) == {2}
    other = BucketRows(ROLLUP)
    other.apply([((1, 2, 1, 3), [1, 0, 0, 0, 0])])
    assert other.version > memory.version  # one counter for the whole process


def test_an_account_applies_one_collection_per_table() -> None:
    state = AccountState((ROLLUP,))
    assert state.version == 0
    with state.lock:
        state.apply([[((1, 2, 1, 3), [0, 0, 0, 0, 1])]])
    assert state.version == state.rows(ROLLUP).version > 0
    state.drop_before(5)
    assert state.rows(ROLLUP).buckets == {}


# -- values that merge by minimum and maximum, and newest samples ---------------------------

CELLS = QUEUE_CELLS
cell_rows = st.lists(
    st.tuples(
        st.tuples(st.integers(0, 4), st.sampled_from([-1, 2, 9])),
        st.lists(st.integers(0, 50), min_size=CELLS.width, max_size=CELLS.width),
    ),
    max_size=30,
)


def merged(
    batches: list[list[tuple[tuple[int, int], list[int]]]],
) -> dict[tuple[int, int], list[int]]:
    out: dict[tuple[int, int], list[int]] = {}
    for batch in batches:
        for key, values in batch:
            row = out.setdefault(key, CELLS.empty_row())
            for i, (merge, value) in enumerate(zip(CELLS.merges, values, strict=True)):
                row[i] = {
                    "sum": row[i] + value,
                    "min": min(row[i], value),
                    "max": max(row[i], value),
                }[merge]
    return out


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(cell_rows, max_size=5))
def test_values_merge_by_their_rule(batches: list[list[tuple[tuple[int, int], list[int]]]]) -> None:
    memory = BucketRows(CELLS)
    for batch in batches:
        memory.apply(batch)
    expected = merged(batches)
    skills = memory.column(0).tolist()
    got = {
        (bucket, skills[key]): values
        for bucket, (keys, rows) in memory.buckets.items()
        for key, values in zip(keys.tolist(), rows.tolist(), strict=True)
    }
    assert got == expected
    for bucket, total in memory.totals.items():
        assert (
            total
            == merged([[((bucket, 0), v) for (b, _), v in expected.items() if b == bucket]])[
                (bucket, 0)
            ]
        )


def test_the_newest_sample_wins_by_time_then_event_id() -> None:
    samples = LatestRows(QUEUE_SAMPLES)
    samples.apply([((1,), [100, b"b", 5, 1])])
    first = samples.version
    samples.apply([((1,), [100, b"a", 9, 9]), ((2,), [50, b"z", 1, 1])])  # older id: kept out
    assert samples.samples[(1,)] == [100, b"b", 5, 1]
    samples.apply([((1,), [100, "é".encode(), 7, 2])])  # "é" sorts after "b"
    assert samples.samples[(1,)][2] == 7 and samples.version > first
    version = samples.version
    samples.apply([((1,), [99, b"zz", 0, 0])])
    assert samples.version == version  # nothing changed
    samples.drop_before(1)  # buckets before 1: times below 300,000 ms
    assert samples.samples == {}


@settings(max_examples=200, deadline=None)
@given(
    labelled=st.lists(
        st.tuples(
            st.integers(0, 3000),
            st.lists(st.integers(0, 50), min_size=CELLS.width, max_size=CELLS.width),
        ),
        max_size=40,
    )
)
def test_rows_merge_by_group_densely_or_sparsely(labelled: list[tuple[int, list[int]]]) -> None:
    """merge_by numbers the groups itself when they are few among many (the sparse path)."""
    memory = BucketRows(CELLS)
    groups = np.array([g for g, _ in labelled], np.int64)
    values = np.array([v for _, v in labelled], np.int64).reshape(len(labelled), CELLS.width)
    expected = merged([[((0, g), v) for g, v in labelled]])
    for count in (int(groups.max(initial=0)) + 1, 1_000_000):
        found, rows = memory.merge_by(groups, values, count)
        assert found.tolist() == sorted(g for _, g in expected)
        assert rows.tolist() == [expected[(0, g)] for g in found.tolist()]
