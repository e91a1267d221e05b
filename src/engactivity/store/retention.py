"""Retention: dropping what is older than the retention, a little at a time.

Runs on the writer thread between write groups, in small steps so that ingestion
never waits long, even after a long downtime or with thousands of accounts: a step
works through the accounts for at most ``STEP_S`` (at least one), and for each removes
the oldest expired bucket of its tables (their keys start with the account and the
bucket) and one slice of its event ids (once an hour of buckets expired,
``id_sweep.py``); the next step goes on with the accounts
after. An account found with nothing expired is left alone until the cutoff moves:
nothing older than the cutoff can arrive (such events are refused as expired). When
old data remains, the next step comes soon; otherwise in half a minute. Memory drops
the expired buckets when the cutoff moves, after every group committed before it.
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
STEP_S = 0.01
"""The writer's time a step may take (it looks at one account at least). A step over
every account held ingestion for seconds once there were thousands of them."""

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
        self._clean: dict[str, int] = {}
        """Per account, the cutoff it was last found with nothing expired under."""
        self._pending: list[str] = []
        """The accounts still to look at in this pass over them."""
        self._pass_cutoff = -1
        """The cutoff this pass looks under."""
        self._unfinished = False
        """Whether an account of this pass still had something expired."""
        self._changes_due = 0.0
        """When the dialect's timed records are next removed (time.monotonic)."""

    def step(self, conn: Connection, now_ms: int, on_completer: CallCompleter) -> int:
        """One step; schedules the next. Rows removed."""
        removed, more = self._step(conn, now_ms, on_completer, explicit=False)
        self.next_step = time.monotonic() + (_AGAIN_S if more else _EVERY_S)
        return removed

    def purge_all(self, conn: Connection, now_ms: int, on_completer: CallCompleter) -> int:
        """Every step until nothing expired remains (waits for its turn). Every account is
        looked at: ``now_ms`` may be ahead of the clock, whose accounts found clean may
        still take events that this cutoff expires."""
        self._clean.clear()
        self._pending = []
        total, more = 0, True
        while more:
            removed, more = self._step(conn, now_ms, on_completer, explicit=True)
            total += removed
        return total

    def failed(self) -> None:
        self.next_step = time.monotonic() + _EVERY_S
        # The step's deletes may have been rolled back: no account is known clean.
        self._clean.clear()
        self._pending = []

    def memory_reloaded(self) -> None:
        self._memory_cutoff = None
        self._clean.clear()  # another process wrote: look at every account again

    def _step(
        self, conn: Connection, now_ms: int, on_completer: CallCompleter, explicit: bool
    ) -> tuple[int, bool]:
        """``explicit``: a purge asked for (``purge_all``), which waits for its turn and
        sweeps event ids at once."""
        cutoff = retention_cutoff_bucket(now_ms, self._retention_ms)
        if cutoff != self._memory_cutoff:
            # Only when it moved (a step comes every 50 ms while old data remains), and
            # after every group committed so far has been applied.
            on_completer(lambda: self._mirror.drop_before(cutoff))
            self._memory_cutoff = cutoff
        removed = 0
        with self._db.dialect.purge_turn(conn, explicit) as mine:
            if not mine:
                return 0, False  # another process is purging
            if time.monotonic() >= self._changes_due:
                self._db.dialect.purge_changes(conn)
                self._changes_due = time.monotonic() + _EVERY_S
            if not self._pending or cutoff != self._pass_cutoff:
                # A pass ends clean only if every account was looked at under one cutoff.
                self._pending = self._to_look_at(conn, cutoff)
                self._pass_cutoff = cutoff
                self._unfinished = False
            deadline = time.monotonic() + STEP_S
            while self._pending:
                account_id = self._pending.pop()
                purged, done = self._purge_account(conn, account_id, cutoff, eager=explicit)
                removed += purged
                if done:
                    self._clean[account_id] = cutoff
                else:
                    self._unfinished = True
                if time.monotonic() >= deadline:
                    break
        self.purged_rows += removed
        return removed, bool(self._pending) or self._unfinished

    def _to_look_at(self, conn: Connection, cutoff: int) -> list[str]:
        """The accounts not found clean under ``cutoff`` (a new pass)."""
        accounts = [row[0] for row in conn.execute(ACCOUNTS).fetchall()]
        return [a for a in reversed(accounts) if self._clean.get(a, -1) < cutoff]

    def _purge_account(
        self, conn: Connection, account_id: str, cutoff: int, eager: bool
    ) -> tuple[int, bool]:
        """The account's oldest expired bucket of each table and a slice of its event ids
        (those once an hour of buckets expired, or at once when ``eager``: an explicit
        purge): (rows removed, nothing expired is left)."""
        removed, done = 0, True
        for table in self._tables:
            statement, params = table.purge(account_id, cutoff)
            deleted = max(0, conn.execute(self._db.sql(statement), params).rowcount)
            removed += deleted
            done = done and deleted == 0
        swept, swept_all = self._db.dialect.purge_ids(conn, account_id, cutoff, eager)
        return removed + swept, done and swept_all

    def stats(self, conn: Connection) -> TableStats | None:
        counted = list(self._db.dialect.count_rows(conn, self._tables))
        if not counted:
            return None
        rows = sum(int(r) for r, _, _ in counted)
        newest = [n for _, n, _ in counted if n is not None]
        oldest = [o for _, _, o in counted if o is not None]
        return TableStats(rows, max(newest, default=None), min(oldest, default=None))
