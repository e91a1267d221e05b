"""The embedded database: one SQLite file in WAL mode, written by one process.

Connections are per thread. The writer thread's commits skip the fsync
(``synchronous=NORMAL``): ``sync`` fsyncs the write-ahead log afterwards, which makes
every commit before it durable, so one flush serves every group committed meanwhile.
With ``--sync normal`` there is no fsync at all (a crash of the process loses nothing;
a power loss may). Other writes (keys) commit with ``synchronous=FULL``. Readers never
wait for the writer (WAL); they give up after half a second on a file locked by
something else (a restore), so the event loop never stalls on one.

Another process writing the file (``engactivity import --store`` beside a server) is
noticed through ``PRAGMA data_version``. Event ids have no index by bucket (it was as
large as the table and doubled the pages written per event): retention sweeps each
account's ids instead, a slice per step (``id_sweep.py``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Literal

import orjson

from engactivity.store.dialect import OnWriteError
from engactivity.store.id_sweep import IdSweep
from engactivity.store.interface import StoreUnavailable
from engactivity.store.schema import (
    ID_ROWS_PER_STATEMENT,
    SCHEMA_VERSION,
    UPSERT_META,
    schema,
)
from engactivity.store.tables import Table

Synchronous = Literal["FULL", "NORMAL"]

_READ_BUSY_S = 0.5
_WRITE_BUSY_S = 30.0


class SQLiteDialect:
    name = "sqlite"
    shared = False
    blocking = False
    bytes_type = "BLOB"
    set_based = False  # a statement is a function call: each batch runs its own
    stored_id = None  # ids are held as they are

    def __init__(self, path: Path, synchronous: Synchronous = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._wal = _WriteAheadLog(Path(f"{path}-wal"))
        self._data_version: int | None = None
        self.id_sweep = IdSweep(self.sql)
        path.parent.mkdir(parents=True, exist_ok=True)

    # -- connections -----------------------------------------------------------------------

    def _connection(self, kind: str) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, kind, None)
        if conn is None:
            if self._closed:
                raise StoreUnavailable("the store is closed")
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=_WRITE_BUSY_S
            )
            conn.execute("PRAGMA journal_mode=WAL")
            if kind == "reader":
                conn.execute("PRAGMA query_only=1")
                conn.execute(f"PRAGMA busy_timeout={int(_READ_BUSY_S * 1000)}")
            elif kind == "writer":
                conn.execute("PRAGMA synchronous=NORMAL")  # sync() makes commits durable
                conn.execute("PRAGMA cache_size=-262144")
            else:
                conn.execute("PRAGMA synchronous=FULL")
            setattr(self._local, kind, conn)
            with self._lock:
                self._opened.append(conn)
        return conn

    def reading(self) -> nullcontext[sqlite3.Connection]:
        return nullcontext(self._connection("reader"))

    def writing(self) -> nullcontext[sqlite3.Connection]:
        return nullcontext(self._connection("short"))

    def writer(self) -> nullcontext[sqlite3.Connection]:
        return nullcontext(self._connection("writer"))

    def sql(self, statement: str) -> str:
        return statement

    def unavailable(self, exc: BaseException) -> Exception | None:
        if isinstance(exc, sqlite3.Error):
            return StoreUnavailable(f"the store is not available: {exc}")
        return None

    def retry_read(self, exc: BaseException) -> bool:
        return False

    def begin(self, conn: sqlite3.Connection, snapshot: bool = False) -> None:
        conn.execute("BEGIN" if snapshot else "BEGIN IMMEDIATE")

    def in_transaction(self, conn: sqlite3.Connection) -> bool:
        return conn.in_transaction

    def migrate(self, conn: sqlite3.Connection, tables: Sequence[Table]) -> int:
        conn.executescript(schema(tables, self.bytes_type))
        # Files made by earlier versions have it; ids are swept instead.
        conn.execute("DROP INDEX IF EXISTS seen_event_by_bucket")
        conn.execute(UPSERT_META, ("schema_version", str(SCHEMA_VERSION)))
        return SCHEMA_VERSION

    def ensure(self, conn: sqlite3.Connection, ddl: str) -> None:
        conn.executescript(ddl)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._opened:
                conn.close()
            self._opened.clear()
        self._wal.close()

    # -- writing ---------------------------------------------------------------------------

    def stored_ids(
        self, conn: sqlite3.Connection, account_id: str, event_ids: list[str]
    ) -> set[str]:
        """Each statement answers one row (a JSON array): the writer gives up the GIL for
        each row it steps through, and must win it back from the event loop."""
        stored: set[str] = set()
        for start in range(0, len(event_ids), ID_ROWS_PER_STATEMENT):
            chunk = event_ids[start : start + ID_ROWS_PER_STATEMENT]
            (found,) = conn.execute(
                "SELECT json_group_array(event_id) FROM seen_event "
                f"WHERE account_id = ? AND event_id IN ({','.join('?' * len(chunk))})",
                [account_id, *chunk],
            ).fetchone()
            stored.update(orjson.loads(found))
        return stored

    def claim_accounts(self, conn: sqlite3.Connection, accounts: list[str]) -> dict[str, int]:
        if accounts:
            conn.execute(
                "INSERT INTO account (account_id) VALUES "
                + ",".join(["(?)"] * len(accounts))
                + " ON CONFLICT DO NOTHING",
                accounts,
            )
        return {}  # one writing process: no versions to keep

    def record_changes(
        self, conn: sqlite3.Connection, changes: list[tuple[str, int, bytes]]
    ) -> None:
        raise AssertionError("a SQLite store keeps no versions")

    def insert_ids(
        self,
        conn: sqlite3.Connection,
        accounts: list[str],
        ids: list[str],
        buckets: list[int],
        returning: bool,
    ) -> int | set[tuple[str, str]]:
        raise AssertionError("SQLite runs each batch's statements")

    def upsert_rows(
        self, conn: sqlite3.Connection, table: Table, rows: list[tuple[Any, ...]]
    ) -> None:
        raise AssertionError("SQLite runs each batch's statements")

    def on_write_error(
        self, exc: Exception, conn: sqlite3.Connection | None, committing: bool
    ) -> OnWriteError:
        return OnWriteError.FAIL

    def sync(self) -> None:
        if self.synchronous == "FULL":
            self._wal.sync()

    # -- noticing other processes' writes ------------------------------------------------

    def changed_elsewhere(self, conn: sqlite3.Connection) -> bool:
        (seen,) = conn.execute("PRAGMA data_version").fetchone()
        changed = self._data_version is not None and seen != self._data_version
        self._data_version = seen
        return changed

    def account_version(self, conn: sqlite3.Connection, account_id: str) -> int:
        raise AssertionError("a SQLite store keeps no versions")

    def changes(
        self, conn: sqlite3.Connection, account_id: str, after: int, upto: int
    ) -> list[bytes] | None:
        raise AssertionError("a SQLite store keeps no versions")

    # -- retention -------------------------------------------------------------------------

    def purge_turn(self, conn: sqlite3.Connection, wait: bool) -> nullcontext[bool]:
        return nullcontext(True)  # one process writes

    def purge_ids(
        self, conn: sqlite3.Connection, account_id: str, cutoff: int, eager: bool
    ) -> tuple[int, bool]:
        return self.id_sweep.step(conn, account_id, cutoff, eager)

    def purge_changes(self, conn: sqlite3.Connection) -> None:
        return None  # a SQLite store records no deltas

    def stream(
        self, conn: sqlite3.Connection, statement: str, params: Sequence[Any], chunk: int
    ) -> Iterator[list[Any]]:
        cursor = conn.execute(statement, params)  # SQLite steps through rows as asked
        while rows := cursor.fetchmany(chunk):
            yield rows

    def count_rows(
        self, conn: sqlite3.Connection, tables: Sequence[Table]
    ) -> Iterator[tuple[int, int | None, int | None]]:
        for table in tables:
            if table.bucketed:
                yield conn.execute(
                    f"SELECT count(*), max(bucket), min(bucket) FROM {table.name}"
                ).fetchone()


class _WriteAheadLog:
    """The ``-wal`` file of the store, opened for fsync.

    Syncing the file flushes every frame written to it, whichever connection wrote
    them. SQLite keeps the file while a connection is open, but the inode is checked
    before each sync so that a replaced file is never synced by a stale descriptor.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._inode = -1

    def sync(self) -> None:
        inode = os.stat(self.path).st_ino
        if self._fd is None or inode != self._inode:
            self.close()
            self._fd = os.open(self.path, os.O_RDONLY)
            self._inode = os.fstat(self._fd).st_ino
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
