"""Kept per-id entries: patched entries equal fresh ones; only changed ids re-rendered."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.methods.keptentries import entries_of

rows_of = st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=0, max_size=6)


class Renders:
    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self, id_: int, row: list[int], extra: Any) -> bytes:
        self.ids.append(id_)
        return f"{id_}:{row}:{extra}".encode()


@settings(max_examples=200, deadline=None)
@given(
    before=rows_of,
    after=rows_of,
    extras=st.lists(st.sampled_from([None, (1, 2), (2, 1)]), min_size=12, max_size=12),
)
def test_patched_entries_equal_fresh_ones(
    before: list[list[int]], after: list[list[int]], extras: list[Any]
) -> None:
    def table(rows: list[list[int]]) -> tuple[Any, Any]:
        return np.arange(len(rows), dtype=np.int64) * 7, np.array(rows, np.int64).reshape(-1, 3)

    old_extras, new_extras = extras[: len(before)], extras[6 : 6 + len(after)]
    kept = entries_of(*table(before), old_extras, None, Renders())
    renders = Renders()
    patched = entries_of(*table(after), new_extras, kept, renders)
    assert patched.entries == entries_of(*table(after), new_extras, None, Renders()).entries
    if len(before) == len(after):  # the same ids: only the changed ones are made again
        changed = [
            7 * n
            for n in range(len(after))
            if before[n] != after[n] or old_extras[n] != new_extras[n]
        ]
        assert sorted(renders.ids) == changed
