"""Expiring event ids without an index by bucket: each account's ids are swept in the
order of the primary key (account, id), a slice per retention step.

An index by bucket would be one more index entry per event, written with the event
(on SQLite it was as large as the table and doubled the pages written per event; on
PostgreSQL it was a sixth of the dedup insert's time), for a delete done once per
bucket. A sweep reads what the primary key already holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SWEEP_IDS = 20_000
"""Event ids looked at per retention step (a few milliseconds of the writer's time)."""
SWEEP_EVERY_BUCKETS = 12
"""Buckets the cutoff moves between two sweeps of an account (an hour): a sweep reads
every id of the account to delete those of the buckets expired since the last, so
sweeping once per bucket read the whole table every five minutes (on the standard
day, seconds of the writer's time in slices every 50 ms, beside the answers). Ids are
kept up to an hour longer instead: a repeated id is a duplicate whenever it comes
(EVENTS.md), so they are only more duplicates found, never fewer."""

_LAST_OF_SLICE = (
    "SELECT MAX(event_id) FROM (SELECT event_id FROM seen_event "
    "WHERE account_id = ? AND event_id > ? ORDER BY event_id LIMIT ?) AS slice"
)
_DELETE_SLICE = (
    "DELETE FROM seen_event WHERE account_id = ? AND event_id > ? AND event_id <= ? AND bucket < ?"
)


class IdSweep:
    """Where each account's sweep is (the writer thread's; per process: a sweep another
    process already did is done again, which removes nothing more)."""

    def __init__(self, sql: Callable[[str], str]) -> None:
        self._last_of_slice = sql(_LAST_OF_SLICE)
        self._delete_slice = sql(_DELETE_SLICE)
        self.under_way: dict[str, tuple[str, int]] = {}
        """Per account with a sweep under way: the last event id swept, and the cutoff
        bucket in force when the sweep began."""
        self._swept_to: dict[str, int] = {}
        """Per account, the cutoff bucket of its last complete sweep."""

    def step(self, conn: Any, account_id: str, cutoff: int, eager: bool) -> tuple[int, bool]:
        """Sweep the next slice of the account's ids, once the cutoff moved
        :data:`SWEEP_EVERY_BUCKETS` since its last sweep (``eager``: an explicit purge,
        as soon as it moved at all; the first since the process started, at once); a
        sweep that the cutoff overtakes starts again: (ids removed, done)."""
        if account_id not in self.under_way and not self._due(account_id, cutoff, eager):
            return 0, True
        start, began = self.under_way.get(account_id, ("", cutoff))  # every id sorts after ''
        (end,) = conn.execute(self._last_of_slice, (account_id, start, SWEEP_IDS)).fetchone()
        if end is None:
            if began < cutoff:
                # The cutoff moved during the sweep: the ids swept before it moved may
                # hold newly expired ones.
                self.under_way[account_id] = ("", cutoff)
                return 0, False
            self.under_way.pop(account_id, None)
            self._swept_to[account_id] = cutoff
            return 0, True
        self.under_way[account_id] = (end, began)
        cursor = conn.execute(self._delete_slice, (account_id, start, end, cutoff))
        return max(0, int(cursor.rowcount)), False

    def _due(self, account_id: str, cutoff: int, eager: bool) -> bool:
        swept_to = self._swept_to.get(account_id)
        if swept_to is None:
            return True
        return cutoff > swept_to if eager else cutoff >= swept_to + SWEEP_EVERY_BUCKETS
