"""Timeline tables in memory: each key's rows in (time, event key) order, laid out to
be read in place.

All the rows of one account's table live in a few flat arrays, key after key, each key
with free room after its rows. Events are taken in as they come (a list per key, which
costs next to nothing while a busy account ingests) and written into the arrays when
the timelines are next read: the usual event, newer than its key's last, goes into the
key's room, and its sums follow from the row before it; the arrays are then read as
they are, under the account's lock, never copied. Only a late event (or one of a key
whose room ran out) makes its key's rows be written again. A key whose room ran out gets
a quarter as many rows again by moving the keys after it along, into spare room at the
arrays' end; only when that is used up is every key laid out afresh, in new arrays, each
with room for a quarter as many rows again as it holds, so that happens rarely.

Free room holds the top time mark, so the arrays stay sorted for binary searches.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np
import numpy.typing as npt

from engactivity.core.timeframe import BUCKET_MS
from engactivity.store.tables import RowKey, TimelineTable
from engactivity.store.versions import new_version

Int64s = npt.NDArray[np.int64]

ORIGIN_SHIFT = 44
"""``Timelines.sortable`` holds a timeline's index above this bit, a time below it."""
FREE = (1 << ORIGIN_SHIFT) - 1
"""The time (from the origin) of free room: above every moment searched for."""
LAST_MOMENT = FREE - 1
"""The latest time from the origin a row or a search may have (some 557 years on)."""
_UNUSED = np.iinfo(np.int64).max
"""``sortable`` beyond every key's room."""
_MIN_ROOM = 8
_MOST_PENDING = 10_000
"""Rows taken in but not yet written into the arrays (as Python objects, which cost
several times more memory) before they are written anyway."""

_ROW_BYTES = 64
"""Per row beside the arrays: its event key (a bytes object and a list slot)."""
_PENDING_ROW_BYTES = 200
_KEY_BYTES = 300

Row = tuple[Any, ...]
"""A row as taken in: time, event key, values... (TEXT values as text indexes), one
flat tuple (the smallest Python object that holds them)."""


@dataclass(frozen=True, eq=False)
class Timelines:
    """Every timeline of a timeline table as flat arrays: timeline ``i``'s rows start at
    ``starts[i]``, in (time, event key) order, followed by free room. The arrays are the
    store's own: read them under the account's lock only."""

    keys: Int64s
    """(timelines, key columns): each timeline's key."""
    starts: Int64s
    times: Int64s
    values: Int64s
    """(rows, values): a TEXT value as the index of its text in ``texts``."""
    texts: list[str]
    origin: int
    sortable: Int64s
    """Per row: its timeline's index << ORIGIN_SHIFT, plus its time from ``origin``
    (clamped to [0, LAST_MOMENT]); FREE in free room: ascending, for binary searches of
    a (timeline, moment) over every timeline at once."""
    sums: Int64s
    """(rows, columns): the table's ``weights`` times the step lengths, summed along
    each timeline up to (not including) each row; no columns without weights."""


class TimelineRows:
    """One account's rows of one timeline table (guarded by the account's lock)."""

    def __init__(self, table: TimelineTable) -> None:
        self.table = table
        self.version = 0
        self.texts: list[str] = []
        self._text_ids: dict[str, int] = {}
        self._text_columns = [i for i, c in enumerate(table.values) if c.sql_type == "TEXT"]
        self._changes: list[tuple[int, int]] = []
        """(earliest time changed, version), both increasing: see ``stamp``."""
        self._index: dict[RowKey, int] = {}
        self._keys: list[RowKey] = []
        self._event_keys: list[list[bytes]] = []
        """Per timeline: its rows' event keys, in order (the tie-break of equal times)."""
        self._start: list[int] = []
        self._count: list[int] = []
        self._room: list[int] = []
        self._used = 0
        self._held = 0
        """Rows written into the arrays, over every key (for the memory estimate)."""
        self._pending: dict[int, list[Row]] = {}
        self._pending_rows = 0
        self._key_versions = np.zeros(_MIN_ROOM, np.int64)
        """Per timeline: the version of its last change (see ``touched_since``); room
        after the keys' for more."""
        self._touched: tuple[tuple[int, int, int], Int64s] | None = None
        """The last ``touched_since``: what it was asked at, and its answer."""
        self._origin: int | None = None
        self._measured = 0 if table.weights is None else _width_of(table)
        self._arrays = _Arrays.empty(0, len(table.values), self._measured)
        self._view: Timelines | None = None

    # -- taking rows in ------------------------------------------------------------------

    def apply(self, rows: Iterable[tuple[RowKey, Sequence[Any]]]) -> None:
        width = len(self.table.keys)
        earliest: int | None = None
        touched: set[int] = set()
        for key, given in rows:
            values = list(given)
            for i in self._text_columns:
                values[i] = self._text(values[i])
            index = self._index.get(key[:width])
            if index is None:
                index = self._add_key(key[:width])
            self._pending.setdefault(index, []).append((key[width], key[width + 1], *values))
            touched.add(index)
            self._pending_rows += 1
            earliest = key[width] if earliest is None else min(earliest, key[width])
        if earliest is not None:
            if self._origin is None:  # fixed for good: half of the clamped span before
                self._origin = earliest - (1 << (ORIGIN_SHIFT - 1))
            self.version = new_version()
            while self._changes and self._changes[-1][0] >= earliest:
                self._changes.pop()  # a later change that starts no earlier covers it
            self._changes.append((earliest, self.version))
            self._key_versions[list(touched)] = self.version
        if self._pending_rows > _MOST_PENDING:  # an account nobody reads still stays small
            self._write_pending()

    def reserve(self, counts: Iterable[tuple[RowKey, int]]) -> int:
        """Before a load (nothing held yet): room for each key's rows, in one allocation,
        so that the rows streamed in fill it and the arrays are never laid out again
        while loading (each lay-out holds the old arrays and the new at once). The
        arrays' bytes, for making room ahead of the load."""
        assert not self._keys, "reserve only before the first row"
        needs = {self._add_key(key): count for key, count in counts}
        if needs:
            self._lay_out(needs)
        return self.nbytes() + sum(needs.values()) * _ROW_BYTES

    def _text(self, text: str) -> int:
        found = self._text_ids.get(text)
        if found is None:
            found = self._text_ids[text] = len(self.texts)
            self.texts.append(text)
        return found

    def _add_key(self, key: RowKey) -> int:
        index = self._index[key] = len(self._keys)
        self._keys.append(key)
        self._event_keys.append([])
        self._start.append(self._used)
        self._count.append(0)
        self._room.append(0)  # room is given when its rows are written
        if index == len(self._key_versions):  # twice the room
            self._key_versions = np.concatenate(
                [self._key_versions, np.zeros_like(self._key_versions)]
            )
        self._view = None
        return index

    def stamp(self, before_ms: int) -> int:
        """The version of the last change to any row with a time before ``before_ms``:
        what is read of the timelines up to that moment stays valid while it does."""
        at = bisect_left(self._changes, (before_ms,)) - 1
        return self._changes[at][1] if at >= 0 else 0

    def latest_change(self) -> int | None:
        """The earliest time of the rows the newest change took in (None before any):
        where a late event reached back to, when the newest change holds one."""
        return self._changes[-1][0] if self._changes else None

    def touched_since(self, version: int) -> Int64s:
        """The timelines (indexes, ascending) with a row taken in after ``version``, at
        any time: what was read of every other timeline then still holds. The last
        result is kept (read-only): an answer's moving ranges were kept at one version
        and each asks."""
        asked = (version, self.version, len(self._keys))
        if self._touched is not None and self._touched[0] == asked:
            return self._touched[1]
        found = np.flatnonzero(self._key_versions[: len(self._keys)] > version)
        found.flags.writeable = False
        self._touched = asked, found
        return found

    def nbytes(self) -> int:
        """An estimate of the memory these rows take (cheap: from counters)."""
        a = self._arrays
        return (
            a.times.nbytes
            + a.values.nbytes
            + a.sortable.nbytes
            + a.sums.nbytes
            + self._held * _ROW_BYTES
            + self._pending_rows * _PENDING_ROW_BYTES
            + len(self._keys) * _KEY_BYTES
        )

    # -- reading -------------------------------------------------------------------------

    def timelines(self) -> Timelines:
        """Every timeline, with every row taken in so far (read under the lock)."""
        self._write_pending()
        if self._view is None:
            a = self._arrays
            self._view = Timelines(
                keys=np.array(self._keys, np.int64).reshape(len(self._keys), len(self.table.keys)),
                starts=np.array(self._start, np.int64),
                times=a.times,
                values=a.values,
                texts=self.texts,
                origin=self._origin or 0,
                sortable=a.sortable,
                sums=a.sums,
            )
        return self._view

    def items(self) -> Iterator[tuple[RowKey, list[tuple[Any, ...]]]]:
        """Each key and its rows (time, event key, values...), in order: for inspection."""
        self._write_pending()
        for index, key in enumerate(self._keys):
            yield key, self._rows(index)

    # -- writing into the arrays ---------------------------------------------------------

    def _write_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_rows = self._pending, {}, 0
        cuts: dict[int, int] = {}
        tails: dict[int, list[Row]] = {}
        for index, rows in pending.items():
            rows.sort(key=_order)
            cuts[index], tails[index] = self._merged(index, rows)
        needs = {i: cuts[i] + len(rows) for i, rows in tails.items()}
        ran_out = sorted(i for i, need in needs.items() if 0 < self._room[i] < need)
        grown = not ran_out or self._grow({i: needs[i] for i in ran_out})
        new_keys = {i: need for i, need in needs.items() if not self._room[i]}
        if not grown or not self._give_room(new_keys):
            self._lay_out(needs)  # no spare room left: every key afresh, as each needs
        for index, cut in cuts.items():
            self._held -= self._count[index] - cut
            self._count[index] = cut  # the rows before stay as they are
            del self._event_keys[index][cut:]
        self._append(tails)

    def _merged(self, index: int, rows: list[Row]) -> tuple[int, list[Row]]:
        """Where the key's rows first change with ``rows`` (sorted), and its rows from
        there on: those held and ``rows``, in order, each (time, event key) once. The
        usual rows come after the key's last: nothing held is in the tail then."""
        start, count = self._start[index], self._count[index]
        first = rows[0]
        held: list[Row] = []
        if not count or self._last_order(index) < _order(first):
            cut = count  # after the last row held (the usual): nothing held moves
        else:
            times = self._arrays.times[start : start + count]
            same = np.searchsorted(times, [first[0], first[0] + 1])  # the rows at its time
            cut = bisect_left(self._event_keys[index], first[1], int(same[0]), int(same[1]))
            held = self._rows(index, cut)
        out: list[Row] = []
        for row in sorted(held + rows, key=_order):
            if not out or _order(out[-1]) != _order(row):
                out.append(row)
        return cut, out

    def _last_order(self, index: int) -> tuple[int, bytes]:
        """The (time, event key) of the key's last row (it has one)."""
        last = self._start[index] + self._count[index] - 1
        return int(self._arrays.times[last]), self._event_keys[index][-1]

    def _rows(self, index: int, first: int = 0) -> list[Row]:
        """The key's rows from its ``first`` on, as (time, event key, values...)."""
        a, start, count = self._arrays, self._start[index], self._count[index]
        times = a.times[start + first : start + count].tolist()
        values = a.values[start + first : start + count].tolist()
        keys = self._event_keys[index][first:]
        return [(t, e, *v) for t, e, v in zip(times, keys, values, strict=True)]

    def _lay_out(self, needs: dict[int, int]) -> None:
        """Every key afresh, with room for its rows (``needs``: rows a key is about to
        hold) and a quarter as many again; the arrays with a tenth more room for new keys."""
        counts = np.array(self._count, np.int64)
        held = np.array([needs.get(i, c) for i, c in enumerate(self._count)], np.int64)
        rooms = held + np.maximum(_MIN_ROOM, held // 4)
        starts = np.zeros(len(rooms), np.int64)
        np.cumsum(rooms[:-1], out=starts[1:])
        used = int(rooms.sum())
        old, a = self._arrays, _Arrays.empty(used + used // 10 + 64, *self._widths)
        a.sortable[:used] = np.repeat((np.arange(len(rooms)) << ORIGIN_SHIFT) + FREE, rooms)
        source = _ranges(np.array(self._start, np.int64), counts)
        target = _ranges(starts, counts)
        a.times[target] = old.times[source]
        a.values[target] = old.values[source]
        a.sortable[target] = old.sortable[source]
        a.sums[target] = old.sums[source]
        self._arrays, self._used = a, used
        self._start, self._room = starts.tolist(), rooms.tolist()
        self._view = None

    def _grow(self, needs: dict[int, int]) -> bool:
        """More room for keys whose room ran out (``needs``, in key order), each with a
        quarter as many rows again, by moving the keys after it along into the arrays'
        spare room, in place: a copy of the rows after it, where a lay-out builds every
        array anew. False, and nothing changed, when the spare room is too small."""
        extra = {i: need + max(_MIN_ROOM, need // 4) - self._room[i] for i, need in needs.items()}
        total = shift = sum(extra.values())
        if self._used + total > len(self._arrays.times):
            return False
        a, end = self._arrays, self._used
        for index in reversed(needs):  # the last first: each moves into room already free
            begin = self._start[index] + self._room[index]
            for column in a.columns:
                column[begin + shift : end + shift] = column[begin:end]  # numpy: overlap-safe
            shift -= extra[index]
            free = (index << ORIGIN_SHIFT) + FREE
            a.sortable[begin + shift : begin + shift + extra[index]] = free
            end = begin
        moves = np.zeros(len(self._start) + 1, np.int64)
        for index, more in extra.items():
            moves[index + 1] += more
            self._room[index] += more
        self._start = (np.array(self._start, np.int64) + np.cumsum(moves)[:-1]).tolist()
        self._used += total
        self._view = None
        return True

    @property
    def _widths(self) -> tuple[int, int]:
        return len(self.table.values), self._measured

    def _append(self, appends: dict[int, list[Row]]) -> None:
        """Write rows after their keys' last (the room is there), with their sums. The
        positions and owners are made in Python: a live write is a row or two, where
        each numpy call costs more than the loop."""
        if not appends:
            return
        rows = [row for chunk in appends.values() for row in chunk]
        at = np.array(
            [
                self._start[i] + self._count[i] + k
                for i, c in appends.items()
                for k in range(len(c))
            ],
            np.int64,
        )
        owners = np.array([i for i, chunk in appends.items() for _ in chunk], np.int64)
        a = self._arrays
        times = np.array([row[0] for row in rows], np.int64)
        a.times[at] = times
        a.values[at] = np.array([row[2:] for row in rows], np.int64).reshape(len(rows), -1)
        from_origin = np.minimum(np.maximum(times - (self._origin or 0), 0), LAST_MOMENT)
        a.sortable[at] = (owners << ORIGIN_SHIFT) + from_origin
        self._sum(
            at, [len(chunk) for chunk in appends.values()], [not self._count[i] for i in appends]
        )
        for index, chunk in appends.items():
            self._held += len(chunk)
            self._count[index] += len(chunk)
            self._event_keys[index] += [row[1] for row in chunk]

    def _sum(self, at: Int64s, lengths: list[int], fresh: list[bool]) -> None:
        """The sums of the rows just written at ``at``, ``lengths`` per key (``fresh``:
        the key had no rows): each is the row before's, plus its weights times its length."""
        weights = self.table.weights
        if weights is None:
            return
        a = self._arrays
        group = list(accumulate(lengths[:-1], initial=0))  # each key's first row just written
        new = [n for n, f in enumerate(fresh) if f]  # the keys that had no rows
        before = at - 1
        if new:  # a new key's first row: itself (a step of length 0)
            firsts = [group[n] for n in new]
            before[firsts] = at[firsts]
        span = (a.sortable[at] - a.sortable[before])[:, None]  # same key: the times' difference
        step = weights(a.values[before]) * span
        running = np.cumsum(step, axis=0)
        prior = a.sums[before[group]]
        if new:
            prior[new] = 0  # a new key starts from nothing
        base = prior - running[group] + step[group]
        a.sums[at] = np.repeat(base, lengths, axis=0) + running

    def _give_room(self, needs: dict[int, int]) -> bool:
        """Room after every other key's for keys that have none yet (new keys: they come
        last, so the arrays stay sorted). False, and nothing changed, when the arrays'
        spare room is too small (the caller lays every key out then, with the needs of
        all the keys being written: not only these)."""
        if not needs:
            return True
        rooms = {i: need + max(_MIN_ROOM, need // 4) for i, need in sorted(needs.items())}
        if self._used + sum(rooms.values()) > len(self._arrays.times):
            return False
        for index, room in rooms.items():
            self._start[index], self._room[index] = self._used, room
            self._arrays.sortable[self._used : self._used + room] = (index << ORIGIN_SHIFT) + FREE
            self._used += room
        self._view = None
        return True

    # -- retention -----------------------------------------------------------------------

    def drop_before(self, bucket: int) -> None:
        """Forget rows before the bucket that a newer row before it replaces: no answer
        about a time from the bucket on changes, so neither does the version."""
        self._write_pending()
        cutoff, a = bucket * BUCKET_MS, self._arrays
        for index in range(len(self._keys)):
            start, count = self._start[index], self._count[index]
            older = int(np.searchsorted(a.times[start : start + count], cutoff))
            if older > 1:
                drop, left = older - 1, count - older + 1
                for column in a.columns:
                    column[start : start + left] = column[start + drop : start + count].copy()
                a.sums[start : start + left] -= a.sums[start].copy()
                a.sortable[start + left : start + count] = (index << ORIGIN_SHIFT) + FREE
                del self._event_keys[index][:drop]
                self._count[index] = left
                self._held -= drop


@dataclass(frozen=True, slots=True)
class _Arrays:
    times: Int64s
    values: Int64s
    sortable: Int64s
    sums: Int64s

    @property
    def columns(self) -> tuple[Int64s, ...]:
        """Every array with a row per position (what moving rows moves)."""
        return self.times, self.values, self.sortable, self.sums

    @staticmethod
    def empty(rows: int, width: int, measured: int) -> _Arrays:
        return _Arrays(
            times=np.zeros(rows, np.int64),
            values=np.zeros((rows, width), np.int64),
            sortable=np.full(rows, _UNUSED, np.int64),
            sums=np.zeros((rows, measured), np.int64),
        )


def _width_of(table: TimelineTable) -> int:
    assert table.weights is not None
    return int(table.weights(np.zeros((1, len(table.values)), np.int64)).shape[1])


def _order(row: Row) -> tuple[int, bytes]:
    return row[0], row[1]


def _ranges(starts: Int64s, lengths: Int64s) -> Int64s:
    """The positions ``starts[i] .. starts[i] + lengths[i] - 1`` of every i, in order."""
    total = int(lengths.sum())
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    out: Int64s = np.arange(total, dtype=np.int64) + shift
    return out
