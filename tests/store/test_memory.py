"""The store's memory (BucketRows): adding deltas, dropping buckets, versions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.methods.engactivity import ROLLUP
from engactivity.store.memory import AccountState, BucketRows

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
