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
from typing import Any

import msgspec

from engactivity.store.database import Database
from engactivity.store.dialect import Connection
from engactivity.store.memory import AccountState
from engactivity.store.tables import Deltas, RowKey, Table

_LOAD_CHUNK = 50_000


class Mirror:
    def __init__(self, db: Database, tables: Sequence[Table], cutoff: Callable[[], int]) -> None:
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
            kept, params = table.retained(self.cutoff())
            cursor = conn.execute(self.db.sql(table.select(kept) + " ORDER BY account_id"), params)
            while chunk := cursor.fetchmany(_LOAD_CHUNK):
                by_account: dict[str, list[tuple[RowKey, list[Any]]]] = {}
                for row in chunk:
                    by_account.setdefault(row[0], []).append(table.split(row[1:]))
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
                kept, params = table.retained(self.cutoff())
                cursor = conn.execute(
                    self.db.sql(table.select(f"account_id = ? AND {kept}")), [account_id, *params]
                )
                while chunk := cursor.fetchmany(_LOAD_CHUNK):
                    loaded.tables[table.name].apply(table.split(r[1:]) for r in chunk)
        finally:
            conn.execute("COMMIT")
        return version, loaded


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
