"""What differs between the databases the store runs on: a small object per database.

Everything else (the writer with group commit, deduplication, batch failure, the
completer, retention, the in-memory copy and how it is kept fresh, error mapping) is
written once, in ``engine.py`` and ``database.py``, against this interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from enum import Enum
from typing import Any, Protocol

from engactivity.store.tables import Table

Connection = Any
"""A DB-API connection of the dialect's driver (sqlite3 or psycopg)."""


class OnWriteError(Enum):
    """What the writer does when a group's transaction fails."""

    FAIL = "fail"
    """Refuse the group's batches (503); nothing of them was stored."""
    RETRY = "retry"
    """Run the transaction again (a serialization failure, a deadlock)."""
    RECONNECT = "reconnect"
    """Run it again on a fresh connection (the server dropped this one before COMMIT)."""


class Dialect(Protocol):
    name: str
    shared: bool
    """Other processes write the same data: an account's in-memory copy is loaded on
    first use and checked against the database's version of it before each answer.
    Otherwise every account is loaded at start and this process's writes keep it."""
    blocking: bool
    """Reads are network round trips: callers keep them off the event loop."""
    bytes_type: str
    """The column type of byte strings."""
    set_based: bool
    """The writer records a whole group's ids, and merges its rows into each table, in
    one statement each (``insert_ids``, ``upsert_rows``): statements are round trips.
    Otherwise it runs each batch's own statements (``WriteJob``)."""

    @property
    def stored_id(self) -> Callable[[str], str] | None:
        """How the database holds an event id, when not as it is."""
        ...

    # -- statements and connections ------------------------------------------------------

    def sql(self, statement: str) -> str:
        """A statement written with ``?`` placeholders, in this dialect."""
        ...

    def migrate(self, conn: Connection, tables: Sequence[Table]) -> int:
        """Create or upgrade the schema (idempotent); the schema version in force."""
        ...

    def ensure(self, conn: Connection, ddl: str) -> None:
        """Run CREATE ... IF NOT EXISTS statements, one process at a time."""
        ...

    def reading(self) -> AbstractContextManager[Connection]:
        """A connection for reads (autocommit)."""
        ...

    def writing(self) -> AbstractContextManager[Connection]:
        """A connection for short writes, durable at COMMIT (autocommit; the caller
        begins transactions)."""
        ...

    def writer(self) -> AbstractContextManager[Connection]:
        """The writer thread's connection: its commits are made durable by ``sync``."""
        ...

    def retry_read(self, exc: BaseException) -> bool:
        """Whether a failed read may be run once more (its connection was replaced)."""
        ...

    def in_transaction(self, conn: Connection) -> bool: ...

    def unavailable(self, exc: BaseException) -> Exception | None:
        """The StoreUnavailable a driver error means, or None when it is not the driver's."""
        ...

    def begin(self, conn: Connection, snapshot: bool = False) -> None:
        """Begin a write transaction, or with ``snapshot`` a consistent read-only one."""
        ...

    def close(self) -> None: ...

    # -- writing ---------------------------------------------------------------------------

    def stored_ids(self, conn: Connection, account_id: str, event_ids: list[str]) -> set[str]:
        """Which of ``event_ids`` the account has stored already."""
        ...

    def claim_accounts(self, conn: Connection, accounts: list[str]) -> dict[str, int]:
        """In a write transaction, before anything else (after everything else when
        ``set_based``): make sure the accounts exist, and where the database keeps
        versions, take the next version of each (holding the account until COMMIT).
        Accounts come sorted, so writers never deadlock."""
        ...

    def record_changes(self, conn: Connection, changes: list[tuple[str, int, bytes]]) -> None:
        """Keep the deltas of each (account, version, deltas) for other processes (shared
        only)."""
        ...

    def insert_ids(
        self,
        conn: Connection,
        accounts: list[str],
        ids: list[str],
        buckets: list[int],
        returning: bool,
    ) -> int | set[tuple[str, str]]:
        """Record a group's event ids (no (account, id) twice), skipping those stored:
        how many were new, or with ``returning`` which ones (set-based only). Without
        ``returning`` a dialect may instead fail the statement at the first id stored
        before and answer fewer than given: the caller rolls back either way."""
        ...

    def upsert_rows(self, conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
        """Merge rows (account, key..., values..., no key twice) into ``table`` (set-based
        only)."""
        ...

    def on_write_error(self, exc: Exception, conn: Connection, committing: bool) -> OnWriteError:
        """What a failed write transaction calls for."""
        ...

    def sync(self) -> None:
        """Make every committed transaction durable (raise OSError when that failed)."""
        ...

    # -- noticing other processes' writes ------------------------------------------------

    def changed_elsewhere(self, conn: Connection) -> bool:
        """Whether another process wrote since the last call (non-shared dialects)."""
        ...

    def account_version(self, conn: Connection, account_id: str) -> int:
        """The database's version of the account (shared dialects)."""
        ...

    def changes(
        self, conn: Connection, account_id: str, after: int, upto: int
    ) -> list[bytes] | None:
        """The recorded deltas of versions ``after+1..upto``; None when some are gone."""
        ...

    # -- retention -------------------------------------------------------------------------

    def purge_turn(self, conn: Connection, wait: bool) -> AbstractContextManager[bool]:
        """Whether this process may purge now (one process at a time), for the block."""
        ...

    def purge_ids(
        self, conn: Connection, account_id: str, cutoff: int, eager: bool
    ) -> tuple[int, bool]:
        """One step of removing the account's event ids of buckets before ``cutoff``
        (``eager``: an explicit purge; else once an hour of buckets expired, ``id_sweep``):
        (rows removed, done)."""
        ...

    def purge_changes(self, conn: Connection) -> None:
        """Remove what the dialect keeps for a few minutes of real time, whatever the
        cutoff (PostgreSQL: the deltas other processes catch up from)."""
        ...

    def stream(
        self, conn: Connection, statement: str, params: Sequence[Any], chunk: int
    ) -> Iterator[Sequence[Sequence[Any]]]:
        """A query's rows, ``chunk`` at a time, never all held at once (in the caller's
        transaction): how an account is loaded into memory."""
        ...

    def count_rows(self, conn: Connection, tables: Sequence[Table]) -> Iterator[Any]:
        """(rows, newest bucket, oldest bucket) of each table, where that is cheap."""
        ...
