"""Retention: dropping what is older than the retention, a little at a time.

Runs on the writer thread between write groups, in small steps so that ingestion
never waits long, even after a long downtime: each step removes the oldest expired
bucket of every account's tables (their keys start with the account and the bucket),
and one step of the dialect's purge of event ids. When old data remains, the next
step comes soon; otherwise in half a minute. Memory drops the expired buckets when
the cutoff moves, after every group committed before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from engactivity.clock import Clock
from engactivity.store.database import Database
from engactivity.store.dialect import Connection
from engactivity.store.interface import TableStats, retention_cutoff_bucket
from engactivity.store.mirror import Mirror
from engactivity.store.schema import ACCOUNTS
from engactivity.store.tables import Table

_EVERY_S = 30.0
_AGAIN_S = 0.05
"""When old data remains after one step, the next step comes this soon."""

CallCompleter = Callable[[Callable[[], Any]], Future[Any]]


class Retention:
    def __init__(
        self,
        db: Database,
        tables: Sequence[Table],
        clock: Clock,
        retention_ms: int,
        mirror: Mirror,
    ) -> None:
        self._db = db
        self._tables = tables
        self._clock = clock
        self._retention_ms = retention_ms
        self._mirror = mirror
        self.next_step = time.monotonic()
        """When the writer should run the next step (time.monotonic)."""
        self.purged_rows = 0
        """Rows removed since the store was opened (read by /metrics)."""
        self._memory_cutoff: int | None = None
        """The cutoff memory last dropped buckets before (writer thread only)."""

    def step(self, conn: Connection, now_ms: int, on_completer: CallCompleter) -> int:
        """One step; schedules the next. Rows removed."""
        removed, more = self._step(conn, now_ms, on_completer, wait=False)
        self.next_step = time.monotonic() + (_AGAIN_S if more else _EVERY_S)
        return removed

    def purge_all(self, conn: Connection, now_ms: int, on_completer: CallCompleter) -> int:
        """Every step until nothing expired remains (waits for its turn)."""
        total, more = 0, True
        while more:
            removed, more = self._step(conn, now_ms, on_completer, wait=True)
            total += removed
        return total

    def failed(self) -> None:
        self.next_step = time.monotonic() + _EVERY_S

    def memory_reloaded(self) -> None:
        self._memory_cutoff = None

    def _step(
        self, conn: Connection, now_ms: int, on_completer: CallCompleter, wait: bool
    ) -> tuple[int, bool]:
        cutoff = retention_cutoff_bucket(now_ms, self._retention_ms)
        if cutoff != self._memory_cutoff:
            # Only when it moved (a step comes every 50 ms while old data remains), and
            # after every group committed so far has been applied.
            on_completer(lambda: self._mirror.drop_before(cutoff))
            self._memory_cutoff = cutoff
        removed, more = 0, False
        with self._db.dialect.purge_turn(conn, wait) as mine:
            if not mine:
                return 0, False  # another process is purging
            sql = self._db.sql
            accounts = [row[0] for row in conn.execute(ACCOUNTS).fetchall()]
            for account_id in accounts:
                for table in self._tables:
                    statement, params = table.purge(account_id, cutoff)
                    deleted = conn.execute(sql(statement), params).rowcount
                    removed += max(0, deleted)
                    more = more or deleted > 0
                swept, done = self._db.dialect.purge_ids(conn, account_id, cutoff)
                removed += swept
                more = more or not done
        self.purged_rows += removed
        return removed, more

    def stats(self, conn: Connection) -> TableStats | None:
        counted = list(self._db.dialect.count_rows(conn, self._tables))
        if not counted:
            return None
        rows = sum(int(r) for r, _, _ in counted)
        newest = [n for _, n, _ in counted if n is not None]
        oldest = [o for _, _, o in counted if o is not None]
        return TableStats(rows, max(newest, default=None), min(oldest, default=None))
