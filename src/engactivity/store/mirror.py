"""The in-memory copy of the store's accounts, how it stays equal to the database, and
how it stays within its memory.

An account is loaded on first use and kept while it is among the most recently used
that fit in ``memory_bytes`` (an estimate: the arrays' bytes and a per-row and per-key
overhead, redone for an account each time it changes); the least recently used go
first. Nothing is ever half-evicted: an evicted account is dropped from the map whole
(a reader that holds its copy keeps a consistent one, no longer updated), and is
loaded whole again on next use, with new version numbers (``versions.py``), so no
answer cached for the old copy is taken for the new one's. So that the process's
resident size follows the limit, not only the estimate: a load streams its rows
(``Dialect.stream``) into timeline arrays sized once from the rows' counts
(``_reserve``), first making room for the account (``_make_room``: what it took
before, or what the counts say), and what evictions and loads free is given back to
the system (``heap.py``).

Kept equal to the database two ways, by dialect:

- Not shared (SQLite: one writing process): this process's commits are applied, as
  they become durable, in commit order, to the accounts in memory; those not in memory
  are read when next used. A load must count each committed group exactly once, either
  through its snapshot or through the completer, though it runs on the reader's thread
  while both go on. So each commit gets a number, taken with the COMMIT under a lock
  (``commit``), and the load starts its snapshot under the same lock and notes the
  number it stands at: the snapshot holds exactly the groups numbered up to it. While
  the account loads, the completer keeps the account's groups aside (``_pending``);
  the load then adds those numbered after its snapshot, and is installed, both under
  the map's lock, which the completer takes to choose where a group goes: every later
  group finds the account in memory. The copy keeps the number it holds up to
  (``db_version``), so a group committed before the snapshot but reaching the
  completer after the install is skipped. When another process writes to the file
  (``engactivity import --store``), every account is dropped, a load under way
  included, and read again on next use.
- Shared (PostgreSQL: any number of processes): an account is loaded together with
  the database's version of it, in one snapshot. Each commit takes the next version of
  the accounts it writes; this process applies its own commits when nothing came
  between, and before answering, catches up with the deltas other processes recorded
  (``changes``), or loads the account again when they are gone.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import msgspec

from engactivity.store.database import Database
from engactivity.store.dialect import Connection
from engactivity.store.heap import Heap
from engactivity.store.interface import MemoryStats
from engactivity.store.memory import AccountState
from engactivity.store.schema import SCHEMA_VERSION_QUERY
from engactivity.store.tables import Deltas, Table, TimelineTable

_LOAD_CHUNK = 50_000
_LOAD_LOCKS = 64
_SIZES_KEPT = 100_000
"""Sizes of evicted accounts remembered (the most recent), to make room before a load."""
_TRIM_BYTES = 32 * 2**20
"""The heap is trimmed once this much was freed: a trim walks the heap (milliseconds),
and this much is a small part of any useful limit."""

Batches = list[list[Deltas]]


class Mirror:
    def __init__(
        self,
        db: Database,
        tables: Sequence[Table],
        cutoff: Callable[[], int],
        memory_bytes: int,
    ) -> None:
        self.db = db
        self.tables = tuple(tables)
        self.cutoff = cutoff
        """The oldest bucket retention keeps now: older rows are not loaded."""
        self.memory_bytes = memory_bytes
        self._shared = db.dialect.shared
        self._accounts: OrderedDict[str, AccountState] = OrderedDict()
        """The accounts in memory, least recently used first."""
        self._sizes: dict[str, int] = {}
        self._in_use = 0
        self._loads = 0
        self._evictions = 0
        self._dropped_before = 0
        """The bucket memory last dropped older buckets before (for copies loaded since)."""
        self._lock = threading.Lock()
        """Guards the map and its accounting (never held while reading the database)."""
        self._loading = [threading.Lock() for _ in range(_LOAD_LOCKS)]
        """Held while an account's copy is brought up to date (one load at a time): a
        lock per account would grow with every account ever asked about."""
        self._commit_lock = threading.Lock()
        self._committed = 0
        """Groups this process committed (not shared): see the module's docstring."""
        self._pending: dict[str, list[tuple[int, Batches]]] = {}
        """Per account being loaded (not shared): its groups, with their numbers."""
        self.heap = Heap(_TRIM_BYTES)
        """Evicted accounts, and the rows a load went through, are freed memory."""
        self._last_sizes: OrderedDict[str, int] = OrderedDict()
        """Each evicted account's estimate when it was evicted (``_make_room``)."""

    # -- the accounts ----------------------------------------------------------------------

    def get(self, account_id: str) -> AccountState | None:
        """The account's copy if it is in memory (now its most recently used)."""
        with self._lock:
            found = self._accounts.get(account_id)
            if found is not None:
                self._accounts.move_to_end(account_id)
            return found

    def is_resident(self, account_id: str) -> bool:
        return account_id in self._accounts

    def _placeholder(self, account_id: str) -> AccountState:
        """The account's copy, made empty (not loaded) when it is not in memory (shared)."""
        with self._lock:
            found = self._accounts.get(account_id)
            if found is None:
                found = self._accounts[account_id] = AccountState(self.tables)
                self._sizes[account_id] = 0
            self._accounts.move_to_end(account_id)
            return found

    def _lock_of(self, account_id: str) -> threading.Lock:
        return self._loading[hash(account_id) % _LOAD_LOCKS]

    def stats(self) -> MemoryStats:
        with self._lock:
            return MemoryStats(
                len(self._accounts), self._loads, self._evictions, self._in_use, self.memory_bytes
            )

    def drop_before(self, bucket: int) -> None:
        with self._lock:
            self._dropped_before = max(self._dropped_before, bucket)
            states = list(self._accounts.items())
        for account_id, state in states:
            state.drop_before(bucket)
            self._resize(account_id, state)

    def forget_all(self) -> None:
        """Drop every account, and any load under way (another process wrote)."""
        with self._lock:
            freed = self._in_use
            self._evictions += len(self._accounts)
            self._accounts.clear()
            self._sizes.clear()
            self._in_use = 0
            self._pending.clear()
        self.heap.freed(freed)

    # -- the memory limit --------------------------------------------------------------------

    def _resize(self, account_id: str, state: AccountState) -> None:
        """Count the account's memory again, and evict others while over the limit (what
        either freed counts towards the next trim: dropped buckets, evictions)."""
        with state.lock:
            size = state.nbytes()
        freed = 0
        with self._lock:
            if self._accounts.get(account_id) is state:
                freed = max(0, self._sizes[account_id] - size)
                self._in_use += size - self._sizes[account_id]
                self._sizes[account_id] = size
                freed += self._evict()
        self.heap.freed(freed)

    def _evict(self, room: int = 0) -> int:
        """Least recently used first, until ``room`` more bytes fit; the most recent one
        stays even when over (under the map's lock): the bytes evicted."""
        freed = 0
        while self._in_use + room > self.memory_bytes and len(self._accounts) > 1:
            account_id, _ = self._accounts.popitem(last=False)
            size = self._sizes.pop(account_id)
            self._in_use -= size
            freed += size
            self._evictions += 1
            self._last_sizes[account_id] = size
            self._last_sizes.move_to_end(account_id)
            if len(self._last_sizes) > _SIZES_KEPT:
                self._last_sizes.popitem(last=False)
        return freed

    def _make_room(self, account_id: str, expected: int = 0) -> None:
        """Before a load: evict as much as the account took when it was last evicted (or
        ``expected``, if more: an estimate from the rows it is about to load), so the
        cached accounts and the new one need not be held at once, beside the load's
        working room, above the limit."""
        with self._lock:
            freed = self._evict(max(expected, self._last_sizes.get(account_id, 0)))
        self.heap.freed(freed)

    def _install(self, account_id: str, state: AccountState) -> int:
        """A loaded copy into the map (under the map's lock): the bytes freed, counting
        the rows the load went through as about the copy's size."""
        state.drop_before(self._dropped_before)  # a purge may have passed the snapshot
        size = state.nbytes()
        self._in_use += size - self._sizes.get(account_id, 0)
        self._sizes[account_id] = size
        self._accounts[account_id] = state
        self._accounts.move_to_end(account_id)
        self._loads += 1
        return size + self._evict()

    # -- this process's commits --------------------------------------------------------------

    def commit(self, conn: Connection) -> int:
        """COMMIT the writer's transaction: the group's number (0 when shared)."""
        if self._shared:
            conn.execute("COMMIT")
            return 0
        with self._commit_lock:
            conn.execute("COMMIT")
            self._committed += 1
            return self._committed

    def apply(self, account_id: str, version: int | None, number: int, deltas: Batches) -> None:
        """Add a commit's deltas (one list per batch) to the account's copy, if in memory.

        ``version`` is the database's new version of the account, on a shared dialect:
        the commit is applied only when the copy is at the version just before it
        (otherwise the next answer catches up from the database). Otherwise ``number``
        is the commit's: applied unless the copy's snapshot holds it already.
        """
        with self._lock:
            state = self._accounts.get(account_id)
            if state is None:
                pending = self._pending.get(account_id)
                if pending is not None and deltas:
                    pending.append((number, deltas))
                return
        with state.lock:
            if version is None:
                if number <= state.db_version:
                    return  # loaded with it
            elif state.db_version != version - 1:
                return
            for batch in deltas:
                state.apply([rows.items() for rows in batch])
            state.db_version = number if version is None else version
        self._resize(account_id, state)

    # -- loading (not shared) ----------------------------------------------------------------

    def resident(self, account_id: str) -> AccountState:
        """The account's copy with every group applied so far, loaded if need be."""
        found = self.get(account_id)
        if found is not None:
            return found
        with self._lock_of(account_id):
            while True:
                with self._lock:
                    found = self._accounts.get(account_id)
                    if found is not None:
                        return found
                    pending: list[tuple[int, Batches]] = []
                    self._pending[account_id] = pending
                try:
                    number, loaded = self.db.read(lambda conn: self._load_at(conn, account_id))
                    with self._lock:
                        installed = self._pending.get(account_id) is pending  # else: again
                        if installed:
                            loaded.db_version = number
                            for after, batches in pending:
                                if after > loaded.db_version:
                                    for batch in batches:
                                        loaded.apply([rows.items() for rows in batch])
                                    loaded.db_version = after
                            freed = self._install(account_id, loaded)
                    if installed:
                        self.heap.freed(freed)
                        return loaded
                finally:
                    with self._lock:
                        if self._pending.get(account_id) is pending:
                            del self._pending[account_id]

    def _load_at(self, conn: Connection, account_id: str) -> tuple[int, AccountState]:
        """The account's rows, and the number of the last commit they hold."""
        self.db.dialect.begin(conn, snapshot=True)
        try:
            with self._commit_lock:
                conn.execute(SCHEMA_VERSION_QUERY).fetchone()  # the snapshot starts here
                number = self._committed
            return number, self._read_rows(conn, account_id)
        finally:
            conn.execute("COMMIT")

    # -- loading (shared) --------------------------------------------------------------------

    def fresh(self, account_id: str) -> AccountState:
        """The account's copy with every change committed before this call (shared)."""
        state = self._placeholder(account_id)
        target = self.db.read(lambda conn: self.db.dialect.account_version(conn, account_id))
        if state.db_version >= target:
            return state
        with self._lock_of(account_id):
            if state.db_version < target:
                self.db.read(lambda conn: self._catch_up(conn, account_id, state, target))
        self._resize(account_id, state)
        return state

    def _catch_up(
        self, conn: Connection, account_id: str, state: AccountState, target: int
    ) -> None:
        start = state.db_version
        if start >= 0:
            blobs = self.db.dialect.changes(conn, account_id, start, target)
            if blobs is not None:
                with state.lock:
                    # One blob per version, from start + 1. This process's own commits
                    # may have been applied meanwhile (``apply`` takes only the state's
                    # lock): those versions are in the copy already.
                    for blob in blobs[max(0, state.db_version - start) :]:
                        for batch in decode(blob, self.tables):
                            state.apply([rows.items() for rows in batch])
                    state.db_version = max(state.db_version, target)
                return
        # Never loaded, or some deltas were pruned already: load the account afresh.
        version, loaded = self._load_account(conn, account_id)
        with self._lock:
            dropped = self._dropped_before
            self._loads += 1
        loaded.drop_before(dropped)  # a purge may have passed the snapshot
        freed = loaded.nbytes()  # about what the rows the load went through took
        with state.lock:
            freed += state.nbytes()  # and the tables replaced
            state.tables = loaded.tables
            state.db_version = version
        self.heap.freed(freed)

    def _load_account(self, conn: Connection, account_id: str) -> tuple[int, AccountState]:
        """The account's rows and the version they are at, in one snapshot."""
        dialect = self.db.dialect
        dialect.begin(conn, snapshot=True)
        try:
            version = dialect.account_version(conn, account_id)
            return version, self._read_rows(conn, account_id)
        finally:
            conn.execute("COMMIT")

    def _read_rows(self, conn: Connection, account_id: str) -> AccountState:
        """The account's retained rows of every table (in the caller's transaction)."""
        loaded = AccountState(self.tables)
        self._make_room(account_id, self._reserve(conn, account_id, loaded))
        for table in self.tables:
            kept, params = table.retained(self.cutoff())
            statement = self.db.sql(table.select(f"account_id = ? AND {kept}"))
            rows = self.db.dialect.stream(conn, statement, [account_id, *params], _LOAD_CHUNK)
            for chunk in rows:
                loaded.tables[table.name].apply(table.split(r[1:]) for r in chunk)
        return loaded

    def _reserve(self, conn: Connection, account_id: str, loaded: AccountState) -> int:
        """Size the timelines' arrays once from their keys' row counts (most of a large
        account): the bytes reserved, an estimate of the account to make room for."""
        reserved = 0
        for table in self.tables:
            if isinstance(table, TimelineTable):
                kept, params = table.retained(self.cutoff())
                counts = self.db.sql(table.counts(f"account_id = ? AND {kept}"))
                found = conn.execute(counts, [account_id, *params]).fetchall()
                width = len(table.keys)
                keyed = ((tuple(row[:width]), int(row[width])) for row in found)
                reserved += loaded.timeline(table).reserve(keyed)
        return reserved


# -- deltas between processes ----------------------------------------------------------------
#
# A commit's deltas are recorded for other processes in MessagePack: per batch, per table,
# its rows as [key, values].


def encode(batches: list[list[Deltas]], tables: Sequence[Table]) -> bytes:
    return _encode([[list(rows.items()) for rows in batch] for batch in batches])


def decode(blob: bytes, tables: Sequence[Table]) -> list[list[Deltas]]:
    return [
        [{tuple(key): values for key, values in rows} for rows in batch]
        for batch in msgspec.msgpack.decode(blob)
    ]


_encode = msgspec.msgpack.Encoder().encode
