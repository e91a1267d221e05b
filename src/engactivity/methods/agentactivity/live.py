"""The agent entries of the ranges that end at now, kept per agent and patched in place.

A range that ends at now (the window, the newest interval) is never kept whole: any
write moves its stamp. But a write touches a few agents' timelines, and every other
agent's entry in the same range is what it was. So each such range's entries are kept
per agent with the timelines' version they were read at; the next answer of the same
range (same question, same moments) measures and renders again only the agents
whose timelines took a row since (``TimelineRows.touched_since``: at any time, so it
never misses one) and joins the others' text as it was. A range of another moment
(the clock moved on) or of other timelines (a reload) is measured whole.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Hashable
from dataclasses import dataclass, replace

import numpy as np

from engactivity.core.params import ALL, Selection
from engactivity.methods.agentactivity.measure import Int64s, Measured, Range
from engactivity.methods.agentactivity.render import (
    Inputs,
    entries,
    inputs,
    joined,
    rendered,
    reused,
)
from engactivity.methods.keptentries import ENTRY_BYTES
from engactivity.store.timelines import TimelineRows, Timelines


@dataclass(frozen=True, eq=False)
class RangeEntries:
    """One range's agent entries, valid while no timeline they read took a row since
    ``version`` (checked by version, unlike ``methods/keptentries.py``'s entries, which
    are checked by comparing their inputs: an agent's entry depends on rows too many to
    compare)."""

    rows: weakref.ref[TimelineRows]
    """The timelines the entries were read from (weakly: kept entries must not keep an
    account that memory let go of alive)."""
    lo: int
    hi: int
    """The range they are of."""
    version: int
    """Their version when read."""
    texts: dict[int, str]
    """Agent id -> its entry's text, for the agents logged in during the range (in agent
    id order)."""
    text: bytes
    """The range's ``agentsMetrics``: the entries joined."""
    inputs: Inputs | None
    """What ``texts`` were made from, for a range of a later moment to reuse those whose
    inputs are equal (None once patched: some texts are then of newer inputs)."""
    size: int
    """What they cost the fragment cache (bytes, roughly)."""

    def __len__(self) -> int:
        return self.size


def _size(texts: Collection[str]) -> int:
    return sum(map(len, texts)) + ENTRY_BYTES * len(texts)


def name(agents: Selection, timeframe: int, interval: int | None, n: int) -> Hashable:
    """The kept entries' name: of the question's ``n``th range, whatever its moments, so
    that a clock that moves on replaces them (their validity is checked by ``touched``,
    not by a stamp)."""
    return ("entries", agents, timeframe, interval, n)


def touched(
    kept: RangeEntries | None, rows: TimelineRows, timelines: Timelines, agents: Selection, r: Range
) -> Int64s | None:
    """The timelines asked for whose entries in range ``r`` may have changed since
    ``kept`` was read (ordered by agent id), or None when ``kept`` cannot be patched."""
    if kept is None or kept.rows() is not rows or (kept.lo, kept.hi) != (r.lo, r.hi):
        return None
    return selected(timelines, agents, rows.touched_since(kept.version))


def selected(timelines: Timelines, agents: Selection, among: Int64s | None = None) -> Int64s:
    """The timelines asked for (of ``among``, else of all), ordered by agent id."""
    among = np.arange(len(timelines.keys), dtype=np.int64) if among is None else among
    ids = timelines.keys[among, 0]
    order = among[np.argsort(ids, kind="stable")]
    if agents is None or agents == ALL:
        return order
    wanted = np.fromiter(agents, np.int64, len(agents))
    return order[np.isin(timelines.keys[order, 0], wanted)]


def fresh(
    rows: TimelineRows, r: Range, version: int, measured: Measured, earlier: RangeEntries | None
) -> RangeEntries:
    """The entries of range ``r``, reusing the texts of ``earlier`` (kept at another
    moment) whose inputs are equal."""
    made = inputs(measured)
    if earlier is None or earlier.inputs is None:
        texts = rendered(made)
    else:
        texts = reused(made, earlier.inputs, earlier.texts)
    text = joined(texts.values())
    size = _size(texts.values()) + len(text) + len(made)
    return RangeEntries(weakref.ref(rows), r.lo, r.hi, version, texts, text, made, size)


def patched(kept: RangeEntries, version: int, measured: Measured) -> RangeEntries:
    """``kept`` with the entries of the agents ``measured`` (again) replaced."""
    if not len(measured.agents):  # the write touched none of the agents asked about
        return replace(kept, version=version)
    texts, new = dict(kept.texts), entries(measured)
    gone = [texts.pop(a) for a in measured.agents.tolist() if a in texts and a not in new]
    replaced = [texts[a] for a in new if a in texts]
    texts.update(new)  # an agent kept stays in its place
    if new.keys() - kept.texts.keys():  # a new agent: its place in the order
        texts = {a: texts[a] for a in sorted(texts)}
    text = joined(texts.values())
    size = kept.size + _size(new.values()) - _size(gone) - _size(replaced)
    size += len(text) - len(kept.text) - (0 if kept.inputs is None else len(kept.inputs))
    return RangeEntries(kept.rows, kept.lo, kept.hi, version, texts, text, None, size)
