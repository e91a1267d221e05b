"""The shared database: PostgreSQL behind any number of API processes, on any hosts.

What it adds to the engine's skeleton is how processes keep their in-memory copies
equal (``mirror.py``): each account row carries a version, bumped in every transaction
that writes to the account, last before its change record and COMMIT. The row lock
this takes is held until COMMIT, so transactions on one account commit in version
order (accounts are locked in sorted order, and the rows before them in key order, so
writers never deadlock). Each transaction also records its deltas in
``rollup_change`` under its version, for the other processes to catch up from; they
are kept a few minutes. A group is written set-based (``postgres_group.py``).

Connections come from a pool. Serialization failures and deadlocks are tried again,
and so is a connection lost before COMMIT (on a fresh one); a connection lost during
COMMIT fails the batches (503): the outcome is unknown, and the producer's resend is
deduplicated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from engactivity.store import postgres_group
from engactivity.store.dialect import OnWriteError
from engactivity.store.id_sweep import IdSweep
from engactivity.store.interface import StoreUnavailable
from engactivity.store.schema import SCHEMA_VERSION, UPSERT_META, schema
from engactivity.store.tables import Table

Conn = psycopg.Connection[Any]

POSTGRES_SCHEMA_VERSION = 2
"""Version of the PostgreSQL-only part of the schema (MIGRATIONS below)."""

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        ALTER TABLE account ADD COLUMN IF NOT EXISTS version BIGINT NOT NULL DEFAULT 0;
        CREATE TABLE IF NOT EXISTS rollup_change (
            account_id TEXT        NOT NULL,
            version    BIGINT      NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            deltas     BYTEA       NOT NULL,
            PRIMARY KEY (account_id, version)
        );
        """,
    ),
    (
        2,
        # Event ids are swept in key order (id_sweep.py): one index entry per event, not
        # two. Deltas are compressed with lz4 where the server has it: pglz took
        # PostgreSQL about twice as long for the same size.
        """
        DROP INDEX IF EXISTS seen_event_by_bucket;
        DO $$ BEGIN
            EXECUTE 'ALTER TABLE rollup_change ALTER COLUMN deltas SET COMPRESSION lz4';
        EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
        END $$;
        """,
    ),
]
"""Steps applied in order to a database whose postgres_schema_version is lower."""

ID_COLLATION = 'COLLATE "C" '
"""``seen_event``'s ids compare byte by byte: every event's id is looked up in the
primary key, and under the database's collation (often a language's) each comparison
is a ``strcoll``; equality is the same under both. A database made before keeps its
collation (correct, a little slower)."""

_MIGRATION_LOCK = 0x656E6761_6D696772  # "engamigr": one migrating process at a time
_PURGE_LOCK = 0x656E6761_70757267  # "engapurg": one purging process at a time
_CHANGES_KEPT = "5 minutes"
"""How long deltas are kept for other processes to catch up from."""
_SUSPECT_S = 2.0
_SUSPECT_WAIT_S = 0.25
"""For this long after a connection failed, wait at most this long for a connection."""
_RECONNECT_S = 0.25
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)


def _stored_id(event_id: str) -> str:
    # PostgreSQL text cannot hold NUL, which JSON strings may: escape it (and the
    # escape character, so distinct ids stay distinct).
    if "\0" in event_id or "\\" in event_id:
        return event_id.replace("\\", "\\\\").replace("\0", "\\0")
    return event_id


def _unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"the database is not available: {exc}")


class PostgresDialect:
    name = "postgresql"
    shared = True
    blocking = True
    bytes_type = "BYTEA"
    set_based = True
    stored_id = staticmethod(_stored_id)

    def __init__(self, conninfo: str, pool_size: int = 16, timeout_s: float = 5.0) -> None:
        self._pool = ConnectionPool(
            conninfo,
            min_size=2,
            max_size=max(2, pool_size),
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout_s))},
            timeout=timeout_s,
            # A connection that cannot be made is given up on after a quarter second, so
            # that the next request asks for a new one at once: the pool's own retries back
            # off exponentially, and once the database is back, a request could wait
            # seconds for a retry that was scheduled while it was down.
            reconnect_timeout=_RECONNECT_S,
            name="engactivity",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout_s * 2)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to the database: {exc}") from exc
        self._failed_at = -1e9
        """When a connection last failed (time.monotonic)."""
        self.id_sweep = IdSweep(self.sql)

    # -- connections -----------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Conn]:
        # Right after a failure the database is probably down: answer 503 soon rather
        # than make every request wait the whole timeout for a connection.
        suspect = time.monotonic() - self._failed_at < _SUSPECT_S
        try:
            with self._pool.connection(timeout=_SUSPECT_WAIT_S if suspect else None) as conn:
                yield conn
        except PoolTimeout as exc:
            self._failed_at = time.monotonic()
            raise _unavailable(exc) from exc
        except psycopg.OperationalError:
            self._failed_at = time.monotonic()
            raise

    writing = reading
    writer = reading

    def retry_read(self, exc: BaseException) -> bool:
        if isinstance(exc, psycopg.OperationalError):
            # The server restarted: the other idle connections of the pool are broken
            # too. Replace them all now, not one failed request at a time.
            self._pool.check()
            return True
        return False

    def sql(self, statement: str) -> str:
        # No statement of the store has a '?' or '%' of its own.
        return statement.replace("?", "%s")

    def unavailable(self, exc: BaseException) -> Exception | None:
        if isinstance(exc, psycopg.Error):
            return _unavailable(exc)
        return None

    def begin(self, conn: Conn, snapshot: bool = False) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY" if snapshot else "BEGIN")

    def in_transaction(self, conn: Conn) -> bool:
        return conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def migrate(self, conn: Conn, tables: Sequence[Table]) -> int:
        """Create or upgrade the schema; safe from many processes at once."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            ddl = schema(tables, self.bytes_type, ID_COLLATION)
            conn.execute(ddl.replace(") WITHOUT ROWID;", ");"))
            found: dict[str, str] = dict(
                conn.execute(
                    "SELECT key, value FROM meta WHERE key IN "
                    "('schema_version', 'postgres_schema_version')"
                ).fetchall()
            )
            shared = int(found.get("schema_version", 0))
            current = int(found.get("postgres_schema_version", 0))
            if shared > SCHEMA_VERSION or current > POSTGRES_SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"the database has schema {shared}/{current}, newer than this "
                    f"engactivity's {SCHEMA_VERSION}/{POSTGRES_SCHEMA_VERSION}: upgrade it"
                )
            for version, step in MIGRATIONS:
                if version > current:
                    conn.execute(step)
            conn.execute(self.sql(UPSERT_META), ("schema_version", str(SCHEMA_VERSION)))
            conn.execute(
                self.sql(UPSERT_META), ("postgres_schema_version", str(POSTGRES_SCHEMA_VERSION))
            )
        return POSTGRES_SCHEMA_VERSION

    def ensure(self, conn: Conn, ddl: str) -> None:
        with conn.transaction():
            # Concurrent CREATE ... IF NOT EXISTS of one table can fail; serialize them.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(ddl)

    def close(self) -> None:
        self._pool.close()

    # -- writing ---------------------------------------------------------------------------

    def stored_ids(self, conn: Conn, account_id: str, event_ids: list[str]) -> set[str]:
        rows = conn.execute(
            "SELECT event_id FROM seen_event WHERE account_id = %s AND event_id = ANY(%s)",
            (account_id, event_ids),
        ).fetchall()
        return {row[0] for row in rows}

    def claim_accounts(self, conn: Conn, accounts: list[str]) -> dict[str, int]:
        return postgres_group.claim_accounts(conn, accounts)

    def record_changes(self, conn: Conn, changes: list[tuple[str, int, bytes]]) -> None:
        postgres_group.record_changes(conn, changes)

    def insert_ids(
        self, conn: Conn, accounts: list[str], ids: list[str], buckets: list[int], returning: bool
    ) -> int | set[tuple[str, str]]:
        return postgres_group.insert_ids(conn, accounts, ids, buckets, returning)

    def upsert_rows(self, conn: Conn, table: Table, rows: list[tuple[Any, ...]]) -> None:
        postgres_group.upsert(conn, table, rows)

    def on_write_error(self, exc: Exception, conn: Conn | None, committing: bool) -> OnWriteError:
        if isinstance(exc, _RETRYABLE):
            return OnWriteError.RETRY
        broken = conn is not None and conn.broken
        if isinstance(exc, psycopg.OperationalError) and broken and not committing:
            # Lost before COMMIT was sent: nothing was stored, so trying again on a
            # fresh connection is safe. During COMMIT the outcome is unknown.
            self._pool.check()
            return OnWriteError.RECONNECT
        return OnWriteError.FAIL

    def sync(self) -> None:
        pass  # durable at COMMIT

    # -- noticing other processes' writes ------------------------------------------------

    def changed_elsewhere(self, conn: Conn) -> bool:
        return False  # versions tell, account by account

    def account_version(self, conn: Conn, account_id: str) -> int:
        row = conn.execute(
            "SELECT version FROM account WHERE account_id = %s", (account_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def changes(self, conn: Conn, account_id: str, after: int, upto: int) -> list[bytes] | None:
        rows = conn.execute(
            "SELECT deltas FROM rollup_change WHERE account_id = %s AND version > %s "
            "AND version <= %s ORDER BY version",
            (account_id, after, upto),
        ).fetchall()
        if len(rows) != upto - after:
            return None
        return [bytes(row[0]) for row in rows]

    # -- retention -------------------------------------------------------------------------

    @contextmanager
    def purge_turn(self, conn: Conn, wait: bool) -> Iterator[bool]:
        lock = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        row = conn.execute(f"SELECT {lock}(%s)", (_PURGE_LOCK,)).fetchone()
        mine = wait or bool(row and row[0])
        try:
            yield mine
        finally:
            if mine:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_PURGE_LOCK,))

    def purge_ids(self, conn: Conn, account_id: str, cutoff: int, eager: bool) -> tuple[int, bool]:
        return self.id_sweep.step(conn, account_id, cutoff, eager)

    def purge_changes(self, conn: Conn) -> None:
        # Every account's at once: a few minutes of groups, read in one scan.
        kept = f"now() - interval '{_CHANGES_KEPT}'"
        conn.execute(f"DELETE FROM rollup_change WHERE created_at < {kept}")

    def stream(
        self, conn: Conn, statement: str, params: Sequence[Any], chunk: int
    ) -> Iterator[list[tuple[Any, ...]]]:
        # A server-side cursor: a client-side one receives the whole result into
        # libpq's memory first (hundreds of MiB for a large account), and the freed
        # heap stays with the process (docs/design.md, "Memory bounded per process").
        with conn.cursor(name="engactivity_load") as cursor:
            cursor.itersize = chunk
            cursor.execute(statement, params)
            while rows := cursor.fetchmany(chunk):
                yield rows

    def count_rows(self, conn: Conn, tables: Sequence[Table]) -> Iterator[Any]:
        return iter(())  # a count of a large table is not cheap here
