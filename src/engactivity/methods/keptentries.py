"""Per-id rendered entries kept between answers, re-rendered only where their inputs changed.

An answer that lists one entry per id (e.g. queue health's ``"skill":{metrics}``) made
from a row of numbers per id (and, optionally, one more small value per id, such as a
skill's current queue state): a write changes few ids' rows, so the next answer of the
same range compares the new rows with the kept ones in one vector operation and renders
again only the ids whose row or extra value differs. An entry is a function of exactly
these inputs, so a kept entry whose inputs are equal is the entry made afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engactivity.store.memory import Int64s

ENTRY_BYTES = 64
"""What a kept entry costs beside its text (its slots in lists or dicts), for the fragment
cache's accounting; agent activity's range entries (``agentactivity/live.py``) use it too."""

RenderEntry = Callable[[int, list[int], Any], bytes]
"""(id, its row, its extra value) -> its entry's text."""


@dataclass(frozen=True, eq=False)
class KeptEntries:
    ids: Int64s
    """The ids listed, in order."""
    rows: Int64s
    """Shape (ids, width): what each entry was made from (not written to once kept)."""
    extras: list[Any]
    """Each id's extra value (None when the answer has none)."""
    entries: list[bytes]
    """Each id's entry."""

    def __len__(self) -> int:
        """What it costs the fragment cache (bytes, roughly)."""
        return self.rows.nbytes + sum(map(len, self.entries)) + ENTRY_BYTES * len(self.entries)


def entries_of(
    ids: Int64s, rows: Int64s, extras: Sequence[Any], kept: KeptEntries | None, render: RenderEntry
) -> KeptEntries:
    """The entries of ``ids``: ``kept``'s where the row and extra value are the same."""
    extras = list(extras)
    if kept is None or not np.array_equal(kept.ids, ids):
        ids_list, values = ids.tolist(), rows.tolist()
        made = [render(i, r, e) for i, r, e in zip(ids_list, values, extras, strict=True)]
        return KeptEntries(ids, rows, extras, made)
    changed = set(np.flatnonzero((rows != kept.rows).any(axis=1)).tolist())
    changed.update(n for n, (a, b) in enumerate(zip(extras, kept.extras, strict=True)) if a != b)
    made = list(kept.entries)
    for n in changed:
        made[n] = render(int(ids[n]), rows[n].tolist(), extras[n])
    return KeptEntries(ids, rows, extras, made)
