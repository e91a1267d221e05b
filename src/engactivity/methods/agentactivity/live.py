"""The agent entries of the ranges that move with now, kept per agent and carried on.

A range that moves with now (the window, the newest interval, the oldest) is never kept
whole: a write moves its stamp, and a running clock moves its ends. But a write touches a few
agents' timelines, and moving a range's ends by a few milliseconds changes every
agent's measures by what the steps holding the ends weigh, times how far they moved
(``measure.Ends``). So each such range's measures and entries are kept with the
timelines' version they were read at, and the next answer of the same question's range
moves the kept measures to its moments, measures again only the agents whose timelines
took a row since (``TimelineRows.touched_since``: at any time, so it never misses one)
or whose ends moved past a step, and renders again only the entries whose numbers
changed (most agents' whole seconds stay the same). Kept measures of other timelines
(a reload) or of a later moment than asked are not carried: the range is measured
whole. Rows moved to other places in the arrays (a key given more room, a lay-out, a
purge) change nothing kept: it holds timelines' indexes, times from their fixed origin
and reasons' text indexes, never a row's place.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from engactivity.core.params import ALL, Selection
from engactivity.methods.agentactivity.measure import (
    Ends,
    Int64s,
    Measured,
    Range,
    joined,
    moved,
    replaced,
    without,
)
from engactivity.methods.agentactivity.members import among
from engactivity.methods.agentactivity.render import (
    Inputs,
    entries,
    inputs,
    joined_text,
    rendered,
    reused,
)
from engactivity.methods.keptentries import ENTRY_BYTES
from engactivity.store.timelines import TimelineRows, Timelines


@dataclass(frozen=True, eq=False)
class RangeEntries:
    """One range's measures and agent entries, of the timelines ``rows`` at ``version``
    (checked by version and the agents touched since, unlike ``methods/keptentries.py``'s
    entries, which are checked by comparing their inputs: an agent's entry depends on
    rows too many to compare)."""

    rows: weakref.ref[TimelineRows]
    """The timelines read (weakly: kept entries must not keep an account that memory
    let go of alive)."""
    lo: int
    hi: int
    """The range they are of."""
    version: int
    """The timelines' version when read."""
    measured: Measured
    """Every agent asked about (logged in during the range or not), by agent id; of
    those in ``patches``, as they were before."""
    ends: Ends
    """The steps holding the range's ends, of the same agents in the same order."""
    patches: tuple[tuple[Measured, Ends], ...]
    """Agents measured again at the same moments since (the newest last), not yet joined
    into ``measured``: that is done when the clock moves (``settled``)."""
    texts: dict[int, str]
    """Agent id -> its entry's text, for the agents logged in during the range (in agent
    id order), made from ``measured``."""
    text: bytes
    """The range's ``agentsMetrics``: the entries joined."""
    inputs: Inputs | None
    """What ``texts`` were made from (``render.inputs(measured)``), when it was made."""
    size: int
    """What they cost the fragment cache (bytes, roughly)."""

    def __len__(self) -> int:
        return self.size


@dataclass(frozen=True, slots=True)
class Seen:
    """The timelines an answer read, with their version then (taken under the account's
    lock: the entries are made after it is let go)."""

    rows: TimelineRows
    version: int

    @staticmethod
    def of(rows: TimelineRows) -> Seen:
        return Seen(rows, rows.version)


@dataclass(frozen=True, slots=True)
class Carried:
    """Kept entries moved to a range: the part that holds, and who to measure again."""

    kept: RangeEntries
    stay: Measured | None
    """The kept measures moved to the range (None at the same moments: they are the kept
    ones); the rows of ``moved_again`` are not meaningful (they are measured again)."""
    stay_ends: Ends | None
    moved_again: npt.NDArray[np.bool_] | None
    """Which of ``stay``'s agents are measured again (None: none)."""
    was: Measured | None
    """The kept measures with their patches joined in, before they moved (what the kept
    texts were made from), when that was needed."""
    again: Int64s
    """The timelines to measure again (touched since, or an end moved past a step; new
    agents among them), ordered by agent id."""


def name(agents: Selection, timeframe: int, interval: int | None, n: int) -> Hashable:
    """The kept entries' name: of the question's ``n``th range, whatever its moments, so
    that a clock that moves on replaces them (their validity is checked by ``carried``,
    not by a stamp)."""
    return ("entries", agents, timeframe, interval, n)


class MadeAgain:
    """The mark of a past range made again for a late event (``_late_entries`` in the
    package): kept in the fragments under ``made_again``'s name, it costs nothing."""

    __slots__ = ()

    def __len__(self) -> int:
        return 0


MADE_AGAIN = MadeAgain()


def made_again(agents: Selection, lo: int, hi: int) -> Hashable:
    """The name of a past range's ``MadeAgain`` mark."""
    return ("made again", agents, lo, hi)


def name_at(agents: Selection, lo: int, hi: int) -> Hashable:
    """The kept entries' name of a past range (kept once a late event reached into it:
    the next one there measures only the agents it touched)."""
    return ("entries at", agents, lo, hi)


def carried(
    kept: RangeEntries | None, rows: TimelineRows, timelines: Timelines, agents: Selection, r: Range
) -> Carried | None:
    """``kept`` moved to range ``r`` (the same or later moments), or None when it cannot
    be (other timelines, an earlier range, or most agents to measure again)."""
    if kept is None or kept.rows() is not rows:
        return None
    if r.lo < kept.lo or r.hi < kept.hi:
        return None
    touched = rows.touched_since(kept.version)
    if (r.lo, r.hi) == (kept.lo, kept.hi):  # the same moments: the agents touched only
        return Carried(kept, None, None, None, None, selected(timelines, agents, touched))
    measured, at = settled(kept)
    shifted, again = moved(timelines, measured, at, Range(None, kept.lo, kept.hi), r)
    if len(touched):
        again |= among(at.lines, touched)
    moved_past = at.lines[again]
    candidates = np.union1d(moved_past, touched) if len(moved_past) else touched
    lines = selected(timelines, agents, candidates)
    if len(lines) > max(16, len(at.lines) // 2):  # cheaper measured whole
        return None
    return Carried(kept, shifted, at, again if again.any() else None, measured, lines)


_MOST_PATCHES = 64
"""Patches kept apart (each costs the next moved answer a join) before they are joined."""


def settled(kept: RangeEntries) -> tuple[Measured, Ends]:
    """``kept``'s measures and ends with its patches joined in (the newest of an agent's)."""
    if not kept.patches:
        return kept.measured, kept.ends
    parts, taken = [], np.zeros(0, np.int64)
    for again, again_at in reversed(kept.patches):
        older = among(again.agents, taken)  # measured again by a newer patch
        parts.append(_without(again, again_at, older))
        taken = np.concatenate([taken, again.agents[~older]])
    stale = among(kept.measured.agents, taken)
    return _joined([_without(kept.measured, kept.ends, stale), *parts])


# A range's measures and the ends of its steps are of the same agents in the same order
# (``Ends`` holds no agent ids): they are dropped from and joined together, only here.
def _without(measured: Measured, at: Ends, rows: npt.NDArray[np.bool_]) -> tuple[Measured, Ends]:
    """The measures and their ends but the agents at ``rows``."""
    return without(measured, rows), at.take(np.flatnonzero(~rows))


def _joined(parts: Sequence[tuple[Measured, Ends]]) -> tuple[Measured, Ends]:
    """The parts' measures and their ends (of different agents) as one, by agent id."""
    measured, order = joined([m for m, _ in parts])
    return measured, Ends.joined([at for _, at in parts], order)


def _with_again(c: Carried, again: Measured, again_at: Ends) -> tuple[Measured, Ends]:
    """The moved measures and ends of ``c`` with the agents measured again in them:
    in their places when all of them were kept (the usual), else joined in."""
    assert c.stay is not None and c.stay_ends is not None
    if not len(again.agents):
        return c.stay, c.stay_ends
    found = replaced(c.stay, again)
    if found is not None:
        measured, where = found
        return measured, c.stay_ends.replaced(where, again_at)
    stay = c.stay, c.stay_ends
    if c.moved_again is not None:
        stay = _without(*stay, c.moved_again)
    return _joined([stay, (again, again_at)])


def selected(timelines: Timelines, agents: Selection, of: Int64s | None = None) -> Int64s:
    """The timelines asked for (of the timelines ``of``, else of all), ordered by agent id."""
    of = np.arange(len(timelines.keys), dtype=np.int64) if of is None else of
    if not len(of):
        return of
    ids = timelines.keys[of, 0]
    order = of[np.argsort(ids, kind="stable")]
    if agents is None or agents == ALL:
        return order
    wanted = _sorted_ids(agents)
    ids = timelines.keys[order, 0]
    found = np.minimum(np.searchsorted(wanted, ids), len(wanted) - 1)
    return order[wanted[found] == ids] if len(wanted) else order[:0]


@functools.lru_cache(maxsize=64)
def _sorted_ids(agents: frozenset[int]) -> Int64s:
    """The ids asked for, ascending (kept: the same question comes again and again)."""
    return np.sort(np.fromiter(agents, np.int64, len(agents)))


def _size(texts: Collection[str]) -> int:
    return sum(map(len, texts)) + ENTRY_BYTES * len(texts)


def _kept(
    seen: Seen,
    r: Range,
    measured: Measured,
    at: Ends,
    texts: dict[int, str],
    made: Inputs | None,
    earlier: RangeEntries | None = None,
) -> RangeEntries:
    if earlier is not None and texts is earlier.texts:  # no entry changed: nor their text
        text, size = earlier.text, earlier.size
    else:
        text = joined_text(texts.values())
        size = _size(texts.values()) + len(text) + len(measured) + int(at.weights.nbytes * 2)
        size += 0 if made is None else len(made)
    return RangeEntries(
        weakref.ref(seen.rows), r.lo, r.hi, seen.version, measured, at, (), texts,
        text, made, size,
    )  # fmt: skip


def fresh(
    seen: Seen,
    r: Range,
    measured: Measured,
    at: Ends,
    earlier: RangeEntries | None,
) -> RangeEntries:
    """The entries of range ``r`` measured whole, reusing the texts of ``earlier`` (kept
    at another moment) whose inputs are equal."""
    made = inputs(measured)
    texts = rendered(made) if earlier is None else reused(made, _inputs(earlier), earlier.texts)
    return _kept(seen, r, measured, at, texts, made, earlier)


def carried_on(c: Carried, seen: Seen, r: Range, again: Measured, again_at: Ends) -> RangeEntries:
    """The entries of range ``r`` from ``c`` and the agents measured again."""
    kept = c.kept
    if c.stay is None or c.stay_ends is None:
        return _patched(kept, seen.version, again, again_at)
    measured, at = _with_again(c, again, again_at)
    made = inputs(measured)  # moved: any agent's seconds may have changed
    texts = reused(made, _inputs(kept, c.was), kept.texts)
    return _kept(seen, r, measured, at, texts, made, kept)


def _patched(kept: RangeEntries, version: int, again: Measured, again_at: Ends) -> RangeEntries:
    """``kept`` at the same moments with the entries of the agents measured again
    replaced (their measures kept apart as a patch, joined in when the clock moves)."""
    if not len(again.agents):  # the write touched none of the agents asked about
        return replace(kept, version=version)
    texts, new = dict(kept.texts), entries(again)
    gone = [texts.pop(a) for a in again.agents.tolist() if a in texts and a not in new]
    replaced = [texts[a] for a in new if a in texts]
    texts.update(new)  # an agent kept stays in its place
    if new.keys() - kept.texts.keys():  # a new agent: its place in the order
        texts = {a: texts[a] for a in sorted(texts)}
    text = joined_text(texts.values())
    size = kept.size + _size(new.values()) - _size(gone) - _size(replaced)
    size += (
        len(text) - len(kept.text) + len(again) - (0 if kept.inputs is None else len(kept.inputs))
    )
    patched = replace(kept, version=version, patches=(*kept.patches, (again, again_at)))
    if len(patched.patches) >= _MOST_PATCHES:
        measured, at = settled(patched)
        patched = replace(patched, measured=measured, ends=at, patches=())
    return replace(patched, texts=texts, text=text, inputs=None, size=size)


def _inputs(kept: RangeEntries, was: Measured | None = None) -> Inputs:
    """What ``kept``'s texts were made from (its measures are kept in step with them);
    ``was``: its measures settled already, when the caller has them."""
    if kept.inputs is not None:
        return kept.inputs
    return inputs(settled(kept)[0] if was is None else was)
