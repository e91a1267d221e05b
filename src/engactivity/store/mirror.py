"""The in-memory copy of the store's accounts, and how it stays equal to the database.

Two ways, by dialect:

- Not shared (SQLite: one writing process): every account is loaded at start, and
  this process's commits are applied as they become durable, in commit order. When
  another process writes to the file (``engactivity import --store``), everything is
  loaded again.
- Shared (PostgreSQL: any number of processes): an account is loaded on first use,
  together with the database's version of it, in one snapshot. Each commit takes the
  next version of the accounts it writes; this process applies its own commits when
  nothing came between, and before answering, catches up with the deltas other
  processes recorded (``changes``), or loads the account again when they are gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from engactivity.store.database import Database
from engactivity.store.dialect import Connection
from engactivity.store.memory import AccountState
from engactivity.store.tables import BucketTable, Deltas

_LOAD_CHUNK = 50_000
_INT64 = np.dtype("<i8")


class Mirror:
    def __init__(
        self, db: Database, tables: Sequence[BucketTable], cutoff: Callable[[], int]
    ) -> None:
        self.db = db
        self.tables = tuple(tables)
        self.cutoff = cutoff
        """The oldest bucket retention keeps now: older rows are not loaded."""
        self._accounts: dict[str, AccountState] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        """Per account: held while its copy is brought up to date (one catch-up at a time)."""

    # -- the accounts ----------------------------------------------------------------------

    def get(self, account_id: str) -> AccountState | None:
        return self._accounts.get(account_id)

    def account(self, account_id: str) -> AccountState:
        found = self._accounts.get(account_id)
        if found is None:
            with self._lock:
                found = self._accounts.setdefault(account_id, AccountState(self.tables))
                self._loading.setdefault(account_id, threading.Lock())
        return found

    def drop_before(self, bucket: int) -> None:
        for state in list(self._accounts.values()):
            state.drop_before(bucket)

    def apply(self, account_id: str, version: int | None, deltas: list[list[Deltas]]) -> None:
        """Add a commit's deltas (one list per batch) to the account's copy.

        ``version`` is the database's new version of the account, on a shared dialect:
        the commit is applied only when the copy is at the version just before it
        (otherwise the next answer catches up from the database).
        """
        if version is None:
            state = self.account(account_id)
        else:
            found = self.get(account_id)
            if found is None:
                return
            state = found
        with state.lock:
            if version is not None and state.db_version != version - 1:
                return
            for batch in deltas:
                state.apply([rows.items() for rows in batch])
            if version is not None:
                state.db_version = version

    # -- loading -----------------------------------------------------------------------------

    def load_all(self, conn: Connection) -> None:
        """Every row of every table into fresh copies (non-shared dialects, at start)."""
        fresh: dict[str, AccountState] = {}
        for table in self.tables:
            cursor = conn.execute(
                self.db.sql(table.select("bucket >= ?") + " ORDER BY account_id"), (self.cutoff(),)
            )
            while chunk := cursor.fetchmany(_LOAD_CHUNK):
                by_account: dict[str, list[tuple[tuple[int, ...], list[int]]]] = {}
                split = 2 + len(table.keys)
                for row in chunk:
                    by_account.setdefault(row[0], []).append((row[1:split], row[split:]))
                for account_id, rows in by_account.items():
                    state = fresh.get(account_id)
                    if state is None:
                        state = fresh[account_id] = AccountState(self.tables)
                    state.tables[table.name].apply(rows)
        with self._lock:
            for account_id in fresh:
                self._loading.setdefault(account_id, threading.Lock())
            self._accounts = fresh

    def fresh(self, account_id: str) -> AccountState:
        """The account's copy with every change committed before this call (shared)."""
        state = self.account(account_id)
        target = self.db.read(lambda conn: self.db.dialect.account_version(conn, account_id))
        if state.db_version >= target:
            return state
        with self._loading[account_id]:
            if state.db_version < target:
                self.db.read(lambda conn: self._catch_up(conn, account_id, state, target))
        return state

    def _catch_up(
        self, conn: Connection, account_id: str, state: AccountState, target: int
    ) -> None:
        if state.db_version >= 0:
            blobs = self.db.dialect.changes(conn, account_id, state.db_version, target)
            if blobs is not None:
                with state.lock:
                    for blob in blobs:
                        for batch in decode(blob, self.tables):
                            state.apply([rows.items() for rows in batch])
                    state.db_version = target
                return
        # Never loaded, or some deltas were pruned already: load the account afresh.
        version, loaded = self._load_account(conn, account_id)
        with state.lock:
            state.tables = loaded.tables
            state.db_version = version

    def _load_account(self, conn: Connection, account_id: str) -> tuple[int, AccountState]:
        """The account's rows and the version they are at, in one snapshot."""
        dialect = self.db.dialect
        loaded = AccountState(self.tables)
        dialect.begin(conn, snapshot=True)
        try:
            version = dialect.account_version(conn, account_id)
            for table in self.tables:
                cursor = conn.execute(
                    self.db.sql(table.select("account_id = ? AND bucket >= ?")),
                    (account_id, self.cutoff()),
                )
                split = 2 + len(table.keys)
                while chunk := cursor.fetchmany(_LOAD_CHUNK):
                    loaded.tables[table.name].apply((r[1:split], r[split:]) for r in chunk)
        finally:
            conn.execute("COMMIT")
        return version, loaded


# -- deltas between processes ----------------------------------------------------------------
#
# A commit's deltas are recorded for other processes as int64s: per batch, per table, the
# number of rows, then each row's key (bucket first) and values.


def encode(batches: list[list[Deltas]], tables: Sequence[BucketTable]) -> bytes:
    flat: list[int] = []
    for batch in batches:
        for rows in batch:
            flat.append(len(rows))
            for key, values in rows.items():
                flat.extend(key)
                flat.extend(values)
    return np.array(flat, _INT64).tobytes()


def decode(blob: bytes, tables: Sequence[BucketTable]) -> list[list[Deltas]]:
    numbers = np.frombuffer(blob, _INT64).tolist()
    batches: list[list[Deltas]] = []
    at = 0
    while at < len(numbers):
        batch: list[Deltas] = []
        for table in tables:
            count = numbers[at]
            at += 1
            split = 1 + len(table.keys)  # the bucket and the keys
            width = split + table.width
            rows: Deltas = {}
            for start in range(at, at + count * width, width):
                rows[tuple(numbers[start : start + split])] = numbers[start + split : start + width]
            at += count * width
            batch.append(rows)
        batches.append(batch)
    return batches
